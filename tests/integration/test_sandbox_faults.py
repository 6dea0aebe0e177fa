"""Fault injection, and the provider's retry behaviour proved with it and the sandbox call log.

The client under test uses tiny backoffs (see ``make_client``), so a test that retries five
times still takes milliseconds; what a test asserts is what the *server* saw.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests

from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials
from xportcn_provider.api.errors import (
    EnvelopeCode,
    XportcnBusinessError,
    XportcnConflictError,
    XportcnProtocolError,
    XportcnRateLimitError,
    XportcnTimeoutError,
    XportcnTransientError,
)
from xportcn_provider.sandbox import SandboxControlError, SandboxHandle

from .conftest import make_client

ORDER = {
    "outOrderId": "fault-order-1",
    "addressParam": {"fullName": "Li Lei", "mobile": "13800000000", "address": "文一西路 1 号"},
    "cargoParamList": [{"offerId": "610000000123", "quantity": 1}],
}


def statuses(calls: list[dict[str, Any]]) -> list[Any]:
    return [(c["fault"], c["http_status"], c["code"]) for c in calls]


def test_two_503_then_success_is_three_calls(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.inject("http_503", endpoint="order_list", count=2)
    data = make_client(xportcn_sandbox).call("order_list", {"pageNo": 1, "pageSize": 10})
    assert data["total"] == 0
    assert statuses(xportcn_sandbox.control.calls("order_list")) == [
        ("http_503", 503, EnvelopeCode.SERVER_BUSY),
        ("http_503", 503, EnvelopeCode.SERVER_BUSY),
        (None, 200, 200),
    ]
    assert xportcn_sandbox.control.faults() == []


def test_429_retry_after_is_honoured(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.inject("http_429", endpoint="address_list", retry_after=0.4)
    client = make_client(xportcn_sandbox)  # backoff_max 0.05 s: only Retry-After can explain 0.4 s
    client.call("address_list", {})
    first, second = xportcn_sandbox.control.calls("address_list")
    assert (first["http_status"], first["fault"], second["http_status"]) == (429, "http_429", 200)
    assert second["unix_time"] - first["unix_time"] >= 0.4


def test_429_without_retries_raises_rate_limit_error(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.inject("http_429", retry_after=7)
    with pytest.raises(XportcnRateLimitError) as caught:
        make_client(xportcn_sandbox, max_retries=0).call("address_list", {})
    assert caught.value.retry_after == 7


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (EnvelopeCode.INVALID_PARAMETER, XportcnBusinessError),
        (EnvelopeCode.STATE_CONFLICT, XportcnConflictError),
    ],
)
def test_envelope_business_error_is_not_retried(
    xportcn_sandbox: SandboxHandle, code: int, error: type[Exception]
) -> None:
    xportcn_sandbox.control.inject(
        "envelope", endpoint="order_create", code=code, msg="库存不足 out of stock"
    )
    with pytest.raises(error) as caught:
        make_client(xportcn_sandbox).call("order_create", ORDER)
    assert "out of stock" in str(caught.value)
    assert statuses(xportcn_sandbox.control.calls()) == [("envelope", 200, code)]
    assert xportcn_sandbox.control.state()["orders"] == 0  # the fault answered instead of the endpoint


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503", "html", "drop", "timeout"])
def test_transient_faults_are_retried(xportcn_sandbox: SandboxHandle, kind: str) -> None:
    params = {"delay": 0.5} if kind == "timeout" else {}
    xportcn_sandbox.control.inject(kind, endpoint="address_list", **params)
    client = make_client(xportcn_sandbox, timeout=0.2)
    assert client.call("address_list", {})
    calls = xportcn_sandbox.control.calls("address_list")
    assert [c["fault"] for c in calls] == [kind, None]
    assert calls[-1]["http_status"] == 200


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("http_500", XportcnTransientError, "HTTP 500"),
        ("http_502", XportcnTransientError, "HTTP 502"),
        ("html", XportcnTransientError, "<html>"),
        ("drop", XportcnTransientError, "connection dropped after the request was sent"),
        ("truncated_json", XportcnProtocolError, "not JSON"),
    ],
)
def test_fault_without_retries_raises(
    xportcn_sandbox: SandboxHandle, kind: str, error: type[Exception], words: str
) -> None:
    xportcn_sandbox.control.inject(kind)
    with pytest.raises(error) as caught:
        make_client(xportcn_sandbox, max_retries=0).call("address_list", {})
    assert type(caught.value) is error
    assert words in str(caught.value)


def test_protocol_error_is_not_retried(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.inject("truncated_json", endpoint="address_list", count=3)
    with pytest.raises(XportcnProtocolError):
        make_client(xportcn_sandbox).call("address_list", {})
    assert len(xportcn_sandbox.control.calls()) == 1


def test_timeout_fault_raises_timeout_error(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.inject("timeout", endpoint="address_list", delay=0.5)
    started = time.monotonic()
    with pytest.raises(XportcnTimeoutError):
        make_client(xportcn_sandbox, timeout=0.2, max_retries=0).call("address_list", {})
    assert time.monotonic() - started < 0.45


def test_drop_is_a_connection_error_for_plain_requests(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.inject("drop")
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.post(xportcn_sandbox.url + "/open/address/list", json={}, timeout=5)
    [call] = xportcn_sandbox.control.calls()
    assert (call["fault"], call["http_status"], call["code"]) == ("drop", None, None)


@pytest.mark.parametrize("dedupe", [True, False], ids=["dedupe", "no-dedupe"])
def test_commit_then_drop_creates_exactly_one_order(xportcn_sandbox: SandboxHandle, dedupe: bool) -> None:
    """The lost-response case: the write happened, the client never heard back.

    The client does not send it again: the look-up by outOrderId finds the order and answers
    with it, whether or not the service would have deduplicated a second create.
    """
    control = xportcn_sandbox.control
    control.set_dedupe(dedupe)
    control.inject("commit_then_drop", endpoint="order_create")
    answer = make_client(xportcn_sandbox, max_retries=0).call("order_create", ORDER)
    assert answer["duplicate"] is True and answer["outOrderId"] == ORDER["outOrderId"]
    assert control.state()["orders"] == 1
    assert [c["endpoint"] for c in control.calls()] == ["order_create", "order_list"]


def test_no_dedupe_sandbox_really_creates_twice(xportcn_sandbox: SandboxHandle) -> None:
    """The opposite service is real: a blind resend there would buy twice."""
    control = xportcn_sandbox.control
    control.set_dedupe(False)
    client = make_client(xportcn_sandbox)
    first, second = client.call("order_create", ORDER), client.call("order_create", ORDER)
    assert first["orderId"] != second["orderId"] and second["duplicate"] is False
    assert control.state()["orders"] == 2
    control.set_dedupe(True)
    assert client.call("order_create", ORDER)["duplicate"] is True


@pytest.mark.parametrize("dedupe", [True, False], ids=["dedupe", "no-dedupe"])
def test_late_answer_of_a_timeout_does_not_duplicate(xportcn_sandbox: SandboxHandle, dedupe: bool) -> None:
    """A slow server commits after the client gave up: the look-up waits it out, still one order."""
    xportcn_sandbox.control.set_dedupe(dedupe)
    xportcn_sandbox.control.inject("timeout", endpoint="order_create", delay=0.4)
    client = make_client(xportcn_sandbox, timeout=0.2, verify_settle=0.5)
    answer = client.call("order_create", ORDER)
    assert answer["duplicate"] is True  # found by the second look-up, after the late commit
    time.sleep(0.3)
    assert xportcn_sandbox.control.state()["orders"] == 1
    assert [c["endpoint"] for c in xportcn_sandbox.control.calls()].count("order_create") == 1


def test_faults_are_fifo_and_targeted(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    control.inject("http_503", endpoint="order_list")
    control.inject("http_500", endpoint="*")
    control.inject("envelope", endpoint="order_list", code=400, msg="bad")
    pending = control.faults()
    assert [(f["kind"], f["endpoint"]) for f in pending] == [
        ("http_503", "order_list"),
        ("http_500", "*"),
        ("envelope", "order_list"),
    ]
    client = make_client(xportcn_sandbox, max_retries=0)
    with pytest.raises(XportcnTransientError):
        client.call("address_list", {})  # skips the order_list fault, takes the "*" one
    with pytest.raises(XportcnTransientError):
        client.call("order_list", {})  # the first order_list fault
    with pytest.raises(XportcnBusinessError):
        client.call("order_list", {})
    assert client.call("order_list", {})["total"] == 0
    assert [c["fault"] for c in control.calls()] == ["http_500", "http_503", "envelope", None]
    control.inject("http_500", count=5)
    control.clear_faults()
    assert control.faults() == []


def test_reset_clears_faults_calls_and_stats(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    control.inject("http_500", count=3)
    with pytest.raises(XportcnTransientError):
        make_client(xportcn_sandbox, max_retries=0).call("address_list", {})
    control.reset()
    assert control.faults() == [] and control.calls() == []
    assert control.stats() == {"connections": 0, "requests": 0}


def test_inject_rejects_unknown_kind_endpoint_and_params(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    with pytest.raises(SandboxControlError, match="commit_then_drop"):
        control.inject("explode")
    with pytest.raises(SandboxControlError, match="unknown endpoint"):
        control.inject("http_500", endpoint="order_delete")
    with pytest.raises(SandboxControlError, match="no parameter"):
        control.inject("http_500", retry_after=3)
    with pytest.raises(SandboxControlError, match="other than 200"):
        control.inject("envelope", code=200)
    with pytest.raises(SandboxControlError, match="count"):
        control.inject("drop", count=0)


def test_keep_alive_is_visible_in_stats(xportcn_sandbox: SandboxHandle) -> None:
    client = make_client(xportcn_sandbox)
    for _ in range(5):
        client.call("address_list", {})
    assert xportcn_sandbox.control.stats() == {"connections": 1, "requests": 5}
    for _ in range(3):
        make_client(xportcn_sandbox).call("address_list", {})  # a new session each time
    assert xportcn_sandbox.control.stats() == {"connections": 4, "requests": 8}
    ports = {c["client_port"] for c in xportcn_sandbox.control.calls()}
    assert len(ports) == 4


async def test_async_client_retries_against_the_sandbox(xportcn_sandbox: SandboxHandle) -> None:
    """The trigger's httpx client sees the same faults the same way."""
    xportcn_sandbox.control.inject("http_503", endpoint="refund_detail")
    xportcn_sandbox.control.inject("drop", endpoint="refund_detail")
    settings = ClientSettings(base_url=xportcn_sandbox.url, timeout=5, backoff_initial=0.01, backoff_max=0.05)
    credentials = Credentials(
        xportcn_sandbox.access_key, xportcn_sandbox.access_secret, xportcn_sandbox.user_id
    )
    client = AsyncXportcnClient(credentials, settings)
    try:
        with pytest.raises(XportcnBusinessError) as caught:  # the refund does not exist: 404 envelope
            await client.call("refund_detail", {"refundId": "TQ1"})
    finally:
        await client.aclose()
    assert caught.value.code == EnvelopeCode.NOT_FOUND
    assert [c["fault"] for c in xportcn_sandbox.control.calls()] == ["http_503", "drop", None]


