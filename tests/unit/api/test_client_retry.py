"""Retries of the sync (requests, mocked) and async (aiohttp, against a local script server) clients.

``sleep`` is injected, so no test waits for real; the waits tenacity asks for are recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import requests_mock as rm

from xportcn_provider.api import client as client_mod
from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials, XportcnClient
from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.errors import (
    XportcnAuthError,
    XportcnBusinessError,
    XportcnConflictError,
    XportcnError,
    XportcnNotFoundError,
    XportcnProtocolError,
    XportcnRateLimitError,
    XportcnTimeoutError,
    XportcnTransientError,
    XportcnValidationError,
)

from .._http_script import DROP, Answer, Delay, Entry, ScriptServer, script_server
from .._support import ACCESS_KEY, BASE_URL, USER_ID, envelope, fresh_secret, md5_signature

NAME = "order_detail"
URL = BASE_URL + CATALOGUE[NAME].path
OK: dict[str, Any] = {"status_code": 200, "text": envelope(data={"orderId": "1"})}
BUSY: dict[str, Any] = {"status_code": 503, "text": "<html>busy</html>"}

FINAL_FAILURES: list[tuple[str, dict[str, Any], type[XportcnError]]] = [
    ("business", {"status_code": 200, "text": envelope(400, "参数错误")}, XportcnBusinessError),
    ("unknown-code", {"status_code": 200, "text": envelope(10086, "余额不足")}, XportcnBusinessError),
    ("auth-envelope", {"status_code": 200, "text": envelope(401, "签名错误")}, XportcnAuthError),
    ("auth-http", {"status_code": 401, "text": "Unauthorized"}, XportcnAuthError),
    ("not-found", {"status_code": 200, "text": envelope(404, "no such order")}, XportcnNotFoundError),
    ("conflict", {"status_code": 200, "text": envelope(409, "wrong state")}, XportcnConflictError),
    ("protocol-html", {"status_code": 200, "text": "<html>login page</html>"}, XportcnProtocolError),
    ("protocol-no-code", {"status_code": 200, "text": json.dumps({"data": 1})}, XportcnProtocolError),
]


class Sleeps(list[float]):
    """A ``sleep`` that records the requested waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class AsyncSleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def secret() -> str:
    return fresh_secret()


def make_sync(secret: str, sleeps: Callable[[float], Any] | None = None, **settings: Any) -> XportcnClient:
    settings.setdefault("max_retries", 3)
    return XportcnClient(
        Credentials(ACCESS_KEY, secret, USER_ID),
        ClientSettings(base_url=BASE_URL, **settings),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


# --- sync: attempt counts -------------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_transient_failures_stop_after_max_retries_plus_one(
    requests_mock: rm.Mocker, secret: str, max_retries: int
) -> None:
    requests_mock.post(URL, **BUSY)
    sleeps = Sleeps()
    client = make_sync(secret, sleeps, max_retries=max_retries)
    with pytest.raises(XportcnTransientError) as exc:
        client.call(NAME, {"orderId": "1"})
    assert requests_mock.call_count == max_retries + 1
    assert len(sleeps) == max_retries
    assert exc.value.http_status == 503


def test_success_after_transient_failures(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, [BUSY, {"status_code": 502, "text": "bad gateway"}, OK])
    client = make_sync(secret)
    assert client.call(NAME, {"orderId": "1"}) == {"orderId": "1"}
    assert requests_mock.call_count == 3
    assert client.last_envelope is not None and client.last_envelope.request_id == "req-1"


