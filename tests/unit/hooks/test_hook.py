"""XportcnHook: connection reading, exact requests, validation before I/O, retries, test_connection.

Connections come from ``AIRFLOW_CONN_*`` environment variables (JSON and URI forms), HTTP from
requests-mock: no database, no network.
"""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
import requests_mock as rm
from airflow.sdk import Connection
from structlog.testing import capture_logs

from xportcn_provider.api.client import XportcnClient
from xportcn_provider.api.endpoints import CATALOGUE, ENDPOINT_NAMES
from xportcn_provider.api.errors import XportcnAuthError, XportcnProtocolError, XportcnValidationError
from xportcn_provider.hooks.xportcn import XportcnHook

from .._support import ACCESS_KEY, BASE_URL, CONTRACT_HEADERS, USER_ID, envelope, fresh_secret, md5_signature

CONN_ID = "xportcn_default"
ENV = "AIRFLOW_CONN_XPORTCN_DEFAULT"
REFUND_ID = "TQ260923837649136042"
DEFAULT_REQUESTS_HEADERS = {"accept", "accept-encoding", "connection", "content-length"}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def conn_json(secret: str, *, host: str | None = BASE_URL, drop: tuple[str, ...] = (), **extra: Any) -> str:
    doc: dict[str, Any] = {
        "conn_type": "xportcn",
        "host": host,
        "login": ACCESS_KEY,
        "password": secret,
        "extra": {"user_id": USER_ID, **extra},
    }
    for key in drop:
        if key == "user_id":
            doc["extra"].pop("user_id")
        else:
            doc.pop(key)
    return json.dumps(doc)


def conn_uri(secret: str, host: str = "127.0.0.1", port: int = 8765, **query: str) -> str:
    params = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in {"user_id": USER_ID, **query}.items())
    return f"xportcn://{ACCESS_KEY}:{quote(secret, safe='')}@{host}:{port}/api?{params}"


@pytest.fixture
def secret() -> str:
    return fresh_secret()


@pytest.fixture
def json_conn(monkeypatch: pytest.MonkeyPatch, secret: str) -> str:
    monkeypatch.setenv(ENV, conn_json(secret))
    return secret


def url(name: str, base: str = BASE_URL) -> str:
    return base + CATALOGUE[name].path


def assert_signed(headers: Any, secret: str) -> None:
    h = {k.lower(): v for k, v in headers.items()}
    assert h["access-key"] == ACCESS_KEY
    assert h["user-id"] == USER_ID
    assert re.fullmatch(r"\d{10}", h["timestamp"])
    assert re.fullmatch(r"[A-Za-z0-9]{32}", h["nonce-str"])
    # An independent MD5 of what the server received reproduces the signature.
    assert h["signature"] == md5_signature(h["access-key"], h["timestamp"], h["nonce-str"], secret)


# --- construction -----------------------------------------------------------------------------


def test_class_attributes() -> None:
    assert XportcnHook.conn_name_attr == "xportcn_conn_id"
    assert XportcnHook.default_conn_name == "xportcn_default"
    assert XportcnHook.conn_type == "xportcn"
    assert XportcnHook.hook_name == "Xportcn"
    assert XportcnHook().xportcn_conn_id == "xportcn_default"


def test_init_does_no_io() -> None:
    with mock.patch.object(
        XportcnHook, "get_connection", side_effect=AssertionError("I/O in __init__")
    ) as get:
        hook = XportcnHook(xportcn_conn_id="does_not_exist", timeout=3, max_retries=1)
    get.assert_not_called()
    assert hook.xportcn_conn_id == "does_not_exist"


def test_nonexistent_connection_fails_only_on_use() -> None:
    hook = XportcnHook(xportcn_conn_id="does_not_exist")
    with pytest.raises(Exception, match="does_not_exist"):
        _ = hook.config


def test_connection_is_read_once(requests_mock: rm.Mocker, secret: str) -> None:
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="xportcn",
        host=BASE_URL,
        login=ACCESS_KEY,
        password=secret,
        extra=json.dumps({"user_id": USER_ID}),
    )
    requests_mock.post(url("refund_detail"), text=envelope(data={"refundId": REFUND_ID}))
    requests_mock.post(url("address_list"), text=envelope(data=[]))
    with mock.patch.object(XportcnHook, "get_connection", return_value=conn) as get:
        hook = XportcnHook()
        for _ in range(3):
            hook.refund_detail(refund_id=REFUND_ID)
        hook.call("refund_detail", {"refundId": REFUND_ID})
        assert hook.test_connection()[0] is True
        _ = hook.console_url, hook.get_conn(), hook.last_request_id
    get.assert_called_once_with(CONN_ID)
    assert requests_mock.call_count == 5


