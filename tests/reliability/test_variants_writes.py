"""Issue 11 items 10, 12, 14 and ``order_pay`` without a ``payUrl``: write answers against variants.

A write that answers ``code: 200`` used to be reported as done whatever its ``data`` said and
whatever the record showed afterwards. Now the operators refuse a ``data`` that reports a failure
and read the record back (``xportcn_provider.api.readback``); each test runs the variant that
fooled the old code. Real HTTP against the sandbox, operators called through ``execute``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from xportcn_provider.api.errors import (
    XportcnConflictError,
    XportcnEndpointNotFoundError,
    XportcnWriteNotAppliedError,
)
from xportcn_provider.api.readback import confirm_write, failure_in_answer
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.operators.base import XportcnBaseOperator
from xportcn_provider.operators.logistics import XportcnUpdateDomesticLogisticsOperator
from xportcn_provider.operators.orders import XportcnPayOrderOperator
from xportcn_provider.operators.refunds import (
    XportcnCancelRefundOperator,
    XportcnSubmitReturnLogisticsOperator,
)
from xportcn_provider.operators.wms import XportcnForecastPackageOperator, XportcnUpdatePackageOperator
from xportcn_provider.sandbox import SandboxHandle

from .conftest import make_context, set_default_conn


@pytest.fixture(autouse=True)
def _fast_readback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(XportcnBaseOperator, "readback_delay", 0.0)
    yield


def _open_refund(handle: SandboxHandle, status: str = "waitselleragree") -> str:
    """A refund on a received order, held in ``status`` (the sandbox's clock does not move it)."""
    control = handle.control
    (order_id,) = control.seed_orders(1, status="confirm_goods", quantity=2)
    entry = control.get("order", order_id)["productItems"][0]["subItemID"]
    body = {
        "orderId": order_id,
        "orderEntryIds": [entry],
        "disputeRequest": "returnRefund",
        "applyPayment": 100,
        "goodsStatus": "received",
    }
    refund_id = str(XportcnHook().call("refund_create", body)["refundId"])
    control.force("refund", refund_id, status, hold=True)
    control.clear_calls()
    return refund_id


@pytest.mark.parametrize("variant", ["write_failure_data", "write_ignored"])
def test_cancel_refund_is_read_back(xportcn_default_conn: SandboxHandle, variant: str) -> None:
    """Item 12: cancel-refund reported ``refundclose`` on any code 200."""
    refund_id = _open_refund(xportcn_default_conn)
    xportcn_default_conn.control.set_variants(variant)
    ti_context = make_context()
    with pytest.raises(XportcnWriteNotAppliedError) as err:
        XportcnCancelRefundOperator(task_id="cancel", refund_id=refund_id).execute(ti_context)
    assert "refund_cancel" in str(err.value)
    assert (
        ("失败" in str(err.value))
        if variant == "write_failure_data"
        else ("waitselleragree" in str(err.value))
    )
    assert "refund_status" not in ti_context["ti"].xcom
    xportcn_default_conn.control.set_variants()
    assert (
        XportcnCancelRefundOperator(task_id="cancel", refund_id=refund_id).execute(make_context())
        == refund_id
    )
    assert xportcn_default_conn.control.get("refund", refund_id)["status"] == "refundclose"


@pytest.mark.parametrize("variant", ["write_failure_data", "write_ignored"])
def test_return_waybill_is_read_back(xportcn_default_conn: SandboxHandle, variant: str) -> None:
    refund_id = _open_refund(xportcn_default_conn, "waitbuyersend")
    xportcn_default_conn.control.set_variants(variant)
    op = XportcnSubmitReturnLogisticsOperator(
        task_id="ret", refund_id=refund_id, logistics_company_no="YTO", freight_bill="YT42"
    )
    with pytest.raises(XportcnWriteNotAppliedError, match="refund_return_submit"):
        op.execute(make_context())
    xportcn_default_conn.control.set_variants()
    assert op.execute(make_context()) == refund_id


def test_domestic_waybill_answer_reporting_failure_fails(xportcn_default_conn: SandboxHandle) -> None:
    """The domestic waybill cannot be read back (no endpoint shows it): its answer is checked."""
    (order_id,) = xportcn_default_conn.control.seed_orders(1, status="waitsellersend")
    xportcn_default_conn.control.set_variants("write_failure_data")
    op = XportcnUpdateDomesticLogisticsOperator(
        task_id="waybill", order_id=order_id, logistic_infos=[{"logisticNumer": "YT1"}]
    )
    with pytest.raises(XportcnWriteNotAppliedError, match="data is false"):
        op.execute(make_context())


def _forecast(out_order_id: str, tracking: str) -> str:
    op = XportcnForecastPackageOperator(
        task_id="forecast", out_order_id=out_order_id, logistics_tracking_number=tracking
    )
    return str(op.execute(make_context()))


@pytest.mark.parametrize("variant", ["write_failure_data", "write_ignored"])
def test_package_update_is_read_back(xportcn_default_conn: SandboxHandle, variant: str) -> None:
    _forecast("PKG-U", "YT-OLD")
    xportcn_default_conn.control.set_variants(variant)
    op = XportcnUpdatePackageOperator(task_id="upd", out_order_id="PKG-U", logistics_tracking_number="YT-NEW")
    with pytest.raises(XportcnWriteNotAppliedError, match="package_update") as err:
        op.execute(make_context())
    if variant == "write_ignored":
        assert "YT-OLD" in str(err.value) and "YT-NEW" in str(err.value)
    xportcn_default_conn.control.set_variants()
    assert op.execute(make_context()) == "PKG-U"
    assert xportcn_default_conn.control.get("package", "PKG-U")["logistics_tracking_number"] == "YT-NEW"


def test_reforecast_with_a_new_waybill_is_not_a_silent_success(xportcn_default_conn: SandboxHandle) -> None:
    """Item 14: a re-forecast with a new waybill "succeeded" while the warehouse kept the old one."""
    _forecast("PKG-R", "YT-FIRST")
    with pytest.raises(XportcnWriteNotAppliedError, match="YT-FIRST"):
        _forecast("PKG-R", "YT-SECOND")


def test_wrong_package_detail_path_is_not_taken_for_a_missing_package(
    xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 14: an HTTP 404 from a wrong path skipped the forecast's existence check."""
    set_default_conn(
        monkeypatch, xportcn_sandbox, extra={"endpoint_overrides": {"package_detail": "/wms/pkg/info"}}
    )
    with pytest.raises(XportcnEndpointNotFoundError, match="endpoint_overrides"):
        _forecast("PKG-P", "YT-P")
    assert xportcn_sandbox.control.state()["packages"] == 0  # nothing forecast blind


def test_already_done_texts_under_code_500_are_conflicts(xportcn_default_conn: SandboxHandle) -> None:
    """Item 10: "already paid" was only recognised as code 409."""
    (order_id,) = xportcn_default_conn.control.seed_orders(1, status="waitsellersend")
    xportcn_default_conn.control.set_variants("already_done_500")
    with pytest.raises(XportcnConflictError) as err:
        XportcnHook().call("order_pay", {"orderId": order_id})
    assert err.value.code == 500 and "已支付" in str(err.value.msg)


def test_busy_500_on_a_read_is_retried(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 10: ``500 系统繁忙，请稍后再试`` was a final business error, even on reads."""
    (order_id,) = xportcn_default_conn.control.seed_orders(1)
    set_default_conn(monkeypatch, xportcn_default_conn, extra={"max_retries": 3})
    xportcn_default_conn.control.inject("envelope", endpoint="order_detail", count=2)  # code 500 busy
    assert XportcnHook().call("order_detail", {"orderId": order_id})["orderId"] == order_id
    assert [c["code"] for c in xportcn_default_conn.control.calls("order_detail")] == [500, 500, 200]


def test_pay_without_pay_url_is_done_when_the_order_is_paid(xportcn_default_conn: SandboxHandle) -> None:
    (order_id,) = xportcn_default_conn.control.seed_orders(1)
    xportcn_default_conn.control.set_variants("pay_without_url")
    assert XportcnPayOrderOperator(task_id="pay", order_id=order_id).execute(make_context()) is None
    assert xportcn_default_conn.control.get("order", order_id)["status"] == "waitsellersend"


def test_failure_in_answer_shapes() -> None:
    assert failure_in_answer(False) == "data is false"
    assert failure_in_answer("售后订单取消失败") and failure_in_answer({"success": False, "message": "x"})
    assert failure_in_answer("售后订单取消成功") is None and failure_in_answer({"success": True}) is None
    assert failure_in_answer(None) is None and failure_in_answer(True) is None
    reads: list[Any] = [{"s": 1}, {"s": 2}]
    record = confirm_write(
        "x", "ok", lambda: reads.pop(0), lambda r: None if r["s"] == 2 else "s is 1", delay=0
    )
    assert record == {"s": 2}  # a write that shows a moment late is fine


def test_retry_after_http_date_and_nan_from_the_server(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Low item: ``Retry-After`` as an HTTP-date was ignored, and ``nan`` broke the retry wait."""
    (order_id,) = xportcn_default_conn.control.seed_orders(1)
    set_default_conn(monkeypatch, xportcn_default_conn, extra={"max_retries": 2})
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    control = xportcn_default_conn.control
    control.inject("http_429", endpoint="order_detail", retry_after=when)
    control.inject("http_429", endpoint="order_detail", retry_after="nan")
    started = time.monotonic()
    assert XportcnHook().call("order_detail", {"orderId": order_id})["orderId"] == order_id
    assert 0.8 < time.monotonic() - started < 8  # waited for the date (second precision), not 0
    assert [c["http_status"] for c in control.calls("order_detail")] == [429, 429, 200]
