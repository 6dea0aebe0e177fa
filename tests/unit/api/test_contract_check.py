"""The checker's decisions without a server (issue 12 items 2-4, issue 13 item 4)."""

from __future__ import annotations

import pytest

from xportcn_provider.api.contract_check import (
    FIRST_PROBE,
    Attempt,
    CheckReport,
    EndpointReport,
    Paging,
    auth_cause,
    classify,
    load_record,
    probe_body,
    select_endpoints,
)
from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.errors import (
    XportcnAuthError,
    XportcnBusinessError,
    XportcnClockSkewError,
    XportcnError,
    XportcnNotFoundError,
    XportcnProtocolError,
    XportcnRateLimitError,
    XportcnTimeoutError,
    XportcnTransientError,
    XportcnValidationError,
)

WRITES = [e for e in CATALOGUE.values() if not e.read_only]


@pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: e.name)
def test_a_write_probe_is_an_empty_body_the_server_must_refuse(endpoint: object) -> None:
    assert probe_body(endpoint) == {}  # type: ignore[arg-type]
    # An empty body can only be refused if the endpoint has required fields.
    assert endpoint.required, f"{endpoint.name} has no required field: an empty body could succeed"  # type: ignore[attr-defined]


def test_read_probes_use_ids_that_cannot_exist_and_the_first_page() -> None:
    assert probe_body(CATALOGUE["order_detail"]) == {"orderId": "0"}
    assert probe_body(CATALOGUE["order_list"]) == {"pageNo": 1, "pageSize": 1}
    assert probe_body(CATALOGUE["product_search"]) == {
        "keyword": "xportcn-check",
        "beginPage": 1,
        "pageSize": 1,
    }
    assert probe_body(CATALOGUE["logistics_companies"]) is None  # a GET without fields sends nothing
    # Complex required fields (addresses, cargo) are left out: the server answers "invalid".
    assert probe_body(CATALOGUE["order_preview"]) == {}


@pytest.mark.parametrize(
    "error, result",
    [
        (None, "ok"),
        (XportcnBusinessError("x", code=400, msg="orderId is required"), "ok"),
        (XportcnNotFoundError("x", code=404, msg="order not found", http_status=200), "ok"),
        (XportcnNotFoundError("x", http_status=404), "moved"),
        (XportcnError("x", http_status=405), "moved"),
        (XportcnBusinessError("x", code=1004, msg="接口不存在"), "moved"),
        (XportcnBusinessError("x", code=1004, msg="No such route /x"), "moved"),
        (XportcnTransientError("x", code=500, msg="no handler found for /x", http_status=200), "moved"),
        (XportcnAuthError("x", code=401, msg="签名错误"), "auth"),
        (XportcnClockSkewError("x", code=406), "auth"),
        (XportcnTransientError("x", http_status=502), "error"),
        (XportcnTimeoutError("x"), "error"),
        (XportcnProtocolError("x", http_status=200), "error"),
        (XportcnRateLimitError("x", http_status=429), "error"),
    ],
)
def test_classification(error: XportcnError | None, result: str) -> None:
    assert classify(error) == result


@pytest.mark.parametrize(
    "error, cause",
    [
        (XportcnAuthError("x", code=401), "signature"),
        (XportcnAuthError("x", code=402), "access_key"),
        (XportcnAuthError("x", code=403), "user_id"),
        (XportcnClockSkewError("x", code=406), "clock"),
        (XportcnAuthError("x", code=9001, msg="签名校验失败"), "signature"),
        (XportcnAuthError("x", code=9002, msg="AccessKey not exist"), "access_key"),
        (XportcnAuthError("x", code=9003, msg="用户无权限"), "user_id"),
        (XportcnAuthError("x", code=9004, msg="denied"), "other"),
    ],
)
def test_auth_cause(error: XportcnError, cause: str) -> None:
    assert auth_cause(error) == cause


def test_selection_puts_the_cheap_read_first_and_needs_include_writes_for_writes() -> None:
    reads = select_endpoints(None, include_writes=False)
    assert reads[0].name == FIRST_PROBE and all(e.read_only for e in reads)
    everything = select_endpoints(None, include_writes=True)
    assert len(everything) == len(CATALOGUE)
    assert [e.read_only for e in everything] == sorted((e.read_only for e in everything), reverse=True)
    with pytest.raises(XportcnValidationError, match="--include-writes"):
        select_endpoints(["order_create"], include_writes=False)
    with pytest.raises(XportcnValidationError, match="order_detail"):
        select_endpoints(["order_detials"], include_writes=False)


def _entry(name: str, *results: str, found_at: str | None = None) -> EndpointReport:
    entry = EndpointReport(name, "inferred", "POST", CATALOGUE[name].path, found_at=found_at)
    entry.attempts = [Attempt(name, "/p", r, 1.0) for r in results]  # type: ignore[arg-type]
    return entry


def test_exit_codes_and_overrides() -> None:
    report = CheckReport(
        "http://x/api", "md5", [_entry("order_list", "ok", found_at="/alibaba/ka/order/list")]
    )
    assert report.exit_code == 0
    report.endpoints.append(_entry("order_detail", "moved", "ok", found_at="/alibaba/order/detail"))
    assert report.exit_code == 1 and report.overrides == {"order_detail": "/alibaba/order/detail"}
    report.endpoints.append(_entry("refund_detail", "moved", "moved"))
    assert report.missing == ["refund_detail"] and report.exit_code == 1
    report.endpoints.append(_entry("address_list", "error"))
    assert report.exit_code == 2
    clean = CheckReport("http://x/api", "md5", [_entry("order_list", "ok")])
    clean.endpoints[0].paging = Paging("order_list", "repeats", "page 2 repeats page 1")
    assert clean.exit_code == 1
    stopped = CheckReport("http://x/api", "md5", stopped="authentication refused")
    assert stopped.exit_code == 2
    stopped.accepted_rule = "hmac-md5"
    assert stopped.exit_code == 1


def test_a_stale_override_that_the_catalogue_path_fixes_is_dropped() -> None:
    report = CheckReport("http://x/api", "md5", current_overrides={"order_detail": "/wrong"})
    report.endpoints.append(_entry("order_detail", "moved", "ok", found_at=CATALOGUE["order_detail"].path))
    assert report.overrides == {}


def test_record_loading_refuses_other_files() -> None:
    with pytest.raises(XportcnValidationError, match="not JSON"):
        load_record("{")
    with pytest.raises(XportcnValidationError, match="--record"):
        load_record('{"shapes": {}}')