# --- exact requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["json", "uri"])
def test_typed_call_exact_request(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    secret = fresh_secret() + "/+:@"  # characters the URI form must carry percent-encoded
    if form == "json":
        monkeypatch.setenv(ENV, conn_json(secret))
        base = BASE_URL
    else:
        monkeypatch.setenv(ENV, conn_uri(secret, protocol="http"))
        base = "http://127.0.0.1:8765/api"
    requests_mock.post(url("refund_cancel", base), text=envelope(data="售后订单取消成功", request_id="rq-77"))

    hook = XportcnHook()
    assert hook.refund_cancel(refund_id=REFUND_ID) == "售后订单取消成功"
    assert hook.last_request_id == "rq-77"

    (request,) = requests_mock.request_history
    assert request.method == "POST"
    assert request.url == base + "/alibaba/ka/refund/cancel"
    assert request.json() == {"refundId": REFUND_ID}
    assert_signed(request.headers, secret)
    names = {k.lower() for k in request.headers}
    assert names - DEFAULT_REQUESTS_HEADERS == {*CONTRACT_HEADERS, "content-type", "user-agent"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("airflow-provider-xportcn/")
    assert secret not in json.dumps(dict(request.headers)) and secret not in (request.text or "")


def test_uri_form_defaults_to_https(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv(ENV, conn_uri(secret, host="www.xportcn.test", port=443))
    requests_mock.post("https://www.xportcn.test:443/api/alibaba/ka/order/detail", text=envelope(data={}))
    XportcnHook().order_detail(order_id="1")
    assert requests_mock.called_once


def test_default_base_url_when_host_is_empty(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, host=None))
    assert XportcnHook().config.settings.base_url == "https://www.xportcn.com/api"


def test_query_signed_call(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("freight_estimate"), text=envelope(data={"price": 1}))
    XportcnHook().freight_estimate(country="US", weight=1.5)
    request = requests_mock.last_request
    assert_signed(request.headers, json_conn)
    assert request.url.split("?")[0] == url("freight_estimate")
    query = dict(p.split("=") for p in request.url.split("?")[1].split("&"))
    assert query == {"timestamp": request.headers["timestamp"], "sign": request.headers["signature"]}


def test_get_endpoint_has_no_body(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.get(url("logistics_companies"), text=envelope(data=[{"no": "SF"}]))
    assert XportcnHook().logistics_companies() == [{"no": "SF"}]
    request = requests_mock.last_request
    assert request.method == "GET" and not request.body
    assert_signed(request.headers, json_conn)


def test_get_conn_is_the_one_client(json_conn: str) -> None:
    hook = XportcnHook()
    assert isinstance(hook.get_conn(), XportcnClient)
    assert hook.get_conn() is hook.get_conn() is hook.client


# --- validation before any HTTP call --------------------------------------------------------------


@pytest.mark.parametrize(
    "drop, parameter",
    [(("login",), "login"), (("password",), "password"), (("user_id",), "extra.user_id")],
)
def test_missing_credentials_named_before_any_request(
    requests_mock: rm.Mocker,
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    drop: tuple[str, ...],
    parameter: str,
) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, drop=drop))
    hook = XportcnHook()
    with pytest.raises(XportcnValidationError) as exc:
        hook.order_detail(order_id="1")
    assert exc.value.parameter == parameter
    assert parameter.split(".")[-1] in str(exc.value)
    assert CONN_ID in str(exc.value)
    ok, message = XportcnHook().test_connection()
    assert ok is False and parameter.split(".")[-1] in message
    assert "answered" not in message  # nothing was sent
    assert requests_mock.call_count == 0


def test_all_missing_credentials_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "xportcn", "host": BASE_URL}))
    with pytest.raises(XportcnValidationError) as exc:
        _ = XportcnHook().config
    for word in ("login", "password", "user_id"):
        assert word in str(exc.value)


