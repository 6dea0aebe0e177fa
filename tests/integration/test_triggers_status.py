"""XportcnStatusTrigger against the sandbox over real HTTP: each event kind, fault tolerance,
a triggerer restart, and 200 triggers in one loop sharing one pooled client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from xportcn_provider.api.client import XportcnClient
from xportcn_provider.api.waits import WaitSpec, order_wait, refund_wait
from xportcn_provider.hooks import async_client
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.triggers.status import XportcnStatusTrigger

from .conftest import make_client

FAST_CONN = "xportcn_fast"


def set_conn(
    monkeypatch: pytest.MonkeyPatch,
    handle: SandboxHandle,
    conn_id: str,
    *,
    secret: str | None = None,
    **extra: Any,
) -> str:
    """A sandbox connection under ``conn_id`` with extra settings (e.g. ``max_retries=0``)."""
    doc = json.loads(handle.conn_json)
    doc["extra"].update(extra)
    if secret is not None:
        doc["password"] = secret
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(doc))
    return conn_id


@pytest.fixture
def fast_conn(xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    """No in-client retries and a short timeout: every poll is exactly one request."""
    return set_conn(monkeypatch, xportcn_default_conn, FAST_CONN, max_retries=0, timeout=2)


@pytest.fixture
def api(xportcn_sandbox: SandboxHandle) -> Iterator[XportcnClient]:
    client = make_client(xportcn_sandbox)
    yield client
    client.close()


def new_refund(handle: SandboxHandle, api: XportcnClient) -> str:
    """A refund-only request on a paid, not yet shipped order; it starts at ``waitselleragree``."""
    [order_id] = handle.control.seed_orders(1, status="waitsellersend")
    entry = api.call("order_detail", {"orderId": order_id})["productItems"][0]
    return str(
        api.call(
            "refund_create",
            {
                "orderId": order_id,
                "orderEntryIds": [entry["subItemID"]],
                "disputeRequest": "refund",
                "applyPayment": entry["itemAmount"],
                "goodsStatus": "not_received",
                "description": "trigger test",
            },
        )["refundId"]
    )


def trigger_for(spec: WaitSpec, conn_id: str = "xportcn_default", **kwargs: Any) -> XportcnStatusTrigger:
    kwargs.setdefault("poll_interval", 0.2)
    return XportcnStatusTrigger(wait=spec.to_dict(), conn_id=conn_id, **kwargs)


async def events_of(trigger: XportcnStatusTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def polls(handle: SandboxHandle, endpoint: str = "refund_detail") -> int:
    return len(handle.control.calls(endpoint))


# --- the four event kinds ------------------------------------------------------------------------


async def test_success(xportcn_default_conn: SandboxHandle, api: XportcnClient) -> None:
    handle = xportcn_default_conn
    handle.control.configure(refund_agree_delay=0.6)
    refund_id = new_refund(handle, api)
    [event] = await events_of(trigger_for(refund_wait(refund_id), deadline=time.time() + 20))
    assert event["status"] == "success" and event["value"] == "refundsuccess"
    assert event["record"]["refundId"] == refund_id and event["record"]["status"] == "refundsuccess"
    assert event["ids"] == {"refund_id": refund_id}
    assert polls(handle) >= 2  # it waited through waitselleragree first


async def test_failure(xportcn_default_conn: SandboxHandle, api: XportcnClient) -> None:
    handle = xportcn_default_conn
    handle.control.configure(refund_agree_delay=0.5)
    refund_id = new_refund(handle, api)
    handle.control.set_refund_outcome(refund_id, "refuse")  # -> waitbuyermodify
    spec = refund_wait(refund_id, failure_statuses=["refundclose", "waitbuyermodify"])
    [event] = await events_of(trigger_for(spec, deadline=time.time() + 20))
    assert event["status"] == "failure" and event["value"] == "waitbuyermodify"
    assert refund_id in event["message"] and "waitbuyermodify" in event["message"]


async def test_terminal_order_status_is_a_failure(xportcn_default_conn: SandboxHandle) -> None:
    handle = xportcn_default_conn
    [order_id] = handle.control.seed_orders(1, status="waitsellersend", hold=True)
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, lambda: handle.control.force("order", order_id, "cancel", hold=True))
    [event] = await events_of(trigger_for(order_wait(order_id), deadline=time.time() + 20))
    assert (event["status"], event["value"]) == ("failure", "cancel")
    assert event["ids"] == {"order_id": order_id}


async def test_timeout(xportcn_default_conn: SandboxHandle, api: XportcnClient) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    started = time.time()
    [event] = await events_of(trigger_for(refund_wait(refund_id), deadline=started + 0.8))
    assert event["status"] == "timeout" and event["value"] == "waitselleragree"
    assert refund_id in event["message"] and "waitselleragree" in event["message"]
    assert 0.8 <= time.time() - started < 3


async def test_error_on_auth_failure(
    xportcn_default_conn: SandboxHandle, api: XportcnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = xportcn_default_conn
    refund_id = new_refund(handle, api)
    conn_id = set_conn(monkeypatch, handle, "xportcn_wrong", secret="Not-The-Secret-42")
    [event] = await events_of(trigger_for(refund_wait(refund_id), conn_id=conn_id))
    assert event["status"] == "error"
    assert "XportcnAuthError" in event["message"] and "requestId=" in event["message"]
    assert "Not-The-Secret-42" not in event["message"]
    assert polls(handle) == 1  # not retried, not tolerated


async def test_error_after_too_many_transient_errors(
    xportcn_default_conn: SandboxHandle, api: XportcnClient, fast_conn: str
) -> None:
    handle = xportcn_default_conn
    refund_id = new_refund(handle, api)
    handle.control.inject("http_503", endpoint="refund_detail", count=10)
    [event] = await events_of(
        trigger_for(refund_wait(refund_id), conn_id=fast_conn, poll_interval=0.05, max_consecutive_errors=3)
    )
    assert event["status"] == "error" and "3 consecutive" in event["message"]
    assert polls(handle) == 3


@pytest.mark.parametrize(
    "kind", ["http_500", "http_502", "http_503", "http_429", "drop", "html", "truncated_json"]
)
async def test_transient_faults_are_tolerated(
    kind: str, xportcn_default_conn: SandboxHandle, api: XportcnClient, fast_conn: str
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(refund_agree_delay=0.2)
    refund_id = new_refund(handle, api)
    params = {"retry_after": 0} if kind == "http_429" else {}
    handle.control.inject(kind, endpoint="refund_detail", count=2, **params)
    [event] = await events_of(
        trigger_for(refund_wait(refund_id), conn_id=fast_conn, poll_interval=0.1, max_consecutive_errors=3)
    )
    assert event["status"] == "success", event["message"]
    faults = [c["fault"] for c in handle.control.calls("refund_detail")]
    assert [f for f in faults if f][:2] and len([f for f in faults if f]) == 2


async def test_in_client_retries_absorb_faults_before_the_trigger_sees_them(
    xportcn_default_conn: SandboxHandle, api: XportcnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(refund_agree_delay=0.1)
    refund_id = new_refund(handle, api)
    conn_id = set_conn(monkeypatch, handle, "xportcn_retrying", max_retries=2)
    handle.control.inject("http_502", endpoint="refund_detail", count=2)
    [event] = await events_of(
        trigger_for(refund_wait(refund_id), conn_id=conn_id, poll_interval=0.1, max_consecutive_errors=1)
    )
    assert event["status"] == "success"  # a bound of 1 would end at the first error the trigger saw


async def test_missing_connection_is_an_error_event(xportcn_sandbox: SandboxHandle) -> None:
    [event] = await events_of(trigger_for(refund_wait("TQ1"), conn_id="no_such_conn"))
    assert event["status"] == "error" and "no_such_conn" in event["message"]


# --- triggerer restart -----------------------------------------------------------------------------


async def test_restart_rebuild_from_serialize_and_finish(
    xportcn_default_conn: SandboxHandle, api: XportcnClient
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    first = trigger_for(refund_wait(refund_id), poll_interval=0.1, deadline=time.time() + 30)
    task = asyncio.ensure_future(events_of(first))
    while polls(handle) < 2:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert async_client.pool_stats()["users"] == 0

    classpath, kwargs = first.serialize()
    assert classpath == "xportcn_provider.triggers.status.XportcnStatusTrigger"
    rebuilt = XportcnStatusTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.deadline == first.deadline  # the clock did not restart
    handle.control.force("refund", refund_id, "refundsuccess")
    [event] = await events_of(rebuilt)
    assert event["status"] == "success" and event["record"]["refundId"] == refund_id


# --- many triggers, one pooled client ----------------------------------------------------------------


async def test_200_triggers_share_one_pooled_client(xportcn_default_conn: SandboxHandle) -> None:
    handle = xportcn_default_conn
    # long enough for >= 2 polls each, even on a loaded machine
    handle.control.configure(order_ship_delay=3)
    order_ids = handle.control.seed_orders(200, status="waitsellersend", hold=False, step_seconds=0)
    before = handle.control.stats()
    deadline = time.time() + 60
    triggers = [trigger_for(order_wait(oid), poll_interval=0.3, deadline=deadline) for oid in order_ids]

    async def watch_pool() -> int:
        peak = 0
        while True:
            peak = max(peak, async_client.pool_stats()["clients"])
            await asyncio.sleep(0.05)
            if peak and async_client.pool_stats()["clients"] == 0:
                return peak

    watcher = asyncio.ensure_future(watch_pool())
    results = await asyncio.gather(*(events_of(t) for t in triggers))
    peak_clients = await asyncio.wait_for(watcher, 5)

    assert [r[0]["status"] for r in results] == ["success"] * 200
    assert {r[0]["ids"]["order_id"] for r in results} == set(order_ids)
    stats = handle.control.stats()
    assert stats["connections"] - before["connections"] <= 20, stats
    assert stats["requests"] - before["requests"] >= 400  # every trigger waited (>= 2 polls each)
    assert peak_clients == 1
    assert async_client.pool_stats() == {"clients": 0, "users": 0}
