"""The triggers read a connection once per loop and minute, not once per trigger.

In a triggerer every ``aget_connection`` is a round trip to the supervisor process; a thousand
waits starting together used to make a thousand of them (``bench/wait_scale.py`` measured the
connection read as the largest cost of starting a wait).
"""

from __future__ import annotations

import asyncio

import pytest

from xportcn_provider.hooks import async_client
from xportcn_provider.hooks.xportcn import XportcnHook

from ._fake import FakeXportcn


async def test_concurrent_callers_share_one_read() -> None:
    reads = 0

    async def read() -> str:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return f"config-{reads}"

    values = await asyncio.gather(*(async_client.connection_config("c1", read) for _ in range(50)))
    assert values == ["config-1"] * 50
    assert reads == 1
    assert await async_client.connection_config("c1", read) == "config-1"  # still fresh
    assert await async_client.connection_config("c2", read) == "config-2"  # another connection


async def test_a_failed_read_is_not_kept() -> None:
    attempts = 0

    async def read() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise LookupError("connection 'c' not found")
        return "config"

    with pytest.raises(LookupError):
        await async_client.connection_config("c", read)
    assert await async_client.connection_config("c", read) == "config"
    assert attempts == 2


async def test_a_cancelled_waiter_does_not_cancel_the_read_of_the_others() -> None:
    started = asyncio.Event()

    async def read() -> str:
        started.set()
        await asyncio.sleep(0.05)
        return "config"

    first = asyncio.ensure_future(async_client.connection_config("c", read))
    await started.wait()
    second = asyncio.ensure_future(async_client.connection_config("c", read))
    third = asyncio.ensure_future(async_client.connection_config("c", read))
    await asyncio.sleep(0)
    second.cancel()
    assert await first == "config" and await third == "config"
    assert second.cancelled()


async def test_an_old_read_is_refreshed_after_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(async_client.time, "monotonic", lambda: now[0])
    reads = iter(["old", "new"])

    async def read() -> str:
        return next(reads)

    assert await async_client.connection_config("c", read) == "old"
    now[0] += async_client.CONFIG_TTL - 1
    assert await async_client.connection_config("c", read) == "old"
    now[0] += 2
    assert await async_client.connection_config("c", read) == "new"


async def test_hooks_of_one_loop_read_the_connection_once(
    xportcn_conn: str, fake_server: FakeXportcn, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = 0
    real = XportcnHook._aread_connection

    async def counting(self: XportcnHook) -> object:
        nonlocal reads
        reads += 1
        return await real(self)

    monkeypatch.setattr(XportcnHook, "_aread_connection", counting)
    hooks = [XportcnHook(xportcn_conn_id=xportcn_conn, timeout=7 if i % 2 else None) for i in range(20)]
    configs = await asyncio.gather(*(hook.aget_config() for hook in hooks))
    assert reads == 1
    # a hook's own overrides still apply on top of the shared read
    assert {c.settings.timeout for c in configs} == {5.0, 7.0}
    assert all(c.credentials == configs[0].credentials for c in configs)