def test_user_id_from_the_connection_form_prefix(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    doc = json.loads(conn_json(secret, drop=("user_id",)))
    doc["extra"] = {"extra__xportcn__user_id": "777", "extra__xportcn__timeout": "12"}
    monkeypatch.setenv(ENV, json.dumps(doc))
    config = XportcnHook().config
    assert config.credentials.user_id == "777"
    assert config.settings.timeout == 12.0


def test_required_field_names_the_snake_case_kwarg(requests_mock: rm.Mocker, json_conn: str) -> None:
    hook = XportcnHook()
    with pytest.raises(XportcnValidationError) as exc:
        hook.refund_cancel(refund_id="")
    assert exc.value.parameter == "refund_id"
    with pytest.raises(XportcnValidationError) as exc:
        hook.order_create(out_order_id="OUT-1", address_param={"fullName": "A"}, cargo_param_list=[])
    assert exc.value.parameter == "cargo_param_list"
    with pytest.raises(XportcnValidationError) as exc:
        hook.intl_logistics_create(
            render_id="FF1", receiver_address={"n": 1}, line_items=[{"i": 1}], tmall_order_id=""
        )
    assert exc.value.parameter == "tmall_order_id"
    assert requests_mock.call_count == 0


def test_extra_clash_is_rejected_before_any_request(requests_mock: rm.Mocker, json_conn: str) -> None:
    with pytest.raises(XportcnValidationError) as exc:
        XportcnHook().refund_cancel(refund_id=REFUND_ID, extra={"refundId": "TQ-other"})
    assert exc.value.parameter == "extra" and "refundId" in str(exc.value)
    assert requests_mock.call_count == 0


def test_extra_adds_fields(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("refund_cancel"), text=envelope(data="ok"))
    XportcnHook().refund_cancel(refund_id=REFUND_ID, extra={"reason": "duplicate"})
    assert requests_mock.last_request.json() == {"refundId": REFUND_ID, "reason": "duplicate"}


def test_unknown_endpoint_name_fails_before_reading_the_connection(requests_mock: rm.Mocker) -> None:
    with mock.patch.object(XportcnHook, "get_connection") as get:
        hook = XportcnHook()
        with pytest.raises(XportcnValidationError) as exc:
            hook.call("refund_apply", {})
        with pytest.raises(XportcnValidationError):
            hook.paginate("orders_list")
    get.assert_not_called()
    assert "refund_create" in str(exc.value)
    assert requests_mock.call_count == 0


# --- overrides ------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "json-string"])
def test_endpoint_override_is_applied(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str, as_text: bool
) -> None:
    overrides: Any = {"refund_create": "/alibaba/ka/refund/apply"}
    monkeypatch.setenv(
        ENV, conn_json(secret, endpoint_overrides=json.dumps(overrides) if as_text else overrides)
    )
    requests_mock.post(BASE_URL + "/alibaba/ka/refund/apply", text=envelope(data={"refundId": REFUND_ID}))
    data = XportcnHook().refund_create(
        order_id="1001", order_entry_ids=["3001"], dispute_request="refund", apply_payment=100
    )
    assert data == {"refundId": REFUND_ID}
    assert requests_mock.last_request.url == BASE_URL + "/alibaba/ka/refund/apply"


def test_endpoint_override_in_uri_form(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    overrides = json.dumps({"order_detail": "/alibaba/ka/order/get"})
    monkeypatch.setenv(ENV, conn_uri(secret, protocol="http", endpoint_overrides=overrides))
    requests_mock.post("http://127.0.0.1:8765/api/alibaba/ka/order/get", text=envelope(data={}))
    XportcnHook().order_detail(order_id="1")
    assert requests_mock.called_once


@pytest.mark.parametrize(
    "overrides, word",
    [
        ({"refund_apply": "/alibaba/ka/refund/apply"}, "refund_apply"),
        ({"refund_create": "https://elsewhere.example/refund"}, "refund_create"),
        ("{not json", "endpoint_overrides"),
        (json.dumps(["refund_create"]), "endpoint_overrides"),
    ],
)
def test_bad_overrides_fail_at_start_up(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str, overrides: Any, word: str
) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, endpoint_overrides=overrides))
    hook = XportcnHook()
    with pytest.raises(XportcnValidationError) as exc:
        _ = hook.config
    assert word in str(exc.value)
    if word == "refund_apply":
        assert all(name in str(exc.value) for name in ENDPOINT_NAMES)
    assert requests_mock.call_count == 0


