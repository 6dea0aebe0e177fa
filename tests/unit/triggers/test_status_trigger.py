"""XportcnStatusTrigger against a scripted fake server on 127.0.0.1 (real HTTP, aiohttp): no DB."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.waits import WaitSpec, order_wait, refund_wait
from xportcn_provider.hooks import async_client
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.triggers import status as trigger_module
from xportcn_provider.triggers.status import XportcnStatusTrigger

from .._http_script import DROP, Answer, Seen
from ._fake import (
    ACCESS_KEY,
    USER_ID,
    FakeXportcn,
    envelope,
    error_reply,
    lower_headers,
    md5_signature,
    status,
)

CLASSPATH = "xportcn_provider.triggers.status.XportcnStatusTrigger"


def make_trigger(**kwargs: Any) -> XportcnStatusTrigger:
    kwargs.setdefault("wait", refund_wait("TQ1").to_dict())
    kwargs.setdefault("poll_interval", 0.01)
    return XportcnStatusTrigger(**kwargs)


async def all_events(trigger: XportcnStatusTrigger) -> list[dict[str, Any]]:
    """Drain the generator completely: proves the trigger yields exactly one event and stops."""
    return [event.payload async for event in trigger.run()]


# --- construction and serialisation ------------------------------------------------------------


def test_serialize_round_trips_through_json() -> None:
    trigger = make_trigger(
        conn_id="other",
        poll_interval=2.5,
        deadline=1_900_000_000.5,
        exponential_backoff=True,
        max_poll_interval=30,
        max_consecutive_errors=3,
        consecutive_errors=1,
    )
    path, kwargs = trigger.serialize()
    assert path == CLASSPATH
    assert kwargs == {
        "wait": refund_wait("TQ1").to_dict(),
        "conn_id": "other",
        "poll_interval": 2.5,
        "deadline": 1_900_000_000.5,
        "exponential_backoff": True,
        "max_poll_interval": 30.0,
        "max_consecutive_errors": 3,
        "consecutive_errors": 1,
    }
    rebuilt = XportcnStatusTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (path, kwargs)
    assert rebuilt.spec == trigger.spec


@pytest.mark.parametrize("endpoint", ["refund_create", "refund_cancel", "order_create", "order_pay"])
def test_trigger_cannot_be_built_for_a_write_endpoint(endpoint: str) -> None:
    wait = {**refund_wait("TQ1").to_dict(), "endpoint": endpoint}
    with pytest.raises(XportcnValidationError, match="read-only") as info:
        XportcnStatusTrigger(wait=wait)
    assert info.value.parameter == "endpoint"


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"max_poll_interval": 0}, "max_poll_interval"),
        ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
        ({"consecutive_errors": -1}, "consecutive_errors"),
        ({"consecutive_errors": 5, "max_consecutive_errors": 5}, "consecutive_errors"),
        ({"deadline": "tomorrow"}, "deadline"),
        ({"conn_id": ""}, "conn_id"),
        ({"wait": "refund"}, "wait"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(XportcnValidationError) as info:
        make_trigger(**kwargs)
    assert info.value.parameter == parameter


# --- the four event kinds ------------------------------------------------------------------------


async def test_success_after_waiting_polls_is_one_event_with_the_record(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("waitselleragree"), status("WAIT_SELLER_RECEIVE"), status("refundsuccess"))
    events = await all_events(make_trigger())
    assert events == [
        {
            "status": "success",
            "value": "refundsuccess",
            "record": status("refundsuccess"),
            "message": "Xportcn refund status (refund_id=TQ1) reached refundsuccess.",
            "ids": {"refund_id": "TQ1"},
            "wait": "refund status (refund_id=TQ1)",
        }
    ]
    assert len(fake_server.requests) == 3
    request = fake_server.requests[0]
    assert request.method == "POST"
    assert request.path.endswith("/alibaba/ka/refund/detail")
    assert request.json() == {"refundId": "TQ1"}


async def test_requests_are_signed_like_the_sync_client(
    xportcn_conn: str, fake_server: FakeXportcn, secret: str
) -> None:
    fake_server.then(status("refundsuccess"))
    await all_events(make_trigger())
    headers = lower_headers(fake_server.requests[0].headers)
    assert headers["access-key"] == ACCESS_KEY
    assert headers["user-id"] == USER_ID
    expected = md5_signature(ACCESS_KEY, headers["timestamp"], headers["nonce-str"], secret)
    assert headers["signature"] == expected
    assert secret not in str(fake_server.requests[0].headers)


async def test_failure_status_yields_failure_with_status_and_ids(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("waitselleragree"), status("REFUND_CLOSED"))
    [event] = await all_events(make_trigger())
    assert event["status"] == "failure"
    assert event["value"] == "refundclose"
    assert event["ids"] == {"refund_id": "TQ1"}
    assert "refundclose" in event["message"] and "refund_id=TQ1" in event["message"]
    assert event["record"] == status("REFUND_CLOSED")


async def test_terminal_status_outside_the_targets_is_a_failure(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    # Waiting for "shipped" on an order that got cancelled: no target can follow.
    fake_server.then({"orderId": "1", "status": "CANCEL"})
    [event] = await all_events(make_trigger(wait=order_wait("1").to_dict()))
    assert (event["status"], event["value"]) == ("failure", "cancel")


async def test_timeout_at_the_absolute_deadline_reports_the_last_status(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("waitbuyersend"))
    # The connection is read before the clock starts (it is shared by the loop's triggers for a
    # minute), so the timed window holds polls only, not Airflow's connection lookup.
    await XportcnHook(xportcn_conn_id=xportcn_conn).aget_config()
    started = time.time()
    [event] = await all_events(make_trigger(poll_interval=0.1, deadline=started + 0.35))
    elapsed = time.time() - started
    assert event["status"] == "timeout"
    assert event["value"] == "waitbuyersend"
    assert event["record"] == status("waitbuyersend")
    assert "refund_id=TQ1" in event["message"] and "waitbuyersend" in event["message"]
    # Polls at 0, .1, .2, .3 and a last one exactly at the deadline, never sleeping past it (a
    # loaded machine may fit one poll fewer in the window, never one more).
    assert 0.35 <= elapsed < 0.7
    assert len(fake_server.requests) in (4, 5)


async def test_deadline_already_past_polls_once_then_times_out(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("waitselleragree"))
    [event] = await all_events(make_trigger(deadline=time.time() - 5))
    assert event["status"] == "timeout"
    assert len(fake_server.requests) == 1


async def test_a_target_reached_on_the_last_poll_wins_over_the_deadline(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("refundsuccess"))
    [event] = await all_events(make_trigger(deadline=time.time() - 5))
    assert event["status"] == "success"


async def test_auth_error_ends_at_once_with_an_error_event(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(error_reply(401, "signature invalid"))
    [event] = await all_events(make_trigger(max_consecutive_errors=5))
    assert event["status"] == "error"
    assert "XportcnAuthError" in event["message"] and "requestId=req-err" in event["message"]
    assert event["ids"] == {"refund_id": "TQ1"}
    assert len(fake_server.requests) == 1


async def test_not_found_is_not_tolerated(xportcn_conn: str, fake_server: FakeXportcn) -> None:
    fake_server.then(error_reply(404, "refund not found"))
    [event] = await all_events(make_trigger())
    assert event["status"] == "error" and "XportcnNotFoundError" in event["message"]


async def test_transient_errors_are_tolerated_and_the_count_resets(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    # Two errors, a good answer, two more errors, success: never 3 in a row.
    fake_server.then(
        Answer(503, "busy"),
        Answer(429, "slow down"),
        status("waitselleragree"),
        Answer(502, "<html>bad gateway</html>"),
        Answer(200, "<html>maintenance</html>"),
        status("refundsuccess"),
    )
    [event] = await all_events(make_trigger(max_consecutive_errors=3))
    assert event["status"] == "success"
    assert len(fake_server.requests) == 6


async def test_too_many_consecutive_transient_errors_yield_error(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("waitselleragree"), Answer(503, "busy"))
    [event] = await all_events(make_trigger(max_consecutive_errors=3))
    assert event["status"] == "error"
    assert "3 consecutive" in event["message"]
    assert event["value"] == "waitselleragree"  # the last status seen is kept
    assert len(fake_server.requests) == 4


async def test_errors_seen_before_deferring_count_towards_the_bound(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(Answer(503, "busy"), status("refundsuccess"))
    [event] = await all_events(make_trigger(max_consecutive_errors=3, consecutive_errors=2))
    assert event["status"] == "error" and "3 consecutive" in event["message"]
    assert len(fake_server.requests) == 1


async def test_connection_errors_count_as_transient(xportcn_conn: str, fake_server: FakeXportcn) -> None:
    fake_server.then(DROP, status("refundsuccess"))
    [event] = await all_events(make_trigger())
    assert event["status"] == "success"


async def test_missing_connection_is_an_error_event(
    monkeypatch: pytest.MonkeyPatch, fake_server: FakeXportcn
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOPE", raising=False)
    [event] = await all_events(make_trigger(conn_id="nope"))
    assert event["status"] == "error"
    assert "nope" in event["message"]
    assert fake_server.requests == []


async def test_invalid_connection_is_an_error_event_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, fake_server: FakeXportcn
) -> None:
    from airflow.sdk import Connection

    conn = Connection(conn_id="bad", conn_type="xportcn", login=ACCESS_KEY, password="Secret-xyz-123")
    monkeypatch.setenv("AIRFLOW_CONN_BAD", conn.as_json())
    [event] = await all_events(make_trigger(conn_id="bad"))
    assert event["status"] == "error" and "user_id" in event["message"]


async def test_secret_is_masked_once_the_trigger_read_the_connection(
    xportcn_conn: str, fake_server: FakeXportcn, secret: str
) -> None:
    from airflow.sdk.log import redact

    fake_server.then(status("refundsuccess"))
    await all_events(make_trigger())
    assert secret not in str(redact(f"password is {secret}"))


# --- timing: interval, backoff, deadline ------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the trigger sleeps."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    clock = FakeTime()
    monkeypatch.setattr(trigger_module, "_now", clock.time)
    monkeypatch.setattr(trigger_module, "_sleep", clock.sleep)
    return clock


async def test_fixed_interval_without_backoff(
    xportcn_conn: str, fake_server: FakeXportcn, fake_time: FakeTime
) -> None:
    fake_server.then(*[status("waitselleragree")] * 4, status("refundsuccess"))
    await all_events(make_trigger(poll_interval=7))
    assert fake_time.sleeps == [7, 7, 7, 7]


async def test_exponential_backoff_doubles_caps_and_stops_at_the_deadline(
    xportcn_conn: str, fake_server: FakeXportcn, fake_time: FakeTime
) -> None:
    fake_server.then(status("waitselleragree"))
    trigger = make_trigger(
        poll_interval=1,
        exponential_backoff=True,
        max_poll_interval=5,
        deadline=fake_time.now + 20,
    )
    [event] = await all_events(trigger)
    assert event["status"] == "timeout"
    # 1, 2, 4, then capped at 5; the last sleep is cut to land exactly on the deadline.
    assert fake_time.sleeps == [1, 2, 4, 5, 5, 3]
    assert sum(fake_time.sleeps) == 20


async def test_unknown_status_keeps_waiting(
    xportcn_conn: str, fake_server: FakeXportcn, fake_time: FakeTime
) -> None:
    fake_server.then(status("being_reviewed"), status("being_reviewed"), status("refundsuccess"))
    [event] = await all_events(make_trigger())
    assert event["status"] == "success"
    assert len(fake_server.requests) == 3


# --- the shared, pooled client --------------------------------------------------------------------


async def test_concurrent_triggers_share_one_client_which_closes_after_the_last(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    polls: dict[str, int] = {}

    def answer(request: Seen) -> Answer:
        # Each refund succeeds on its third poll, so the triggers overlap while they wait.
        refund_id = request.json()["refundId"]
        polls[refund_id] = polls.get(refund_id, 0) + 1
        value = "refundsuccess" if polls[refund_id] >= 3 else "waitselleragree"
        return Answer(200, envelope(data={"refundId": refund_id, "status": value}))

    fake_server.then(answer)
    triggers = [make_trigger(wait=refund_wait(f"TQ{i}").to_dict(), poll_interval=0.01) for i in range(50)]
    results = await asyncio.gather(*(all_events(t) for t in triggers))
    assert [r[0]["status"] for r in results] == ["success"] * 50
    assert [r[0]["ids"]["refund_id"] for r in results] == [f"TQ{i}" for i in range(50)]
    assert fake_server.clients_created == 1
    assert fake_server.clients[0].closed
    assert async_client.pool_stats() == {"clients": 0, "users": 0}
    assert len(fake_server.requests) == 150


async def test_cancelled_trigger_gives_its_client_back(xportcn_conn: str, fake_server: FakeXportcn) -> None:
    fake_server.then(status("waitselleragree"))
    task = asyncio.ensure_future(all_events(make_trigger(poll_interval=0.01)))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(fake_server.requests) >= 2:
            break
    assert not task.done()
    assert async_client.pool_stats() == {"clients": 1, "users": 1}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert async_client.pool_stats() == {"clients": 0, "users": 0}
    assert fake_server.clients[0].closed


async def test_different_connections_get_different_clients(
    xportcn_conn: str, fake_server: FakeXportcn, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("AIRFLOW_CONN_SECOND", os.environ["AIRFLOW_CONN_XPORTCN_DEFAULT"])
    fake_server.then(status("waitselleragree"), status("waitselleragree"), status("refundsuccess"))
    await asyncio.gather(all_events(make_trigger()), all_events(make_trigger(conn_id="second")))
    assert fake_server.clients_created == 2


async def test_restart_rebuilds_from_serialize_and_keeps_the_deadline(
    xportcn_conn: str, fake_server: FakeXportcn
) -> None:
    fake_server.then(status("waitselleragree"), status("waitselleragree"), status("waitbuyersend"))
    original = make_trigger(poll_interval=0.02, deadline=time.time() + 30)
    task = asyncio.ensure_future(all_events(original))
    while len(fake_server.requests) < 2:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    path, kwargs = original.serialize()
    assert path == CLASSPATH
    rebuilt = XportcnStatusTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.deadline == original.deadline
    fake_server.script.append(status("refundsuccess"))
    [event] = await all_events(rebuilt)
    assert event["status"] == "success" and event["ids"] == {"refund_id": "TQ1"}


def test_spec_from_trigger_kwargs_is_the_sensor_spec() -> None:
    spec = refund_wait("TQ1", target_statuses=["REFUND_SUCCESS"])
    trigger = make_trigger(wait=spec.to_dict())
    assert WaitSpec.from_dict(trigger.serialize()[1]["wait"]) == spec
