"""The fault matrix: every sandbox fault x (sync hook, async status trigger) -> the contract's outcome.

One table, :data:`MATRIX`. Each row is a fault the sandbox can inject and what the contract
(``xportcn-api.md`` §1.2, §5; ``docs/sandbox.md`` "Fault injection") says each side must do:

* **retried** — transient failures (HTTP 5xx, 429 and a 429 envelope code, a timeout, a dropped
  connection, an answer lost after the read was performed, an HTML error page from a proxy, which
  arrives as HTTP 502): the client retries with
  backoff inside one call (honouring ``Retry-After``); after ``count`` faults the real answer
  comes back. The call log shows exactly ``count`` faulted calls, then one success, in order.
* **raises** — envelope errors (auth, clock, business) and protocol errors (a 200 with a broken
  body) are never retried: the sync hook raises the typed error at once, after exactly one call.
* **tolerated** — the trigger re-reads a status after a protocol error (a read is idempotent,
  ``waiting.is_tolerable``) on its next poll, so a truncated body only delays the wait.
* **error event** — the trigger ends with one ``error`` event naming the typed error, after
  exactly one call (auth and business errors do not heal by waiting).

Both sides run the real code path: ``XportcnHook`` reading ``AIRFLOW_CONN_XPORTCN_DEFAULT`` and
``XportcnStatusTrigger.run()`` reading it through Airflow's async API. Backoff sleeps are recorded
instead of slept (the clients' ``sleep`` seam, the trigger's ``_sleep`` seam), so the whole matrix
runs in seconds and can also assert *how long* the client meant to wait (``Retry-After``).
The per-fault client tests are in ``tests/integration/test_sandbox_faults.py`` and
``tests/integration/test_triggers_status.py``; this file is the contract's table, end to end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from xportcn_provider.api.client import AsyncXportcnClient
from xportcn_provider.api.errors import (
    EnvelopeCode,
    XportcnAuthError,
    XportcnBusinessError,
    XportcnClockSkewError,
    XportcnConflictError,
    XportcnError,
    XportcnNotFoundError,
    XportcnProtocolError,
)
from xportcn_provider.api.waits import order_wait
from xportcn_provider.hooks import xportcn as hook_module
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.triggers import status as trigger_module
from xportcn_provider.triggers.status import XportcnStatusTrigger

from .conftest import set_default_conn

CLIENT_TIMEOUT = 0.5  # seconds per attempt (connection extra.timeout), for both sides
TIMEOUT_FAULT_DELAY = 1.5  # the sandbox answers this late: longer than CLIENT_TIMEOUT
MAX_RETRIES = 3  # more than any row's count, so every "retried" row ends in success
POLL_INTERVAL = 0.05
MAX_CONSECUTIVE_ERRORS = 3
READ_ENDPOINT = "order_detail"
SHIPPED = "waitbuyerreceive"  # in order_wait's default target group "shipped"


# --- expected outcomes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Retried:
    """Retried inside the client; the caller gets the real answer. ``waits``: the expected backoff
    sleeps (``None``: any positive value, i.e. jittered exponential backoff)."""

    waits: float | None = None


@dataclass(frozen=True)
class Raises:
    """Sync: this exact error class, at once, after one call."""

    error: type[XportcnError]


@dataclass(frozen=True)
class Tolerated:
    """Trigger: not retried by the client, re-read on the next poll; the wait goes on."""


@dataclass(frozen=True)
class ErrorEvent:
    """Trigger: one ``error`` event naming this error class, after one call."""

    error: type[XportcnError]


SyncOutcome = Retried | Raises
TriggerOutcome = Retried | Tolerated | ErrorEvent


@dataclass(frozen=True)
class Fault:
    """One row: a fault as ``control.inject`` takes it, and the outcome on each side."""

    id: str
    kind: str
    count: int
    sync: SyncOutcome
    trigger: TriggerOutcome
    params: dict[str, Any] = field(default_factory=dict)


RETRY_AFTER = 7.0  # far above any jittered backoff here (<= 1 s): only the header can explain it

MATRIX: list[Fault] = [
    # transient: HTTP status decides (contract §1.2: 5xx, 429, connection errors, timeouts)
    Fault("http_500", "http_500", 2, Retried(), Retried()),
    Fault("http_502", "http_502", 2, Retried(), Retried()),
    Fault("http_503", "http_503", 2, Retried(), Retried()),
    Fault(
        "http_429-retry_after",
        "http_429",
        2,
        Retried(waits=RETRY_AFTER),
        Retried(waits=RETRY_AFTER),
        {"retry_after": RETRY_AFTER},
    ),
    Fault("timeout", "timeout", 1, Retried(), Retried(), {"delay": TIMEOUT_FAULT_DELAY}),
    Fault("drop", "drop", 2, Retried(), Retried()),
    # the read is performed, then the answer is lost (dropped / held past the client's timeout):
    # for a read that is just one more transient failure
    Fault("commit_then_drop", "commit_then_drop", 2, Retried(), Retried()),
    Fault(
        "commit_then_hang",
        "commit_then_hang",
        1,
        Retried(),
        Retried(),
        {"hold": TIMEOUT_FAULT_DELAY},
    ),
    # an nginx HTML page comes with HTTP 502: the status makes it transient, whatever the body
    Fault("html", "html", 2, Retried(), Retried()),
    # HTTP 200 with a cut body: a protocol error. Not retried by the client (it cannot know what
    # the server did); the trigger's status read is idempotent, so it polls again.
    Fault("truncated_json", "truncated_json", 2, Raises(XportcnProtocolError), Tolerated()),
    # envelope codes (HTTP 200): the code decides
    Fault(
        "envelope_401_auth",
        "envelope",
        1,
        Raises(XportcnAuthError),
        ErrorEvent(XportcnAuthError),
        {"code": EnvelopeCode.SIGNATURE_INVALID, "msg": "签名错误 signature invalid"},
    ),
    Fault(
        "envelope_406_clock",
        "envelope",
        1,
        Raises(XportcnClockSkewError),
        ErrorEvent(XportcnClockSkewError),
        {"code": EnvelopeCode.TIMESTAMP_EXPIRED, "msg": "timestamp expired"},
    ),
    Fault(
        "envelope_400_business",
        "envelope",
        1,
        Raises(XportcnBusinessError),
        ErrorEvent(XportcnBusinessError),
        {"code": EnvelopeCode.INVALID_PARAMETER, "msg": "orderId 不合法"},
    ),
    Fault(
        "envelope_404_not_found",
        "envelope",
        1,
        Raises(XportcnNotFoundError),
        ErrorEvent(XportcnNotFoundError),
        {"code": EnvelopeCode.NOT_FOUND, "msg": "订单不存在"},
    ),
    Fault(
        "envelope_409_conflict",
        "envelope",
        1,
        Raises(XportcnConflictError),
        ErrorEvent(XportcnConflictError),
        {"code": EnvelopeCode.STATE_CONFLICT, "msg": "状态不允许"},
    ),
    Fault(
        "envelope_429_rate_limit",
        "envelope",
        2,
        Retried(),
        Retried(),
        {"code": EnvelopeCode.RATE_LIMITED, "msg": "请求过于频繁"},
    ),
    Fault(
        "envelope_503_busy",
        "envelope",
        2,
        Retried(),
        Retried(),
        {"code": EnvelopeCode.SERVER_BUSY, "msg": "系统繁忙"},
    ),
]

SIDES = ("sync", "trigger")
CASES = [pytest.param(fault, side, id=f"{fault.id}-{side}") for fault in MATRIX for side in SIDES]


def test_the_matrix_covers_every_fault_kind() -> None:
    """A fault kind added to the sandbox must get a row here."""
    from xportcn_provider.sandbox.faults import FAULT_KINDS

    assert {f.kind for f in MATRIX} == set(FAULT_KINDS)
    assert len({f.id for f in MATRIX}) == len(MATRIX)
    assert all(f.count in (1, 2) and f.count < MAX_RETRIES for f in MATRIX)


# --- fixtures -----------------------------------------------------------------------------------


@dataclass
class Recorder:
    client_waits: list[float] = field(default_factory=list)  # in-client retry backoff
    poll_waits: list[float] = field(default_factory=list)  # the trigger's sleep between polls


@pytest.fixture
def sandbox(xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """``xportcn_default`` on the sandbox with a short per-attempt timeout and a few retries."""
    set_default_conn(
        monkeypatch,
        xportcn_default_conn,
        extra={"timeout": CLIENT_TIMEOUT, "max_retries": MAX_RETRIES},
    )
    return xportcn_default_conn


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Record the trigger's backoff and poll sleeps instead of sleeping them."""
    rec = Recorder()

    def async_client_recording_sleeps(*args: Any, **kwargs: Any) -> AsyncXportcnClient:
        return AsyncXportcnClient(*args, sleep=rec.client_waits.append, **kwargs)

    async def poll_sleep(seconds: float) -> None:
        rec.poll_waits.append(seconds)

    monkeypatch.setattr(hook_module, "AsyncXportcnClient", async_client_recording_sleeps)
    monkeypatch.setattr(trigger_module, "_sleep", poll_sleep)
    yield rec