@pytest.mark.parametrize("case, response, error", FINAL_FAILURES, ids=[c[0] for c in FINAL_FAILURES])
def test_no_retry_on_final_failures(
    requests_mock: rm.Mocker, secret: str, case: str, response: dict[str, Any], error: type[XportcnError]
) -> None:
    requests_mock.post(URL, [response, OK])
    sleeps = Sleeps()
    with pytest.raises(error):
        make_sync(secret, sleeps, max_retries=5).call(NAME, {"orderId": "1"})
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_validation_errors_make_no_request(requests_mock: rm.Mocker, secret: str) -> None:
    client = make_sync(secret)
    with pytest.raises(XportcnValidationError):
        client.call("order_details", {})
    with pytest.raises(XportcnValidationError):
        client.call(NAME, {"when": object()})
    with pytest.raises(XportcnValidationError):
        client.call(NAME, ["not", "a", "mapping"])  # type: ignore[arg-type]
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    "exc, final",
    [
        (requests.exceptions.ConnectionError, XportcnTransientError),
        (requests.exceptions.ConnectTimeout, XportcnTimeoutError),
        (requests.exceptions.ReadTimeout, XportcnTimeoutError),
        (requests.exceptions.ChunkedEncodingError, XportcnTransientError),
    ],
)
def test_connection_errors_and_timeouts_are_retried(
    requests_mock: rm.Mocker, secret: str, exc: type[Exception], final: type[XportcnError]
) -> None:
    requests_mock.post(URL, [{"exc": exc}, {"exc": exc}, OK])
    assert make_sync(secret).call(NAME, {"orderId": "1"}) == {"orderId": "1"}
    assert requests_mock.call_count == 3

    requests_mock.reset_mock()
    requests_mock.post(URL, exc=exc)
    with pytest.raises(final) as err:
        make_sync(secret, max_retries=2).call(NAME, {"orderId": "1"})
    assert requests_mock.call_count == 3
    assert err.value.retryable


def test_timeout_setting_reaches_the_transport(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, **OK)
    make_sync(secret, timeout=4.5).call(NAME, {"orderId": "1"})
    assert requests_mock.last_request.timeout == 4.5


# --- sync: waits ----------------------------------------------------------------------------