# --- commit_then_hang: the write is done, the answer is held (a window to kill the client) -------

#: A client in its own process, killed by the test while the sandbox holds its answer.
_CHILD = """
import json, sys
from xportcn_provider.api.client import ClientSettings, Credentials, XportcnClient
url, key, secret, user, body = sys.argv[1:6]
settings = ClientSettings(base_url=url, timeout=60, max_retries=0)
client = XportcnClient(Credentials(key, secret, user), settings)
client.call("order_create", json.loads(body))
print("ANSWERED")
"""


def _wait_for_call(control: Any, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in control.calls():
            if predicate(call):
                return call
        time.sleep(0.02)
    raise AssertionError(f"no matching call after {timeout}s: {control.calls()}")


def _held(call: dict[str, Any]) -> bool:
    return call["fault"] == "commit_then_hang" and "response held" in (call["msg"] or "")


def test_commit_then_hang_commits_and_holds_until_the_client_process_dies(
    xportcn_sandbox: SandboxHandle,
) -> None:
    """The crash case: the create reached the server, the client process dies before any answer."""
    control = xportcn_sandbox.control
    control.inject("commit_then_hang", endpoint="order_create", hold=30)
    args = [xportcn_sandbox.url, xportcn_sandbox.access_key, xportcn_sandbox.access_secret]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args, xportcn_sandbox.user_id, json.dumps(ORDER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        held = _wait_for_call(control, _held)
        assert held["msg"] == "committed (code 200), response held for up to 30 s"
        assert held["http_status"] is None and held["code"] is None
        assert control.state()["orders"] == 1  # the write happened...
        time.sleep(0.3)
        assert child.poll() is None  # ...and the client is still waiting for its answer
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        gone = _wait_for_call(control, lambda c: "client disconnected" in (c["msg"] or ""), timeout=5)
    finally:
        child.kill()
        out, _ = child.communicate(timeout=10)
    assert b"ANSWERED" not in out
    assert gone["seq"] == held["seq"] and gone["duration_ms"] < 10_000  # not the 30 s hold
    assert gone["msg"].startswith("committed (code 200); the client disconnected after ")
    # The retry's look-up (what the operator does first) finds the order the dead client created.
    found = make_client(xportcn_sandbox).call("order_list", {"outOrderId": ORDER["outOrderId"]})
    assert [o["outOrderId"] for o in found["list"]] == [ORDER["outOrderId"]]
    assert control.state()["orders"] == 1
    assert [c["fault"] for c in control.calls("order_create")] == ["commit_then_hang"]


def test_commit_then_hang_drops_the_connection_when_the_hold_ends(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    control.inject("commit_then_hang", endpoint="order_create", hold=0.4)
    started = time.monotonic()
    # A dropped connection after the hold; the look-up finds the order, nothing is resent.
    answer = make_client(xportcn_sandbox, max_retries=0).call("order_create", ORDER)
    assert answer["duplicate"] is True
    assert time.monotonic() - started >= 0.4
    [call] = control.calls("order_create")
    assert call["msg"] == "committed (code 200); no answer for 0.4 s, then connection dropped"
    assert control.state()["orders"] == 1


def test_commit_then_hang_is_released_by_a_reset(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    control.inject("commit_then_hang", endpoint="address_list", hold=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            make_client(xportcn_sandbox, max_retries=0, timeout=20).call("address_list", {})
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    _wait_for_call(control, _held)
    started = time.monotonic()
    control.reset()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2
    assert len(errors) == 1 and isinstance(errors[0], XportcnTransientError)


def test_commit_then_hang_does_not_block_server_shutdown() -> None:
    from xportcn_provider.sandbox import start_in_thread

    running = start_in_thread("127.0.0.1", 0)
    handle = running.handle
    handle.control.inject("commit_then_hang", endpoint="address_list", hold=60)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            make_client(handle, max_retries=0, timeout=30).call("address_list", {})
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    try:
        _wait_for_call(handle.control, _held)
    finally:
        started = time.monotonic()
        running.stop()
    assert not running.thread.is_alive() and time.monotonic() - started < 4
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], XportcnTransientError)


def test_commit_then_hang_rejects_a_bad_hold(xportcn_sandbox: SandboxHandle) -> None:
    with pytest.raises(SandboxControlError, match="hold must be a number of seconds"):
        xportcn_sandbox.control.inject("commit_then_hang", hold=-1)
    with pytest.raises(SandboxControlError, match="no parameter delay"):
        xportcn_sandbox.control.inject("commit_then_hang", delay=3)
