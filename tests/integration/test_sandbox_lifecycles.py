"""Every life cycle end to end through the hook, driven by the sandbox clock.

Most tests move the clock with ``control.advance(seconds)`` (deterministic, no sleeping); one
test per kind of record runs on real time with tiny delays to prove the clock-derived states
need no background thread.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from xportcn_provider.api.errors import XportcnConflictError, XportcnNotFoundError
from xportcn_provider.sandbox import SandboxControlError, SandboxHandle

ADDRESS = {"fullName": "Li Lei", "mobile": "13800000000", "address": "文一西路 1 号"}
RECEIVER = {"name": "John Doe", "country": "US", "city": "Seattle", "address": "1 Main St"}


@pytest.fixture
def hook(xportcn_default_conn: SandboxHandle) -> Any:
    from xportcn_provider.hooks.xportcn import XportcnHook

    return XportcnHook(max_retries=0)


@pytest.fixture
def control(xportcn_default_conn: SandboxHandle) -> Any:
    return xportcn_default_conn.control


def paid_order(hook: Any, out_id: str = "lc-1", quantity: int = 2) -> tuple[str, str]:
    order = hook.order_create(
        out_order_id=out_id,
        address_param=ADDRESS,
        cargo_param_list=[{"offerId": "610000000123", "quantity": quantity}],
    )
    hook.order_pay(order_id=order["orderId"])
    entry = hook.order_detail(order_id=order["orderId"])["productItems"][0]["subItemID"]
    return order["orderId"], entry


def test_order_life_cycle(hook: Any, control: Any) -> None:
    control.configure(order_ship_delay=10, order_receive_delay=20, order_success_delay=30)
    order = hook.order_create(
        out_order_id="lc-order",
        address_param=ADDRESS,
        cargo_param_list=[{"offerId": "610000000123", "quantity": 3}],
    )
    order_id = order["orderId"]
    assert order_id.isdigit() and len(order_id) == 19
    assert order["status"] == "waitbuyerpay"
    detail = hook.order_detail(order_id=order_id)
    item = detail["productItems"][0]
    assert item["itemAmount"] == 3 * item["unitPrice"]
    assert detail["sumPayment"] == item["itemAmount"] + detail["sumCarriage"] == order["totalSuccessAmount"]
    assert detail["payTime"] is None
    control.advance(3600)  # nothing happens to an unpaid order
    assert hook.order_detail(order_id=order_id)["status"] == "waitbuyerpay"

    assert hook.order_pay(order_id=order_id)["payUrl"].endswith(order_id)
    assert hook.order_detail(order_id=order_id)["status"] == "waitsellersend"
    with pytest.raises(XportcnConflictError, match="cannot be paid"):
        hook.order_pay(order_id=order_id)
    logistics = hook.order_logistics(order_id=order_id)
    assert (logistics["trackingNumber"], logistics["logisticsItems"]) == (None, [])

    control.advance(10)
    logistics = hook.order_logistics(order_id=order_id)
    assert logistics["status"] == "waitbuyerreceive"
    assert logistics["trackingNumber"].startswith("YT") and logistics["logisticsCompanyName"]
    assert logistics["logisticsItems"][0]["logisticsBillNo"] == logistics["trackingNumber"]
    control.advance(20)
    assert hook.order_detail(order_id=order_id)["status"] == "confirm_goods"
    control.advance(30)
    detail = hook.order_detail(order_id=order_id)
    assert detail["status"] == "success"
    assert detail["payTime"] is not None
    history = [h["status"] for h in control.get("order", order_id)["history"]]
    assert history == ["waitbuyerpay", "waitsellersend", "waitbuyerreceive", "confirm_goods", "success"]


def test_order_life_cycle_on_real_time(hook: Any, control: Any) -> None:
    control.configure(all_delays=0.05)
    order_id, _ = paid_order(hook)
    time.sleep(0.3)
    assert hook.order_detail(order_id=order_id)["status"] == "success"


def test_cancelled_order(hook: Any, control: Any) -> None:
    order = hook.order_create(
        out_order_id="lc-cancel", address_param=ADDRESS, cargo_param_list=[{"offerId": "1", "quantity": 1}]
    )
    control.force("order", order["orderId"], "cancel")
    assert hook.order_detail(order_id=order["orderId"])["status"] == "cancel"
    with pytest.raises(XportcnConflictError, match="cancel"):
        hook.order_pay(order_id=order["orderId"])
    entry = hook.order_detail(order_id=order["orderId"])["productItems"][0]["subItemID"]
    with pytest.raises(XportcnConflictError, match="only a paid order"):
        hook.refund_create(
            order_id=order["orderId"], order_entry_ids=[entry], dispute_request="refund", apply_payment=1
        )


def test_refund_only(hook: Any, control: Any) -> None:
    control.configure(refund_agree_delay=5)
    order_id, entry = paid_order(hook)
    refund_id = hook.refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=100
    )["refundId"]
    assert refund_id.startswith("TQ") and len(refund_id) == 20
    detail = hook.refund_detail(refund_id=refund_id)
    assert (detail["status"], detail["orderEntryIds"], detail["returnLogistics"]) == (
        "waitselleragree",
        [entry],
        None,
    )
    item = hook.order_detail(order_id=order_id)["productItems"][0]
    assert (item["refundId"], item["refundStatus"]) == (refund_id, "waitselleragree")
    with pytest.raises(XportcnConflictError) as caught:  # one open refund per entry
        hook.refund_create(
            order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=1
        )
    assert refund_id in str(caught.value)

    control.advance(5)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "refundsuccess"
    item = hook.order_detail(order_id=order_id)["productItems"][0]
    # The entry keeps showing its refund once it succeeded, and cannot be refunded a second time.
    assert (item["refundId"], item["refundStatus"]) == (refund_id, "refundsuccess")
    with pytest.raises(XportcnConflictError, match="succeeded"):
        hook.refund_create(
            order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=1
        )
    # one wording for statuses (issue 14 item 6): a succeeded refund is "succeeded", not "closed"
    with pytest.raises(XportcnConflictError, match=r"refundsuccess \(succeeded\) and cannot be cancelled"):
        hook.refund_cancel(refund_id=refund_id)


def test_return_and_refund(hook: Any, control: Any) -> None:
    control.configure(refund_agree_delay=5, refund_receive_delay=7)
    order_id, entry = paid_order(hook)
    refund_id = hook.refund_create(
        order_id=order_id,
        order_entry_ids=[entry],
        dispute_request="returnRefund",
        apply_payment=100,
        goods_status="received",
    )["refundId"]
    with pytest.raises(XportcnConflictError, match="only in waitbuyersend"):
        hook.refund_return_submit(refund_id=refund_id, logistics_company_no="YTO", freight_bill="YT1")
    control.advance(5)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "waitbuyersend"
    company = hook.logistics_companies()[0]["companyNo"]
    hook.refund_return_submit(refund_id=refund_id, logistics_company_no=company, freight_bill="YT9988")
    detail = hook.refund_detail(refund_id=refund_id)
    assert detail["status"] == "waitsellerreceive"
    assert detail["returnLogistics"] == {"logisticsCompanyNo": company, "freightBill": "YT9988"}
    control.advance(6)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "waitsellerreceive"
    control.advance(1)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "refundsuccess"


def test_refusal_then_cancel(hook: Any, control: Any) -> None:
    order_id, entry = paid_order(hook)
    refund_id = hook.refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=100
    )["refundId"]
    control.set_refund_outcome(refund_id, "refuse")
    control.advance(60)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "waitbuyermodify"
    assert hook.order_detail(order_id=order_id)["productItems"][0]["refundStatus"] == "waitbuyermodify"
    assert hook.refund_cancel(refund_id=refund_id) == "售后订单取消成功"
    assert hook.refund_detail(refund_id=refund_id)["status"] == "refundclose"
    with pytest.raises(XportcnConflictError):
        hook.refund_cancel(refund_id=refund_id)
    # The entry is free again.
    assert hook.refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=1
    )


def test_default_refund_outcome_and_cancel_while_waiting(hook: Any, control: Any) -> None:
    control.set_refund_outcome("default", "request_return")
    order_id, entry = paid_order(hook)
    refund_id = hook.refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=100
    )["refundId"]
    control.advance(60)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "waitbuyersend"
    other_id, other_entry = paid_order(hook, "lc-2")
    waiting = hook.refund_create(
        order_id=other_id, order_entry_ids=[other_entry], dispute_request="refund", apply_payment=1
    )["refundId"]
    hook.refund_cancel(refund_id=waiting)
    control.advance(60)
    assert hook.refund_detail(refund_id=waiting)["status"] == "refundclose"
    with pytest.raises(SandboxControlError, match="outcome"):
        control.set_refund_outcome(refund_id, "maybe")


def test_refund_life_cycle_on_real_time(hook: Any, control: Any) -> None:
    control.configure(all_delays=0.05)
    order_id, entry = paid_order(hook)
    refund_id = hook.refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="returnRefund", apply_payment=10
    )["refundId"]
    time.sleep(0.15)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "waitbuyersend"
    hook.refund_return_submit(refund_id=refund_id, logistics_company_no="SF", freight_bill="SF1")
    time.sleep(0.15)
    assert hook.refund_detail(refund_id=refund_id)["status"] == "refundsuccess"


def _book(hook: Any, out_order_id: str) -> dict[str, Any]:
    render = hook.freight_preview(
        receiver_address=RECEIVER, render_items=[{"itemId": "610000000123", "quantity": 2}]
    )
    assert render["renderId"].startswith("FF")
    return hook.intl_logistics_create(
        render_id=render["renderId"],
        receiver_address=RECEIVER,
        line_items=[{"itemId": "610000000123", "quantity": 2}],
        tmall_order_id=out_order_id,
    )


def test_package_qc_pass_shipped_delivered(hook: Any, control: Any) -> None:
    control.configure(
        package_inbound_delay=10, package_qc_delay=5, logistics_transit_delay=20, logistics_deliver_delay=30
    )
    package = hook.package_forecast(
        out_order_id="PKG-A", logistics_tracking_number="YT1", items=[{"sku": "A", "quantity": 2}]
    )
    assert (package["status"], package["quality_inspection_info"]) == ("FORECASTED", None)
    with pytest.raises(XportcnConflictError, match="FORECASTED"):
        _book(hook, "PKG-A")  # nothing to ship yet
    control.advance(10)
    assert hook.package_detail(out_order_id="PKG-A")["status"] == "INBOUND"
    control.advance(5)
    package = hook.package_detail(logistics_tracking_number="YT1")
    assert package["status"] == "QC_PASSED"
    assert package["quality_inspection_info"]["status"] == "PASSED"

    booking = _book(hook, "PKG-A")
    package = hook.package_detail(out_order_id="PKG-A")
    assert (package["status"], package["intl_logistics_order_id"]) == ("SHIPPED", booking["logisticsOrderId"])
    control.advance(20)
    in_transit = control.get("logistics", booking["logisticsOrderId"])
    assert in_transit["status"] == "IN_TRANSIT" and in_transit["trackingNumber"].endswith("CN")
    assert hook.package_detail(out_order_id="PKG-A")["status"] == "SHIPPED"
    control.advance(30)
    assert hook.package_detail(out_order_id="PKG-A")["status"] == "DELIVERED"
    again = _book(hook, "PKG-A")  # booking again with the same tmallOrderId: the same shipment
    assert again["duplicate"] is True
    assert (again["logisticsOrderId"], again["status"]) == (booking["logisticsOrderId"], "DELIVERED")
    assert control.state()["logistics_orders"] == 1


def test_package_qc_fail_by_configuration(hook: Any, control: Any) -> None:
    control.configure(qc_outcome="fail")
    hook.package_forecast(out_order_id="PKG-F", logistics_tracking_number="YT2")
    control.advance(60)
    package = hook.package_detail(out_order_id="PKG-F")
    assert package["status"] == "QC_FAILED"
    assert package["quality_inspection_info"]["failed_remark"]
    with pytest.raises(XportcnConflictError, match="QC_FAILED"):
        _book(hook, "PKG-F")


def test_package_inbound_sets_qc_directly(hook: Any, control: Any) -> None:
    hook.package_forecast(out_order_id="PKG-I", logistics_tracking_number="YT3")
    failed = hook.package_inbound(
        out_order_id="PKG-I",
        logistics_tracking_number="YT3",
        quality_inspection_info={"status": "FAILED", "failed_remark": "broken", "weight": 0.8},
    )
    assert failed["status"] == "QC_FAILED"
    assert failed["quality_inspection_info"]["failed_remark"] == "broken"
    # An unforecast parcel: inbound registers it, and its QC runs on the clock.
    arrived = hook.package_inbound(out_order_id="PKG-J", logistics_tracking_number="YT4")
    assert arrived["status"] == "INBOUND"
    control.advance(60)
    assert hook.package_detail(out_order_id="PKG-J")["status"] == "QC_PASSED"


def test_package_life_cycle_on_real_time(hook: Any, control: Any) -> None:
    control.configure(all_delays=0.04)
    hook.package_forecast(out_order_id="PKG-R", logistics_tracking_number="YT5")
    time.sleep(0.2)
    assert hook.package_detail(out_order_id="PKG-R")["status"] == "QC_PASSED"
    _book(hook, "PKG-R")
    time.sleep(0.2)
    assert hook.package_detail(out_order_id="PKG-R")["status"] == "DELIVERED"


def test_taobao_order_life_cycle(hook: Any, control: Any) -> None:
    control.configure(taobao_pay_delay=5, taobao_ship_delay=5)
    created = hook.taobao_order_create(
        items=[{"itemId": "712345678901", "quantity": 2}], address=ADDRESS, out_order_id="tb-lc"
    )
    assert created["status"] == 0

    def status() -> Any:
        return hook.taobao_order_list(order_id=created["orderId"])["list"][0]["status"]

    control.advance(5)
    assert status() == 10
    control.advance(5)
    assert status() == 11
    assert hook.taobao_order_list(status=11)["total"] == 1
    assert hook.taobao_order_list(status=0)["total"] == 0
    closed = control.force("taobao_order", "tb-lc", "closed")  # by outOrderId, by status name
    assert (closed["status"], closed["postFee"]) == (4, 800)
    assert status() == 4


def test_force_hold_and_fields(hook: Any, control: Any) -> None:
    order_id, _ = paid_order(hook)
    control.force("order", order_id, "waitsellersend", hold=True)
    control.advance(3600)
    assert hook.order_detail(order_id=order_id)["status"] == "waitsellersend"
    control.force("order", order_id, "WAITING_FOR_SENT")  # any spelling of the vocabulary; clock resumes
    control.advance(3600)
    assert hook.order_detail(order_id=order_id)["status"] == "success"
    forced = control.force(
        "order",
        "lc-1",
        "waitbuyerreceive",
        hold=True,
        trackingNumber="SF1234567890",
        logisticsCompanyName="顺丰速运",
    )  # found by outOrderId too
    assert forced["hold"] is True
    logistics = hook.order_logistics(order_id=order_id)
    assert (logistics["trackingNumber"], logistics["logisticsCompanyName"]) == ("SF1234567890", "顺丰速运")


def test_force_and_get_errors(control: Any) -> None:
    with pytest.raises(SandboxControlError) as caught:
        control.get("order", "404")
    assert caught.value.status == 404
    [order_id] = control.seed_orders(1)
    with pytest.raises(SandboxControlError, match="waitbuyerpay"):
        control.force("order", order_id, "shipped-ish")
    with pytest.raises(SandboxControlError):
        control.force("planet", order_id, "x")


def test_auto_advance_off_freezes_everything(hook: Any, control: Any) -> None:
    control.configure(auto_advance=False, all_delays=0)
    order_id, _ = paid_order(hook)
    control.advance(10_000)
    assert hook.order_detail(order_id=order_id)["status"] == "waitsellersend"
    with pytest.raises(SandboxControlError, match="unknown sandbox option"):
        control.configure(ship_delay=1)
    with pytest.raises(SandboxControlError, match=">= 0"):
        control.configure(order_ship_delay=-1)


def test_not_found_answers(hook: Any) -> None:
    with pytest.raises(XportcnNotFoundError, match="order 1 not found"):
        hook.order_detail(order_id="1")
    with pytest.raises(XportcnNotFoundError, match="refund TQ1 not found"):
        hook.refund_detail(refund_id="TQ1")
    with pytest.raises(XportcnNotFoundError):
        hook.package_detail(out_order_id="nope")