def test_retry_after_is_honoured(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(
        URL,
        [
            {"status_code": 429, "text": "slow", "headers": {"Retry-After": "7"}},
            {"status_code": 503, "text": "busy", "headers": {"Retry-After": "2"}},
            {"status_code": 200, "text": envelope(429, "限流"), "headers": {"Retry-After": "3"}},
            OK,
        ],
    )
    sleeps = Sleeps()
    make_sync(secret, sleeps, max_retries=3).call(NAME, {"orderId": "1"})
    assert sleeps == [7.0, 2.0, 3.0]


def test_retry_after_is_capped(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, [{"status_code": 429, "text": "", "headers": {"Retry-After": "86400"}}, OK])
    sleeps = Sleeps()
    make_sync(secret, sleeps, retry_after_max=60.0).call(NAME, {"orderId": "1"})
    assert sleeps == [60.0]


def test_rate_limit_without_retry_after_backs_off(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, [{"status_code": 429, "text": "slow"}, OK])
    sleeps = Sleeps()
    make_sync(secret, sleeps, backoff_initial=1.0, backoff_max=8.0).call(NAME, {"orderId": "1"})
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_exponential_backoff_is_capped(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, **BUSY)
    sleeps = Sleeps()
    client = make_sync(secret, sleeps, max_retries=7, backoff_initial=1.0, backoff_max=8.0)
    with pytest.raises(XportcnTransientError):
        client.call(NAME, {"orderId": "1"})
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert len(sleeps) == len(ceilings)
    for wait, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_exponential_backoff_upper_bound_exactly(
    requests_mock: rm.Mocker, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_mod.random, "uniform", lambda low, high: high)
    requests_mock.post(URL, **BUSY)
    sleeps = Sleeps()
    with pytest.raises(XportcnTransientError):
        make_sync(secret, sleeps, max_retries=5, backoff_initial=0.5, backoff_max=3.0).call(NAME, {})
    assert sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


# --- sync: every attempt is signed anew -----------------------------------------------------


def test_new_nonce_and_signature_on_every_attempt(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, [BUSY, {"exc": requests.exceptions.ConnectionError}, BUSY, OK])
    make_sync(secret, max_retries=3).call(NAME, {"orderId": "1"})
    sent = [r.headers for r in requests_mock.request_history]
    assert len(sent) == 4
    assert len({h["nonce-str"] for h in sent}) == 4
    assert len({h["signature"] for h in sent}) == 4
    for h in sent:
        assert h["signature"] == md5_signature(h["access-key"], h["timestamp"], h["nonce-str"], secret)
        assert h["user-id"] == USER_ID


def test_timestamp_is_taken_per_attempt(requests_mock: rm.Mocker, secret: str) -> None:
    ticks: Iterator[int] = iter(range(1775221032, 1775221100))
    requests_mock.post(URL, [BUSY, BUSY, OK])
    client = XportcnClient(
        Credentials(ACCESS_KEY, secret, USER_ID),
        ClientSettings(base_url=BASE_URL, max_retries=3),
        clock=lambda: str(next(ticks)),
        sleep=Sleeps(),
    )
    client.call(NAME, {})
    assert [r.headers["timestamp"] for r in requests_mock.request_history] == [
        "1775221032",
        "1775221033",
        "1775221034",
    ]


def test_query_signature_is_refreshed_on_every_attempt(requests_mock: rm.Mocker, secret: str) -> None:
    url = BASE_URL + CATALOGUE["freight_estimate"].path
    requests_mock.post(url, [BUSY, OK])
    make_sync(secret).call("freight_estimate", {"country": "US", "weight": 1})
    for r in requests_mock.request_history:
        assert r.qs["sign"] == [r.headers["signature"].lower()]  # requests-mock lower-cases qs values
        assert r.qs["timestamp"] == [r.headers["timestamp"]]
    first, second = requests_mock.request_history
    assert first.qs["sign"] != second.qs["sign"]


# --- sync: logging --------------------------------------------------------------------------


def test_every_retry_is_logged_with_endpoint_attempt_and_reason(
    requests_mock: rm.Mocker, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.post(
        URL,
        [
            BUSY,
            {"exc": requests.exceptions.ConnectionError},
            {"status_code": 429, "text": "", "headers": {"Retry-After": "1"}},
            OK,
        ],
    )
    with caplog.at_level(logging.WARNING, logger=client_mod.log.name):
        make_sync(secret, max_retries=3).call(NAME, {"orderId": "1"})
    records = [r for r in caplog.records if r.name == client_mod.log.name]
    assert len(records) == 3
    for attempt, (record, reason) in enumerate(
        zip(
            records, ["XportcnTransientError", "XportcnTransientError", "XportcnRateLimitError"], strict=True
        ),
        start=1,
    ):
        text = record.getMessage()
        assert record.levelno == logging.WARNING
        assert NAME in text
        assert f"attempt {attempt}/4" in text
        assert reason in text
        assert secret not in text
    assert "HTTP 503" in records[0].getMessage()
    assert "ConnectionError" in records[1].getMessage()
    assert "HTTP 429" in records[2].getMessage()


def test_no_log_line_when_nothing_is_retried(
    requests_mock: rm.Mocker, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.post(URL, text=envelope(400, "bad"))
    with caplog.at_level(logging.WARNING, logger=client_mod.log.name), pytest.raises(XportcnBusinessError):
        make_sync(secret).call(NAME, {})
    assert [r for r in caplog.records if r.name == client_mod.log.name] == []


def test_errors_after_retries_do_not_leak_the_secret(requests_mock: rm.Mocker, secret: str) -> None:
    requests_mock.post(URL, exc=requests.exceptions.ConnectionError(f"boom {URL}?sign=XYZ"))
    with pytest.raises(XportcnTransientError) as exc:
        make_sync(secret, max_retries=1).call(NAME, {})
    sent = requests_mock.last_request.headers
    for text in (str(exc.value), repr(exc.value)):
        assert secret not in text
        assert sent["signature"] not in text and sent["nonce-str"] not in text


# --- async (a real local server: tests/unit/_http_script.py) ---------------------------------------


@pytest.fixture
def server() -> Iterator[ScriptServer]:
    with script_server() as started:
        yield started


def ok_response() -> Answer:
    return Answer(200, envelope(data={"orderId": "1"}))


def busy_response(**headers: str) -> Answer:
    return Answer(503, "busy", headers)


def run_async(
    server: ScriptServer,
    secret: str,
    sleep: Callable[[float], Any],
    retry: bool = True,
    base_url: str | None = None,
    **settings: Any,
) -> Any:
    settings.setdefault("max_retries", 3)

    async def go() -> Any:
        client = AsyncXportcnClient(
            Credentials(ACCESS_KEY, secret, USER_ID),
            ClientSettings(base_url=(base_url or server.base_url) + "/api", **settings),
            sleep=sleep,
        )
        try:
            return await client.call(NAME, {"orderId": "1"}, retry=retry)
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("sleep_cls", [AsyncSleeps, Sleeps], ids=["async-sleep", "sync-sleep"])
def test_async_retries_then_succeeds_and_records_waits(
    server: ScriptServer, secret: str, sleep_cls: type
) -> None:
    server.then(busy_response(**{"Retry-After": "4"}), busy_response(), ok_response())
    sleeps = sleep_cls()
    assert run_async(server, secret, sleeps, backoff_initial=1.0, backoff_max=8.0) == {"orderId": "1"}
    assert len(server.requests) == 3
    assert sleeps[0] == 4.0 and 1.0 <= sleeps[1] <= 2.0


@pytest.mark.parametrize("max_retries", [0, 2])
def test_async_attempt_count(server: ScriptServer, secret: str, max_retries: int) -> None:
    server.then(busy_response())
    sleeps = AsyncSleeps()
    with pytest.raises(XportcnTransientError):
        run_async(server, secret, sleeps, max_retries=max_retries)
    assert len(server.requests) == max_retries + 1
    assert len(sleeps) == max_retries


@pytest.mark.parametrize(
    "fault, final",
    [(DROP, XportcnTransientError), (Delay(1.0, Answer(200, envelope(data={}))), XportcnTimeoutError)],
    ids=["dropped", "read-timeout"],
)
def test_async_connection_errors_and_timeouts(
    server: ScriptServer, secret: str, fault: Entry, final: type[XportcnError]
) -> None:
    server.then(fault, fault, ok_response())
    assert run_async(server, secret, AsyncSleeps(), timeout=0.3) == {"orderId": "1"}
    assert len(server.requests) == 3
    server.requests.clear()
    server.script[:] = [fault]
    with pytest.raises(final) as caught:
        run_async(server, secret, AsyncSleeps(), max_retries=1, timeout=0.3)
    assert type(caught.value) is final
    assert len(server.requests) == 2
    # the request reached the server before it failed: whether it was processed is unknown
    assert caught.value.not_processed is False  # type: ignore[attr-defined]


@pytest.mark.parametrize("case, response, error", FINAL_FAILURES, ids=[c[0] for c in FINAL_FAILURES])
def test_async_no_retry_on_final_failures(
    server: ScriptServer, secret: str, case: str, response: dict[str, Any], error: type[XportcnError]
) -> None:
    server.then(Answer(response["status_code"], response["text"]), ok_response())
    with pytest.raises(error):
        run_async(server, secret, AsyncSleeps(), max_retries=5)
    assert len(server.requests) == 1


def test_async_retry_false_is_a_single_attempt(server: ScriptServer, secret: str) -> None:
    server.then(busy_response(), ok_response())
    with pytest.raises(XportcnTransientError):
        run_async(server, secret, AsyncSleeps(), retry=False)
    assert len(server.requests) == 1


def test_async_new_nonce_and_signature_per_attempt(server: ScriptServer, secret: str) -> None:
    server.then(busy_response(), DROP, busy_response(), ok_response())
    run_async(server, secret, AsyncSleeps())
    sent = [r.headers for r in server.requests]
    assert len(sent) == 4
    assert len({h["nonce-str"] for h in sent}) == 4
    assert len({h["signature"] for h in sent}) == 4
    for h in sent:
        assert h["signature"] == md5_signature(h["access-key"], h["timestamp"], h["nonce-str"], secret)


def test_async_exact_request(server: ScriptServer, secret: str) -> None:
    server.then(ok_response())
    run_async(server, secret, AsyncSleeps())
    (request,) = server.requests
    assert request.path == "/api" + CATALOGUE[NAME].path
    assert request.query == {}
    assert request.method == "POST"
    assert request.json() == {"orderId": "1"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == client_mod.USER_AGENT


def test_async_retries_are_logged(
    server: ScriptServer, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.then(busy_response(), ok_response())
    with caplog.at_level(logging.WARNING, logger=client_mod.log.name):
        run_async(server, secret, AsyncSleeps())
    (record,) = [r for r in caplog.records if r.name == client_mod.log.name]
    assert NAME in record.getMessage() and "attempt 1/4" in record.getMessage()
    assert "XportcnTransientError" in record.getMessage()


def test_rate_limit_error_retry_after_is_used_by_async_too(server: ScriptServer, secret: str) -> None:
    server.then(Answer(429, "", {"Retry-After": "9"}), ok_response())
    sleeps = AsyncSleeps()
    run_async(server, secret, sleeps)
    assert sleeps == [9.0]
    assert isinstance(XportcnRateLimitError("x", retry_after=1.0), XportcnError)