# --- timeout and retries ------------------------------------------------------------------------


def test_timeout_and_max_retries_from_extra(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, timeout=7, max_retries=2))
    requests_mock.post(url("order_detail"), status_code=503, text="busy")
    hook = XportcnHook()
    assert (hook.config.settings.timeout, hook.config.settings.max_retries) == (7.0, 2)
    hook.client.sleep = Sleeps()
    with pytest.raises(Exception, match="HTTP 503"):
        hook.order_detail(order_id="1")
    assert requests_mock.call_count == 3
    assert {r.timeout for r in requests_mock.request_history} == {7.0}


def test_timeout_and_max_retries_from_uri_text(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv(ENV, conn_uri(secret, timeout="4.5", max_retries="1"))
    settings = XportcnHook().config.settings
    assert (settings.timeout, settings.max_retries) == (4.5, 1)


def test_hook_kwargs_override_extra(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, timeout=7, max_retries=2))
    requests_mock.post(url("order_detail"), status_code=503, text="busy")
    hook = XportcnHook(timeout=3, max_retries=0)
    with pytest.raises(Exception, match="HTTP 503"):
        hook.order_detail(order_id="1")
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.timeout == 3


def test_defaults_without_extra(json_conn: str) -> None:
    settings = XportcnHook().config.settings
    assert settings.timeout == 30.0 and settings.max_retries == 5


@pytest.mark.parametrize(
    "extra, kwargs, parameter",
    [
        ({"timeout": "soon"}, {}, "timeout"),
        ({"timeout": 0}, {}, "timeout"),
        ({"max_retries": "many"}, {}, "max_retries"),
        ({"max_retries": -1}, {}, "max_retries"),
        ({"max_retries": 2.5}, {}, "max_retries"),
        ({"max_retries": True}, {}, "max_retries"),
        ({}, {"timeout": -1}, "timeout"),
        ({}, {"max_retries": -2}, "max_retries"),
    ],
)
def test_bad_timeout_or_retries_are_rejected(
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    extra: dict[str, Any],
    kwargs: dict[str, Any],
    parameter: str,
) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, **extra))
    with pytest.raises(XportcnValidationError) as exc:
        _ = XportcnHook(**kwargs).config
    assert exc.value.parameter == parameter