@pytest.fixture
def order_id(sandbox: SandboxHandle) -> str:
    """An order already in a target status of ``order_wait``: the first good read ends the wait."""
    [oid] = sandbox.control.seed_orders(1, status=SHIPPED, hold=True)
    return oid


# --- the two sides ------------------------------------------------------------------------------


def run_sync(order_id: str, rec: Recorder) -> Any:
    hook = XportcnHook()
    hook.client.sleep = rec.client_waits.append
    try:
        return hook.order_detail(order_id=order_id)
    finally:
        hook.client.close()


async def run_trigger(order_id: str) -> dict[str, Any]:
    trigger = XportcnStatusTrigger(
        wait=order_wait(order_id).to_dict(),
        poll_interval=POLL_INTERVAL,
        deadline=time.time() + 30,
        max_consecutive_errors=MAX_CONSECUTIVE_ERRORS,
    )
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1, events
    return events[0]


def log_of(handle: SandboxHandle) -> list[tuple[str | None, int | None, Any]]:
    return [(c["fault"], c["http_status"], c["code"]) for c in handle.control.calls()]


def assert_retried_waits(waits: list[float], expected: Retried, count: int) -> None:
    assert len(waits) == count, waits
    if expected.waits is None:
        assert all(0 < w <= 1.0 for w in waits), waits  # the connection's jittered backoff
    else:
        assert waits == [expected.waits] * count


