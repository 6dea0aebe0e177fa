"""xportcn_provider.waiting: the blocking wait, event decoding and the shared poll bookkeeping."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from xportcn_provider.api.errors import (
    XportcnAuthError,
    XportcnBusinessError,
    XportcnProtocolError,
    XportcnRateLimitError,
    XportcnTimeoutError,
    XportcnTransientError,
    XportcnValidationError,
)
from xportcn_provider.api.waits import domestic_tracking_wait, refund_wait
from xportcn_provider.triggers.status import status_trigger_for
from xportcn_provider.waiting import (
    PollState,
    XportcnWaitError,
    XportcnWaitFailure,
    XportcnWaitTimeout,
    event_result,
    is_tolerable,
    wait_sync,
)

log = logging.getLogger("test.waiting")


class ScriptedHook:
    """``call`` answers from a script (last entry repeats); an exception entry is raised."""

    def __init__(self, answers: Iterable[Any]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, name: str, payload: dict[str, Any] | None = None) -> Any:
        self.calls.append((name, dict(payload or {})))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def refund(value: str) -> dict[str, str]:
    return {"refundId": "TQ1", "status": value}


def run(hook: ScriptedHook, clock: FakeClock, **kwargs: Any) -> Any:
    kwargs.setdefault("poll_interval", 10)
    kwargs.setdefault("timeout", 1000)
    return wait_sync(hook, refund_wait("TQ1"), log=log, sleep=clock.sleep, clock=clock.monotonic, **kwargs)


def test_wait_sync_polls_until_success_and_returns_the_record() -> None:
    hook, clock = ScriptedHook([refund("waitselleragree")] * 2 + [refund("refundsuccess")]), FakeClock()
    assert run(hook, clock) == refund("refundsuccess")
    assert hook.calls == [("refund_detail", {"refundId": "TQ1"})] * 3
    assert clock.sleeps == [10, 10]


def test_wait_sync_failure_is_non_retryable_with_status_and_ids() -> None:
    hook, clock = ScriptedHook([refund("waitselleragree"), refund("refundclose")]), FakeClock()
    with pytest.raises(AirflowFailException) as info:
        run(hook, clock)
    err = info.value
    assert isinstance(err, XportcnWaitFailure)
    assert (err.status, err.ids, err.record) == ("refundclose", {"refund_id": "TQ1"}, refund("refundclose"))
    assert "refundclose" in str(err) and "refund_id=TQ1" in str(err)


def test_wait_sync_timeout_lands_on_the_deadline() -> None:
    hook, clock = ScriptedHook([refund("waitbuyersend")]), FakeClock()
    with pytest.raises(AirflowSensorTimeout) as info:
        run(hook, clock, poll_interval=30, timeout=100)
    assert isinstance(info.value, XportcnWaitTimeout)
    assert clock.sleeps == [30, 30, 30, 10]
    assert info.value.status == "waitbuyersend"
    assert "waitbuyersend" in str(info.value) and "refund_id=TQ1" in str(info.value)


def test_wait_sync_exponential_backoff_is_capped() -> None:
    hook = ScriptedHook([refund("waitselleragree")] * 6 + [refund("refundsuccess")])
    clock = FakeClock()
    run(hook, clock, poll_interval=1, exponential_backoff=True, max_poll_interval=8, timeout=None)
    assert clock.sleeps == [1, 2, 4, 8, 8, 8]


def test_wait_sync_tolerates_transient_errors_then_gives_up() -> None:
    busy = XportcnTransientError("busy", endpoint="refund_detail")
    hook, clock = ScriptedHook([busy, refund("waitselleragree"), busy, busy, busy]), FakeClock()
    with pytest.raises(XportcnWaitError, match="3 consecutive") as info:
        run(hook, clock, max_consecutive_errors=3)
    assert len(hook.calls) == 5
    assert info.value.status == "waitselleragree"
    assert not isinstance(info.value, AirflowFailException)


def test_wait_sync_auth_error_ends_at_once() -> None:
    hook, clock = ScriptedHook([XportcnAuthError("bad signature", request_id="r-1")]), FakeClock()
    with pytest.raises(XportcnWaitError, match="r-1") as info:
        run(hook, clock)
    assert isinstance(info.value.__cause__, XportcnAuthError)
    assert len(hook.calls) == 1


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
        ({"max_poll_interval": 0}, "max_poll_interval"),
    ],
)
def test_wait_sync_validates_its_arguments(kwargs: dict[str, Any], parameter: str) -> None:
    hook = ScriptedHook([refund("refundsuccess")])
    with pytest.raises(XportcnValidationError) as info:
        run(hook, FakeClock(), **kwargs)
    assert info.value.parameter == parameter
    assert hook.calls == []


@pytest.mark.parametrize(
    ("error", "tolerable"),
    [
        (XportcnTransientError("x"), True),
        (XportcnTimeoutError("x"), True),
        (XportcnRateLimitError("x"), True),
        (XportcnProtocolError("<html>"), True),
        (XportcnAuthError("x"), False),
        (XportcnBusinessError("x"), False),
        (XportcnValidationError("x"), False),
        (RuntimeError("x"), False),
    ],
)
def test_is_tolerable(error: Exception, tolerable: bool) -> None:
    assert is_tolerable(error) is tolerable


def test_poll_state_presence_wait() -> None:
    state = PollState(domestic_tracking_wait("9"))
    assert state.observe({"trackingNumber": None, "status": "waitsellersend"}, log).outcome == "waiting"
    result = state.observe({"trackingNumber": "SF1", "status": "waitbuyerreceive"}, log)
    assert (result.outcome, result.status) == ("success", "SF1")


def test_poll_state_rejects_a_bad_bound() -> None:
    with pytest.raises(XportcnValidationError):
        PollState(refund_wait("TQ1"), max_consecutive_errors=0)


# --- event_result ---------------------------------------------------------------------------------


def event(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "value": "refundclose",
        "record": refund("refundclose"),
        "message": "Xportcn refund status (refund_id=TQ1) failed: reached failure status 'refundclose'",
        "ids": {"refund_id": "TQ1"},
        "wait": "refund status (refund_id=TQ1)",
        **extra,
    }


def test_event_result_success_returns_the_record() -> None:
    assert event_result(event("success", value="refundsuccess", record=refund("refundsuccess"))) == refund(
        "refundsuccess"
    )


@pytest.mark.parametrize(
    ("status", "exc"),
    [("failure", XportcnWaitFailure), ("timeout", XportcnWaitTimeout), ("error", XportcnWaitError)],
)
def test_event_result_raises_with_status_and_ids(status: str, exc: type[Exception]) -> None:
    with pytest.raises(exc) as info:
        event_result(event(status))
    assert info.value.ids == {"refund_id": "TQ1"}  # type: ignore[attr-defined]
    assert info.value.status == "refundclose"  # type: ignore[attr-defined]


def test_event_result_adds_ids_and_status_missing_from_the_message() -> None:
    with pytest.raises(XportcnWaitFailure) as info:
        event_result(event("failure", message="closed by seller"))
    text = str(info.value)
    assert "refund_id=TQ1" in text and "status=refundclose" in text and "closed by seller" in text


@pytest.mark.parametrize("bad", [None, {}, {"status": "done"}, "success"])
def test_event_result_rejects_malformed_events(bad: Any) -> None:
    with pytest.raises(XportcnWaitError, match="Unexpected event"):
        event_result(bad)


def test_status_trigger_for_carries_an_absolute_deadline() -> None:
    trigger, defer_timeout = status_trigger_for(
        refund_wait("TQ1"), conn_id="c", poll_interval=5, timeout=100, started_at=1_000.0, grace=30
    )
    _, kwargs = trigger.serialize()
    assert kwargs["deadline"] == 1_100.0 and kwargs["conn_id"] == "c" and kwargs["poll_interval"] == 5
    assert defer_timeout is not None and defer_timeout.total_seconds() == 30  # deadline long past


def test_status_trigger_for_without_timeout() -> None:
    trigger, defer_timeout = status_trigger_for(
        refund_wait("TQ1"), conn_id="c", poll_interval=5, timeout=None
    )
    assert trigger.deadline is None and defer_timeout is None


# --- what an answer showed, for the monitoring page's "last status seen" -------------------------


def test_observed_is_the_status_or_what_a_presence_wait_still_misses() -> None:
    refund = refund_wait("TQ1")
    answer = {"refundId": "TQ1", "status": "waitselleragree"}
    assert refund.observed(answer, refund.evaluate(answer)) == "waitselleragree"
    assert refund.observed(None, refund.evaluate(None)) == "not found yet"
    tracking = domestic_tracking_wait("9")
    unshipped = {"orderId": "9", "status": "WAITING_FOR_SENT", "trackingNumber": None}
    assert (
        tracking.observed(unshipped, tracking.evaluate(unshipped)) == "waitsellersend (no trackingNumber yet)"
    )
    bare = {"orderId": "9"}
    assert tracking.observed(bare, tracking.evaluate(bare)) == "no trackingNumber yet"
    shipped = {**unshipped, "status": "waitbuyerreceive", "trackingNumber": "SF1"}
    assert tracking.observed(shipped, tracking.evaluate(shipped)) == "waitbuyerreceive (trackingNumber SF1)"
    assert tracking.observed(None, tracking.evaluate(None)) == "not found yet"
