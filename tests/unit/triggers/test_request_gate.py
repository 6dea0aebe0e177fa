"""The shared client's gate: at most ``max_connections`` requests inside httpx at once.

Without it, httpcore's pool rescans every queued request on every release (quadratic CPU with
hundreds of triggers); ``bench/wait_scale.py`` measures the effect, this proves the bound.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials
from xportcn_provider.hooks import async_client
from xportcn_provider.hooks.xportcn import XportcnHook


def _slow_envelope_server() -> tuple[httpx.MockTransport, dict[str, int]]:
    seen = {"in_flight": 0, "peak": 0, "requests": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        seen["in_flight"] += 1
        seen["requests"] += 1
        seen["peak"] = max(seen["peak"], seen["in_flight"])
        await asyncio.sleep(0.01)
        seen["in_flight"] -= 1
        body = {"code": 200, "msg": "ok", "requestId": "r", "data": {"status": "waitselleragree"}}
        return httpx.Response(200, content=json.dumps(body).encode())

    return httpx.MockTransport(handler), seen


async def test_a_gated_client_never_has_more_requests_in_flight_than_the_gate() -> None:
    transport, seen = _slow_envelope_server()
    async with httpx.AsyncClient(transport=transport) as http:
        client = AsyncXportcnClient(
            Credentials("key", "secret-value", "1"),
            ClientSettings(base_url="http://xportcn.test/api"),
            client=http,
            gate=asyncio.Semaphore(3),
        )
        await asyncio.gather(*(client.call("refund_detail", {"refundId": f"TQ{i}"}) for i in range(60)))
    assert seen["requests"] == 60
    assert seen["peak"] == 3


async def test_the_shared_client_comes_with_a_gate_sized_to_its_pool(
    xportcn_conn: str, monkeypatch, fake_server
) -> None:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    monkeypatch.setattr(async_client, "DEFAULT_LIMITS", limits)
    async with XportcnHook(xportcn_conn_id=xportcn_conn).async_client() as client:
        assert client.gate is not None
        assert client.gate is async_client.request_gate(client.client)
        for _ in range(4):
            await client.gate.acquire()
        assert client.gate.locked()  # the fifth request would wait outside httpx
        for _ in range(4):
            client.gate.release()
