"""The triggers' shared aiohttp session against the sandbox: bounded sockets, clean shutdown.

Issue 16: one ``aiohttp.ClientSession`` per (connection, event loop), its connector bounded by the
connection's ``extra.max_connections``, closed when the last borrower leaves or its loop is gone,
and never an "Unclosed client session" / "Unclosed connector" warning (aiohttp reports those both
as a ``ResourceWarning`` and through the loop's exception handler, i.e. the ``asyncio`` logger).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from xportcn_provider.api.client import ClientSettings
from xportcn_provider.api.waits import order_wait
from xportcn_provider.hooks import async_client
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.triggers.status import XportcnStatusTrigger

CONN_ID = "xportcn_pooled"


def set_conn(monkeypatch: pytest.MonkeyPatch, handle: SandboxHandle, **extra: Any) -> str:
    doc = json.loads(handle.conn_json)
    doc["extra"].update(extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(doc))
    return CONN_ID


def trigger(order_id: str, poll_interval: float = 0.2) -> XportcnStatusTrigger:
    return XportcnStatusTrigger(
        wait=order_wait(order_id).to_dict(),
        conn_id=CONN_ID,
        poll_interval=poll_interval,
        deadline=time.time() + 60,
    )


async def events_of(t: XportcnStatusTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in t.run()]


@contextlib.contextmanager
def no_unclosed_reports(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail if anything reports "Unclosed ..." inside the block, as a warning or an asyncio log line.

    Entered inside the test body (pytest records warnings per phase), and garbage is collected
    before the check, since aiohttp only notices an unclosed session when it is finalised.
    """
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR, logger="asyncio"):
        warnings.simplefilter("always")
        yield
        gc.collect()
    reports = [str(w.message) for w in caught if "Unclosed" in str(w.message)]
    reports += [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    assert reports == []


def test_many_waits_use_at_most_max_connections_and_close_cleanly(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    handle = xportcn_default_conn
    set_conn(monkeypatch, handle, max_connections=3, max_retries=0)
    order_ids = handle.control.seed_orders(120, status="waitsellersend", hold=True)
    before = handle.control.stats()

    async def run_all() -> list[list[dict[str, Any]]]:
        waits = asyncio.gather(*(events_of(trigger(oid)) for oid in order_ids))
        # every wait polls at least twice before its order ships (the waits overlap on the pool)
        while (await asyncio.to_thread(handle.control.stats))["requests"] - before["requests"] < 240:
            await asyncio.sleep(0.1)
        for oid in order_ids:
            await asyncio.to_thread(handle.control.force, "order", oid, "waitbuyerreceive")
        return await waits

    with no_unclosed_reports(caplog):
        results = asyncio.run(run_all())  # a loop of its own, closed at the end, like dag.test()
    assert [r[0]["status"] for r in results] == ["success"] * 120
    stats = handle.control.stats()
    assert stats["connections"] - before["connections"] <= 3, stats
    assert async_client.pool_stats() == {"clients": 0, "users": 0}


def test_cancelled_waits_close_the_session_without_warnings(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A triggerer cancelling its triggers (a stop, a reassignment) leaves no open session behind."""
    handle = xportcn_default_conn
    set_conn(monkeypatch, handle)
    order_ids = handle.control.seed_orders(20, status="waitsellersend", hold=True)

    async def start_then_cancel() -> None:
        tasks = [asyncio.ensure_future(events_of(trigger(oid, poll_interval=0.05))) for oid in order_ids]
        while handle.control.stats()["requests"] < 40:
            await asyncio.sleep(0.05)
        assert async_client.pool_stats() == {"clients": 1, "users": 20}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert async_client.pool_stats() == {"clients": 0, "users": 0}

    with no_unclosed_reports(caplog):
        asyncio.run(start_then_cancel())


def test_a_session_whose_loop_closed_with_borrowers_is_dropped_without_warnings(
    xportcn_default_conn: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """A loop closed while a borrower still held its session (it never ran its ``finally``)."""
    settings = ClientSettings(base_url=xportcn_default_conn.url)
    dead_loop = asyncio.new_event_loop()

    async def borrow_and_keep() -> async_client.SharedSession:
        shared = async_client.SharedSession(
            async_client._new_session(settings), asyncio.Semaphore(2), 2, users=1
        )
        async_client._loop_pool(asyncio.get_running_loop())["kept"] = shared
        async with shared.session.get(xportcn_default_conn.base_url + "/_sandbox/health") as response:
            await response.read()  # a pooled keep-alive socket now belongs to the session
        return shared

    async def borrow_elsewhere(old: Any) -> None:
        async with async_client.shared_session("other", settings) as shared:
            assert shared.session is not old

    with no_unclosed_reports(caplog):
        kept = dead_loop.run_until_complete(borrow_and_keep()).session
        dead_loop.close()
        asyncio.run(borrow_elsewhere(kept))
        assert kept.closed  # detached when the next borrow found its loop closed
        del kept  # finalised now: an unclosed session would be reported

    assert async_client.pool_stats() == {"clients": 0, "users": 0}