def test_hook_retries_are_logged(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv(ENV, conn_json(secret, max_retries=3))
    requests_mock.post(
        url("order_detail"),
        [
            {"status_code": 503, "text": "busy"},
            {"status_code": 429, "text": "", "headers": {"Retry-After": "2"}},
            {"status_code": 200, "text": envelope(data={"orderId": "1"})},
        ],
    )
    hook = XportcnHook()
    sleeps = Sleeps()
    hook.client.sleep = sleeps
    with capture_logs() as logs:
        assert hook.order_detail(order_id="1") == {"orderId": "1"}
    retries = [e for e in logs if e["log_level"] == "warning" and "attempt" in e["event"]]
    assert len(retries) == 2
    assert "order_detail" in retries[0]["event"] and "attempt 1/4" in retries[0]["event"]
    assert "HTTP 503" in retries[0]["event"]
    assert "attempt 2/4" in retries[1]["event"] and "XportcnRateLimitError" in retries[1]["event"]
    assert sleeps[1] == 2.0
    assert all(secret not in e["event"] for e in logs)
    assert len({r.headers["nonce-str"] for r in requests_mock.request_history}) == 3


# --- test_connection ----------------------------------------------------------------------------


def test_test_connection_success(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("address_list"), text=envelope(data=[]))
    ok, message = XportcnHook().test_connection()
    assert ok is True
    assert BASE_URL in message
    assert_signed(requests_mock.last_request.headers, json_conn)


@pytest.mark.parametrize(
    "body, words",
    [
        (envelope(401, "签名错误"), ("secret", "user id", "clock")),
        (envelope(5001, "invalid signature"), ("secret", "user id", "clock")),
        (envelope(406, "timestamp expired"), ("clock",)),
    ],
)
def test_test_connection_auth_failure(
    requests_mock: rm.Mocker, json_conn: str, body: str, words: tuple[str, ...]
) -> None:
    requests_mock.post(url("address_list"), text=body)
    ok, message = XportcnHook().test_connection()
    assert ok is False
    for word in words:
        assert word in message.lower()
    assert "req-1" in message
    assert json_conn not in message
    assert requests_mock.call_count == 1  # auth failures are never retried


def test_test_connection_other_failures(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("address_list"), text=envelope(400, "bad"))
    ok, message = XportcnHook().test_connection()
    assert ok is False and "bad" in message


def test_test_connection_never_raises_for_a_missing_connection() -> None:
    ok, message = XportcnHook(xportcn_conn_id="does_not_exist").test_connection()
    assert ok is False and "does_not_exist" in message


def test_auth_error_from_a_typed_call(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("order_detail"), text=envelope(401, "签名错误", request_id="r-auth"))
    with pytest.raises(XportcnAuthError) as exc:
        XportcnHook().order_detail(order_id="1")
    assert exc.value.request_id == "r-auth"
    assert json_conn not in str(exc.value) and json_conn not in repr(exc.value)


# --- pagination ---------------------------------------------------------------------------------


def page(items: list[Any], total: int | None = None) -> str:
    data: dict[str, Any] = {"list": items}
    if total is not None:
        data["total"] = total
    return envelope(data=data)


def test_paginate_over_three_pages(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(
        url("order_list"), [{"text": page([1, 2])}, {"text": page([3, 4])}, {"text": page([5])}]
    )
    items = list(XportcnHook().paginate("order_list", {"status": "waitsellersend"}, page_size=2))
    assert items == [1, 2, 3, 4, 5]
    bodies = [r.json() for r in requests_mock.request_history]
    assert bodies == [{"status": "waitsellersend", "pageNo": n, "pageSize": 2} for n in (1, 2, 3)]
    for r in requests_mock.request_history:
        assert_signed(r.headers, json_conn)


def test_paginate_stops_at_total_and_is_lazy(requests_mock: rm.Mocker, json_conn: str) -> None:
    rows = [{"orderId": i, "status": "waitsellersend" if i != 3 else "success"} for i in (1, 2, 3, 4)]
    requests_mock.post(
        url("order_list"), [{"text": page(rows[:2], total=4)}, {"text": page(rows[2:], total=4)}]
    )
    iterator = XportcnHook().iter_orders(status="waitsellersend", page_size=2)
    assert requests_mock.call_count == 0
    assert next(iterator)["orderId"] == 1
    assert requests_mock.call_count == 1
    # The status is filtered here, not sent (a server-side filter skips rows that change mid-read).
    assert [r["orderId"] for r in iterator] == [2, 4]
    assert requests_mock.call_count == 2
    assert all("status" not in r.json() for r in requests_mock.request_history)


def test_paginate_product_search_uses_begin_page(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("product_search"), [{"text": page([1, 2])}, {"text": page([])}])
    assert list(XportcnHook().paginate("product_search", {"keyword": "cup"}, page_size=2)) == [1, 2]
    assert [r.json()["beginPage"] for r in requests_mock.request_history] == [1, 2]


def test_paginate_max_pages(requests_mock: rm.Mocker, json_conn: str) -> None:
    requests_mock.post(url("order_list"), [{"text": page([i, i + 1])} for i in range(1, 20, 2)])
    assert list(XportcnHook().paginate("order_list", page_size=2, max_pages=3)) == [1, 2, 3, 4, 5, 6]
    assert requests_mock.call_count == 3


def test_paginate_refuses_a_page_that_repeats_the_previous_one(
    requests_mock: rm.Mocker, json_conn: str
) -> None:
    """A service that ignores the page field must not make a read loop or repeat rows (issue 12)."""
    requests_mock.post(url("order_list"), text=page([1, 2]))
    with pytest.raises(XportcnProtocolError, match="pageNo") as err:
        list(XportcnHook().paginate("order_list", page_size=2))
    assert err.value.endpoint == "order_list"
    assert requests_mock.call_count == 2


def test_paginate_rejects_non_list_endpoint(requests_mock: rm.Mocker, json_conn: str) -> None:
    with pytest.raises(XportcnValidationError):
        list(XportcnHook().paginate("order_detail"))
    assert requests_mock.call_count == 0


# --- console url --------------------------------------------------------------------------------


def test_console_url(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv(ENV, conn_json(secret))
    assert XportcnHook().console_url == "https://www.xportcn.com"
    monkeypatch.setenv(ENV, conn_json(secret, console_url="https://console.example/"))
    assert XportcnHook().console_url == "https://console.example"