# --- the matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "side"), CASES)
async def test_fault_matrix(
    fault: Fault, side: str, sandbox: SandboxHandle, order_id: str, recorder: Recorder
) -> None:
    control = sandbox.control
    control.inject(fault.kind, endpoint=READ_ENDPOINT, count=fault.count, **fault.params)
    expected = fault.sync if side == "sync" else fault.trigger
    faulted = [fault.kind] * fault.count

    if side == "sync":
        if isinstance(expected, Retried):
            data = run_sync(order_id, recorder)
            assert data["orderId"] == order_id and data["status"] == SHIPPED
            assert [c[0] for c in log_of(sandbox)] == [*faulted, None]
            assert log_of(sandbox)[-1][1:] == (200, 200)
            assert_retried_waits(recorder.client_waits, expected, fault.count)
        else:
            assert isinstance(expected, Raises)
            with pytest.raises(XportcnError) as caught:
                run_sync(order_id, recorder)
            assert type(caught.value) is expected.error, repr(caught.value)
            [call] = control.calls()  # exactly one call: not retried
            assert call["fault"] == fault.kind
            assert recorder.client_waits == []
            if fault.kind == "envelope":  # a business answer carries what finds it on the server
                assert caught.value.code == fault.params["code"]
                assert caught.value.request_id == call["request_id"]
                assert f"requestId={call['request_id']}" in str(caught.value)
        return

    event = await run_trigger(order_id)
    if isinstance(expected, Retried | Tolerated):
        assert event["status"] == "success", event["message"]
        assert event["value"] == SHIPPED and event["record"]["orderId"] == order_id
        assert [c[0] for c in log_of(sandbox)] == [*faulted, None]
        assert log_of(sandbox)[-1][1:] == (200, 200)
        if isinstance(expected, Retried):  # absorbed inside one poll: the trigger saw no error
            assert_retried_waits(recorder.client_waits, expected, fault.count)
            assert recorder.poll_waits == []
        else:  # seen by the trigger: one poll interval per bad answer, no client retry
            assert recorder.client_waits == []
            assert recorder.poll_waits == [POLL_INTERVAL] * fault.count
    else:
        assert isinstance(expected, ErrorEvent)
        assert event["status"] == "error"
        assert f"{expected.error.__name__}:" in event["message"], event["message"]
        [call] = control.calls()
        assert call["fault"] == fault.kind
        assert call["request_id"] and call["request_id"] in event["message"]
        assert recorder.client_waits == [] and recorder.poll_waits == []
    assert control.faults() == []  # every injected fault was consumed, none left over
