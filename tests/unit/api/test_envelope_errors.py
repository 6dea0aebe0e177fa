"""Envelope parsing and the error mapping (contract §1.2), as one table of cases.

Every case runs three ways: straight through ``interpret_response``, through the sync client
over ``requests`` (requests-mock) and through the async client over ``aiohttp`` (against a local
script server, ``tests/unit/_http_script.py``), so the header plumbing (``Retry-After``) and the
body handling are checked end to end.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from dataclasses import dataclass, replace
from typing import Any

import pytest
import requests_mock as rm

from xportcn_provider.api import errors as E
from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials, XportcnClient
from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.envelope import (
    EXCERPT_CHARS,
    Envelope,
    interpret_response,
    make_envelope,
    parse_envelope,
)

from .._http_script import Answer, script_server
from .._support import ACCESS_KEY, BASE_URL, USER_ID, envelope, fresh_secret

LONG_HTML = "<html><body>" + "B" * 150 + "C" * 300 + "</body></html>"
DATA = "DATA"  # marker: the case succeeds


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    body: str | bytes
    expect: type[E.XportcnError] | str
    data: Any = None
    retryable: bool = False
    code: Any = None
    request_id: str | None = None
    retry_after_header: str | None = None
    retry_after: float | None = None
    excerpt_of: str | None = None  # the body's first 200 chars must be quoted, not more
    words: tuple[str, ...] = ()  # must appear in str(err)


def ok(code: Any = 200, data: Any = None, rid: str = "ok-1") -> str:
    return envelope(code, "成功", data, rid)


def fail(code: Any, msg: str | None, rid: str = "rid-9f") -> str:
    return envelope(code, msg, None, rid)


CASES = [
    # --- success: code 200 whatever the data shape ------------------------------------------
    Case("ok-object", 200, ok(data={"orderId": "1"}), DATA, data={"orderId": "1"}),
    Case("ok-text-zh", 200, ok(data="售后订单取消成功"), DATA, data="售后订单取消成功"),
    Case("ok-null", 200, ok(data=None), DATA, data=None),
    Case("ok-list", 200, ok(data=[1, 2]), DATA, data=[1, 2]),
    Case("ok-code-as-text", 200, ok(code="200", data=1), DATA, data=1),
    Case("ok-http-201", 201, ok(data=True), DATA, data=True),
    # --- HTTP 200 with a failure envelope -----------------------------------------------------
    Case(
        "env-401-zh",
        200,
        fail(401, "签名错误"),
        E.XportcnAuthError,
        code=401,
        request_id="rid-9f",
        words=("secret", "user", "clock"),
    ),
    Case("env-403", 200, fail(403, "user forbidden"), E.XportcnAuthError, code=403, request_id="rid-9f"),
    Case(
        "env-406-clock",
        200,
        fail(406, "timestamp expired"),
        E.XportcnClockSkewError,
        code=406,
        request_id="rid-9f",
        words=("clock",),
    ),
    Case(
        "env-429",
        200,
        fail(429, "too many requests"),
        E.XportcnRateLimitError,
        retryable=True,
        code=429,
        request_id="rid-9f",
    ),
    Case(
        "env-429-retry-after",
        200,
        fail(429, "限流"),
        E.XportcnRateLimitError,
        retryable=True,
        code=429,
        request_id="rid-9f",
        retry_after_header="7",
        retry_after=7.0,
    ),
    Case(
        "env-503",
        200,
        fail(503, "server busy"),
        E.XportcnTransientError,
        retryable=True,
        code=503,
        request_id="rid-9f",
    ),
    Case("env-404", 200, fail(404, "订单不存在"), E.XportcnNotFoundError, code=404, request_id="rid-9f"),
    Case(
        "env-409",
        200,
        fail(409, "state does not allow cancel"),
        E.XportcnConflictError,
        code=409,
        request_id="rid-9f",
    ),
    Case(
        "env-400", 200, fail(400, "参数错误: orderId"), E.XportcnBusinessError, code=400, request_id="rid-9f"
    ),
    Case(
        "env-unknown-code",
        200,
        fail(10086, "余额不足"),
        E.XportcnBusinessError,
        code=10086,
        request_id="rid-9f",
    ),
    Case(
        "env-unknown-code-text",
        200,
        fail("E1001", "unexpected"),
        E.XportcnBusinessError,
        code="E1001",
        request_id="rid-9f",
    ),
    Case("env-null-msg", 200, fail(10087, None), E.XportcnBusinessError, code=10087, request_id="rid-9f"),
    # message heuristics for the real service, whose code table is not published
    Case(
        "msg-signature-en",
        200,
        fail(5001, "Signature mismatch"),
        E.XportcnAuthError,
        code=5001,
        request_id="rid-9f",
        words=("secret",),
    ),
    Case(
        "msg-signature-zh",
        200,
        fail(5002, "签名验证失败"),
        E.XportcnAuthError,
        code=5002,
        request_id="rid-9f",
    ),
    Case(
        "msg-access-key-en",
        200,
        fail(5003, "invalid access key"),
        E.XportcnAuthError,
        code=5003,
        request_id="rid-9f",
    ),
    Case(
        "msg-timestamp-en",
        200,
        fail(5004, "Timestamp out of range"),
        E.XportcnClockSkewError,
        code=5004,
        request_id="rid-9f",
        words=("clock",),
    ),
    Case(
        "msg-timestamp-zh",
        200,
        fail(5005, "时间戳已过期"),
        E.XportcnClockSkewError,
        code=5005,
        request_id="rid-9f",
    ),
    Case(
        "msg-signature-generic-400",
        200,
        fail(400, "sign error: 签名错误"),
        E.XportcnAuthError,
        code=400,
        request_id="rid-9f",
        words=("secret",),
    ),
    Case(
        "msg-timestamp-generic-400",
        200,
        fail(400, "timestamp invalid"),
        E.XportcnClockSkewError,
        code=400,
        request_id="rid-9f",
    ),
    Case(
        "msg-rate-zh",
        200,
        fail(5006, "访问过于频繁"),
        E.XportcnRateLimitError,
        retryable=True,
        code=5006,
        request_id="rid-9f",
    ),
    # --- transient HTTP failures --------------------------------------------------------------
    Case(
        "http-502-html",
        502,
        "<html>Bad Gateway</html>",
        E.XportcnTransientError,
        retryable=True,
        excerpt_of="<html>Bad Gateway</html>",
    ),
    Case("http-503-long-html", 503, LONG_HTML, E.XportcnTransientError, retryable=True, excerpt_of=LONG_HTML),
    Case(
        "http-503-retry-after",
        503,
        "busy",
        E.XportcnTransientError,
        retryable=True,
        retry_after_header="3",
        retry_after=3.0,
    ),
    Case(
        "http-500-envelope",
        500,
        fail(500, "internal", rid="r-500"),
        E.XportcnTransientError,
        retryable=True,
        code=500,
        request_id="r-500",
    ),
    Case("http-408", 408, "", E.XportcnTransientError, retryable=True),
    Case("http-429-no-retry-after", 429, "slow down", E.XportcnRateLimitError, retryable=True),
    Case(
        "http-429-retry-after",
        429,
        "slow down",
        E.XportcnRateLimitError,
        retryable=True,
        retry_after_header="12",
        retry_after=12.0,
    ),
    Case(
        "http-429-retry-after-date",
        429,
        "",
        E.XportcnRateLimitError,
        retryable=True,
        retry_after_header="Wed, 21 Oct 2015 07:28:00 GMT",
        retry_after=0.0,  # an HTTP-date in the past: retry now
    ),
    Case(
        "http-429-envelope",
        429,
        fail(429, "rate limit", rid="r-429"),
        E.XportcnRateLimitError,
        retryable=True,
        code=429,
        request_id="r-429",
        retry_after_header="2",
        retry_after=2.0,
    ),
    # --- final HTTP failures ------------------------------------------------------------------
    Case("http-401-text", 401, "Unauthorized", E.XportcnAuthError, words=("secret",)),
    Case(
        "http-403-envelope",
        403,
        fail(403, "forbidden", rid="r-403"),
        E.XportcnAuthError,
        code=403,
        request_id="r-403",
    ),
    Case(
        "http-404-html",
        404,
        "<html>Not Found</html>",
        E.XportcnEndpointNotFoundError,  # a wrong path, never a business "not found"
        words=("endpoint_overrides", 'not a "record not found"'),
        excerpt_of="<html>Not Found</html>",
    ),
    Case(
        "http-400-envelope",
        400,
        fail(400, "bad param", rid="r-400"),
        E.XportcnBusinessError,
        code=400,
        request_id="r-400",
    ),
    Case("http-418-text", 418, "teapot", E.XportcnProtocolError, excerpt_of="teapot"),
    Case("http-302", 302, "", E.XportcnProtocolError),
    # --- not the envelope ---------------------------------------------------------------------
    Case(
        "json-without-code",
        200,
        json.dumps({"data": 1, "msg": "ok"}),
        E.XportcnProtocolError,
        excerpt_of=json.dumps({"data": 1, "msg": "ok"}),
    ),
    Case("json-list", 200, json.dumps([{"code": 200}]), E.XportcnProtocolError),
    Case("json-string", 200, json.dumps("ok"), E.XportcnProtocolError),
    Case("json-code-null", 200, json.dumps({"code": None, "data": 1}), E.XportcnProtocolError),
    Case("html-200", 200, LONG_HTML, E.XportcnProtocolError, excerpt_of=LONG_HTML),
    Case("empty-200", 200, "", E.XportcnProtocolError),
    Case("bad-utf8-200", 200, b"\xff\xfe\x00garbage", E.XportcnProtocolError),
]


def _check(case: Case, outcome: Any) -> None:
    if case.expect == DATA:
        assert isinstance(outcome, Envelope), outcome
        assert outcome.ok
        assert outcome.data == case.data
        return
    err = outcome
    assert type(err) is case.expect, f"{case.id}: got {type(err).__name__}: {err}"
    assert err.retryable is case.retryable
    assert E.XportcnError in type(err).__mro__
    text = str(err)
    if case.code is not None:
        assert err.code == case.code
        assert f"code={case.code}" in text
    if case.request_id is not None:
        assert err.request_id == case.request_id
        assert case.request_id in text
    if case.status >= 300:
        assert err.http_status == case.status
    if isinstance(err, E.XportcnRateLimitError | E.XportcnTransientError):
        assert err.retry_after == case.retry_after
    for word in case.words:
        assert word in text.lower()
    if case.excerpt_of is not None:
        body = case.excerpt_of
        assert body[:EXCERPT_CHARS] in text
        if len(body) > EXCERPT_CHARS:
            assert body[: EXCERPT_CHARS + 1] not in text
    assert "C" * 51 not in text  # never more than 200 chars of LONG_HTML


def _direct(case: Case) -> Any:
    try:
        return interpret_response(
            endpoint="order_detail",
            http_status=case.status,
            body=case.body,
            retry_after=case.retry_after_header,
        )
    except E.XportcnError as err:
        return err


def _settings() -> ClientSettings:
    return ClientSettings(base_url=BASE_URL, max_retries=0)


def _sync(case: Case, secret: str) -> tuple[Any, dict[str, str]]:
    client = XportcnClient(Credentials(ACCESS_KEY, secret, USER_ID), _settings())
    headers = {"Retry-After": case.retry_after_header} if case.retry_after_header else {}
    body = case.body.encode() if isinstance(case.body, str) else case.body
    with rm.Mocker() as m:
        m.post(
            BASE_URL + CATALOGUE["order_detail"].path, status_code=case.status, content=body, headers=headers
        )
        try:
            outcome: Any = client.call_envelope("order_detail", {"orderId": "1"})
        except E.XportcnError as err:
            outcome = err
        sent = dict(m.last_request.headers)
    return outcome, sent


def _async(case: Case, secret: str) -> tuple[Any, dict[str, str]]:
    headers = {"Retry-After": case.retry_after_header} if case.retry_after_header else {}
    body = case.body.encode() if isinstance(case.body, str) else case.body

    async def run(base_url: str) -> Any:
        settings = replace(_settings(), base_url=base_url)
        client = AsyncXportcnClient(Credentials(ACCESS_KEY, secret, USER_ID), settings)
        try:
            return await client.call_envelope("order_detail", {"orderId": "1"})
        except E.XportcnError as err:
            return err
        finally:
            await client.aclose()

    with script_server(Answer(case.status, body, headers)) as server:
        outcome = asyncio.run(run(server.base_url + "/api"))
        sent = dict(server.requests[-1].headers)
    return outcome, sent


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_interpret_response(case: Case) -> None:
    _check(case, _direct(case))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sync_client(case: Case) -> None:
    secret = fresh_secret()
    outcome, sent = _sync(case, secret)
    _check(case, outcome)
    if isinstance(outcome, E.XportcnError):
        _assert_no_secret(outcome, secret, sent)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_async_client(case: Case) -> None:
    secret = fresh_secret()
    outcome, sent = _async(case, secret)
    _check(case, outcome)
    if isinstance(outcome, E.XportcnError):
        _assert_no_secret(outcome, secret, {k.lower(): v for k, v in sent.items()})


def _assert_no_secret(err: BaseException, secret: str, sent_headers: dict[str, str]) -> None:
    for text in (str(err), repr(err), str(err.args)):
        assert secret not in text
        for name in ("timestamp", "nonce-str", "signature"):
            value = sent_headers.get(name)
            if value:
                assert value not in text, f"header {name} leaked into {text!r}"


def test_every_error_class_is_covered_by_the_table() -> None:
    leaf_classes = {
        E.XportcnAuthError,
        E.XportcnClockSkewError,
        E.XportcnRateLimitError,
        E.XportcnTransientError,
        E.XportcnBusinessError,
        E.XportcnNotFoundError,
        E.XportcnConflictError,
        E.XportcnProtocolError,
    }
    assert leaf_classes <= {c.expect for c in CASES}


def test_only_transient_classes_are_retryable() -> None:
    assert E.XportcnTransientError.retryable and E.XportcnTimeoutError.retryable
    assert E.XportcnRateLimitError.retryable
    for cls in (
        E.XportcnError,
        E.XportcnValidationError,
        E.XportcnAuthError,
        E.XportcnClockSkewError,
        E.XportcnBusinessError,
        E.XportcnNotFoundError,
        E.XportcnConflictError,
        E.XportcnProtocolError,
    ):
        assert cls.retryable is False, cls


def test_validation_error_is_a_value_error() -> None:
    err = E.XportcnValidationError("bad", parameter="order_id")
    assert isinstance(err, ValueError)
    assert err.parameter == "order_id"


@pytest.mark.parametrize(
    "err",
    [
        E.XportcnError(
            "m", endpoint="order_detail", http_status=200, code=10086, msg="余额不足", request_id="r1"
        ),
        E.XportcnValidationError("bad order_id", parameter="order_id", endpoint="order_detail"),
        E.XportcnAuthError("auth", endpoint="x", http_status=200, code=401, msg="签名错误", request_id="r2"),
        E.XportcnClockSkewError("clock", code=406, request_id="r3"),
        E.XportcnRateLimitError("slow", retry_after=7.5, endpoint="x", http_status=429, request_id="r4"),
        E.XportcnTransientError("busy", retry_after=None, endpoint="x", http_status=503),
        E.XportcnTimeoutError("timeout", endpoint="x"),
        E.XportcnBusinessError("no", code="E1", msg="m", request_id="r5"),
        E.XportcnNotFoundError("nf", code=404),
        E.XportcnConflictError("cf", code=409),
        E.XportcnProtocolError("proto", http_status=200),
    ],
    ids=lambda e: type(e).__name__,
)
def test_pickling_round_trips_fields(err: E.XportcnError) -> None:
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert clone.__dict__ == err.__dict__
    assert str(clone) == str(err)
    assert clone.args == err.args
    assert clone.retryable is err.retryable


def test_pickling_a_mapped_error_keeps_code_msg_and_request_id() -> None:
    err = _direct(CASES[[c.id for c in CASES].index("env-429-retry-after")])
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.code, clone.msg, clone.request_id, clone.retry_after) == (429, "限流", "rid-9f", 7.0)


def test_error_str_carries_request_id_code_and_endpoint() -> None:
    err = E.error_from_envelope(
        endpoint="refund_cancel", http_status=200, code=409, msg="已取消", request_id="ab12"
    )
    text = str(err)
    assert "refund_cancel" in text and "code=409" in text and "requestId=ab12" in text and "已取消" in text


@pytest.mark.parametrize(
    "value, seconds",
    [(None, None), ("", None), ("0", 0.0), ("5", 5.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert E.parse_retry_after(value) == seconds


def test_parse_envelope_fields() -> None:
    body = (
        '{"requestId": "ef3eb87802e645708d5896b548410756", "code": 200, '
        '"developId": "1356764224096829747", "msg": "成功", "data": "售后订单取消成功"}'
    )
    env = parse_envelope(body, endpoint="refund_cancel", http_status=200)
    assert env == Envelope(
        200, "成功", "售后订单取消成功", "ef3eb87802e645708d5896b548410756", "1356764224096829747"
    )
    assert env.ok


def test_make_envelope_round_trips() -> None:
    doc = make_envelope(data={"a": 1}, request_id="r")
    env = parse_envelope(json.dumps(doc), endpoint=None, http_status=200)
    assert env.ok and env.data == {"a": 1} and env.request_id == "r" and env.msg == "成功"
    assert not parse_envelope(json.dumps(make_envelope(409)), endpoint=None, http_status=200).ok
