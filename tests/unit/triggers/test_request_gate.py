"""The shared session's gate: at most ``max_connections`` requests in flight, each signed on leaving it.

Issue 11 item 13: a request used to be signed *before* it queued for a connection, so under load
its timestamp aged toward the server's 600 s skew window while it waited, and every wait failed
together with a misleading "fix your clock" hint. Now a request waits on the gate unsigned and
is signed once it holds a slot; these tests prove both halves against a real local server.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any

import pytest

from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials
from xportcn_provider.hooks.xportcn import XportcnHook

from .._http_script import Answer, Seen, script_server
from ._fake import FakeXportcn, envelope, md5_signature, status

CREDENTIALS = Credentials("key", "secret-value", "1")


async def test_a_gated_client_never_has_more_requests_in_flight_than_the_gate() -> None:
    seen = {"in_flight": 0, "peak": 0}

    async def slow(request: Seen) -> Answer:
        seen["in_flight"] += 1
        seen["peak"] = max(seen["peak"], seen["in_flight"])
        await asyncio.sleep(0.01)
        seen["in_flight"] -= 1
        return Answer(200, json.dumps({"code": 200, "msg": "ok", "requestId": "r", "data": {"status": "x"}}))

    with script_server(slow) as server:
        client = AsyncXportcnClient(
            CREDENTIALS, ClientSettings(base_url=server.base_url + "/api"), gate=asyncio.Semaphore(3)
        )
        try:
            await asyncio.gather(*(client.call("refund_detail", {"refundId": f"TQ{i}"}) for i in range(60)))
        finally:
            await client.aclose()
        assert len(server.requests) == 60
        assert seen["peak"] == 3
        assert server.connections <= 3  # the gate matches the pool: no socket beyond it


class SteppedClock:
    """A signing clock (epoch seconds as text) that the test moves forward by hand."""

    def __init__(self, now: int = 1_775_221_032) -> None:
        self.now = now
        self.reads: list[int] = []

    def __call__(self) -> str:
        self.reads.append(self.now)
        return str(self.now)


async def test_a_request_that_queued_is_signed_when_it_leaves_the_queue() -> None:
    """Ten calls on one slot; the clock jumps 700 s (past the 600 s window) while nine of them wait.

    Each request must carry the time at which it was *sent*: the first one the old time, every
    queued one the new time, with a signature that matches that timestamp. Signed at call time
    (the old behaviour) all ten would carry the old time and a real server would refuse nine.
    """
    clock = SteppedClock()
    first_arrived, release_first = threading.Event(), threading.Event()

    async def answer(request: Seen) -> Answer:  # runs in the server's own thread and loop
        if not first_arrived.is_set():
            first_arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, release_first.wait, 10)
        return Answer(200, envelope(data=status("waitselleragree")))

    with script_server(answer) as server:
        client = AsyncXportcnClient(
            CREDENTIALS,
            ClientSettings(base_url=server.base_url + "/api", max_connections=1),
            clock=clock,
        )
        try:
            calls = [
                asyncio.ensure_future(client.call("refund_detail", {"refundId": "TQ1"})) for _ in range(10)
            ]
            assert await asyncio.to_thread(first_arrived.wait, 5)
            await asyncio.sleep(0.05)  # the other nine reach the gate
            assert clock.reads == [1_775_221_032]  # nine calls queued, none of them signed yet
            clock.now += 700
            release_first.set()
            await asyncio.wait_for(asyncio.gather(*calls), 10)
        finally:
            await client.aclose()
        stamps = [int(r.headers["timestamp"]) for r in server.requests]
        assert stamps == [1_775_221_032] + [1_775_221_732] * 9
        for request in server.requests:
            headers = request.headers
            assert headers["signature"] == md5_signature(
                "key", headers["timestamp"], headers["nonce-str"], "secret-value"
            )


async def test_the_shared_session_comes_with_a_gate_sized_to_the_connection(
    xportcn_conn: str, monkeypatch: pytest.MonkeyPatch, fake_server: FakeXportcn
) -> None:
    doc: dict[str, Any] = json.loads(os.environ["AIRFLOW_CONN_XPORTCN_DEFAULT"])
    extra = json.loads(doc["extra"]) if isinstance(doc["extra"], str) else doc["extra"]
    doc["extra"] = json.dumps({**extra, "max_connections": 4})
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", json.dumps(doc))
    hook = XportcnHook(xportcn_conn_id=xportcn_conn)
    async with (
        hook.async_client() as client,
        XportcnHook(xportcn_conn_id=xportcn_conn).async_client() as other,
    ):
        assert client.gate is other.gate  # one gate per shared session, not per trigger
        assert client.session is other.session
        assert client.session.connector is not None and client.session.connector.limit == 4
        for _ in range(4):
            await client.gate.acquire()
        assert client.gate.locked()  # the fifth request waits, unsigned, outside aiohttp
        for _ in range(4):
            client.gate.release()
