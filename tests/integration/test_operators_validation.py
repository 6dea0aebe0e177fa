"""Bad input is refused before any HTTP call, with an error naming the parameter.

Every case runs ``execute`` against the live sandbox connection, then asserts the sandbox's call
log is still empty: the check happened on the worker, not on the server.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.operators import (
    XportcnApiOperator,
    XportcnCancelRefundOperator,
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnCreateOrderOperator,
    XportcnCreateRefundOperator,
    XportcnForecastPackageOperator,
    XportcnFreightPreviewOperator,
    XportcnPackageInboundOperator,
    XportcnPayOrderOperator,
    XportcnPreviewOrderOperator,
    XportcnRefundReasonsOperator,
    XportcnSaveAddressOperator,
    XportcnSubmitReturnLogisticsOperator,
    XportcnTaobaoCreateOrderOperator,
    XportcnUpdateDomesticLogisticsOperator,
    XportcnUpdatePackageOperator,
    XportcnUploadRefundVoucherOperator,
)

from .operators_support import ADDRESS, CARGO, RECEIVER, make_context, use_sandbox

T = "t"


def order(**kw: Any) -> XportcnCreateOrderOperator:
    return XportcnCreateOrderOperator(
        task_id=T, **{"address_param": ADDRESS, "cargo_param_list": CARGO, **kw}
    )


def refund(**kw: Any) -> XportcnCreateRefundOperator:
    base = {
        "order_id": "2618493058261900001",
        "order_entry_ids": ["1"],
        "dispute_request": "refund",
        "apply_payment": 100,
    }
    return XportcnCreateRefundOperator(task_id=T, **{**base, **kw})


def cargo(**kw: Any) -> list[dict[str, Any]]:
    return [{**CARGO[0], **kw}]


LINE = [{"itemId": "1", "quantity": 1}]
CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("quantity zero", lambda: order(cargo_param_list=cargo(quantity=0)), "cargo_param_list"),
    ("quantity negative", lambda: order(cargo_param_list=cargo(quantity=-2)), "cargo_param_list"),
    ("quantity text", lambda: order(cargo_param_list=cargo(quantity="two")), "cargo_param_list"),
    ("quantity fraction", lambda: order(cargo_param_list=cargo(quantity=1.5)), "cargo_param_list"),
    ("no offerId", lambda: order(cargo_param_list=[{"quantity": 1}]), "cargo_param_list"),
    ("empty cargo", lambda: order(cargo_param_list=[]), "cargo_param_list"),
    ("cargo not a list", lambda: order(cargo_param_list={"offerId": "1"}), "cargo_param_list"),
    ("address without name", lambda: order(address_param={"address": "x", "mobile": "1"}), "address_param"),
    (
        "address without phone",
        lambda: order(address_param={"fullName": "a", "address": "x"}),
        "address_param",
    ),
    ("address as list", lambda: order(address_param=["x"]), "address_param"),
    ("out_order_id with space", lambda: order(out_order_id="my order"), "out_order_id"),
    ("out_order_id too long", lambda: order(out_order_id="x" * 65), "out_order_id"),
    ("max_total_fen zero", lambda: order(max_total_fen=0), "max_total_fen"),
    ("unknown wait status", lambda: order(wait_for="teleported"), "wait_for"),
    ("poll_interval zero", lambda: order(wait_for="shipped", poll_interval=0), "poll_interval"),
    ("payload over 1 MiB", lambda: order(extra={"blob": "x" * (1024 * 1024 + 1)}), "extra"),
    ("extra repeats a kwarg", lambda: order(extra={"outOrderId": "x"}), "extra"),
    ("extra not a mapping", lambda: order(extra=["x"]), "extra"),
    (
        "preview spec not an id",
        lambda: XportcnPreviewOrderOperator(
            task_id=T, address_param=ADDRESS, cargo_param_list=[{"offerId": ["1"], "quantity": 1}]
        ),
        "cargo_param_list",
    ),
    ("pay without order", lambda: XportcnPayOrderOperator(task_id=T, order_id=None), "order_id"),
    ("pay order id boolean", lambda: XportcnPayOrderOperator(task_id=T, order_id=True), "order_id"),
    (
        "taobao zero quantity",
        lambda: XportcnTaobaoCreateOrderOperator(
            task_id=T, items=[{"itemId": "1", "quantity": 0}], address={"name": "a"}
        ),
        "items",
    ),
    ("refund amount zero", lambda: refund(apply_payment=0), "apply_payment"),
    ("refund amount in yuan", lambda: refund(apply_payment=12.5), "apply_payment"),
    ("refund carriage negative", lambda: refund(apply_carriage=-1), "apply_carriage"),
    ("refund dispute unknown", lambda: refund(dispute_request="money back"), "dispute_request"),
    ("refund goods status", lambda: refund(goods_status="lost"), "goods_status"),
    ("refund no entries", lambda: refund(order_entry_ids=[]), "order_entry_ids"),
    ("refund duplicate entries", lambda: refund(order_entry_ids=["1", "1"]), "order_entry_ids"),
    ("refund missing order", lambda: refund(order_id=""), "order_id"),
    (
        "refund count zero",
        lambda: refund(order_entry_count_list=[{"id": "1", "count": 0}]),
        "order_entry_count_list",
    ),
    ("refund voucher not text", lambda: refund(vouchers=[1]), "vouchers"),
    (
        "refund wait status",
        lambda: refund(wait_for_completion=True, target_statuses="paid"),
        "target_statuses",
    ),
    (
        "reasons goods status",
        lambda: XportcnRefundReasonsOperator(task_id=T, order_id="1", goods_status="maybe"),
        "goods_status",
    ),
    ("cancel empty id", lambda: XportcnCancelRefundOperator(task_id=T, refund_id=" "), "refund_id"),
    (
        "return no waybill",
        lambda: XportcnSubmitReturnLogisticsOperator(
            task_id=T, refund_id="TQ1", logistics_company_no="YTO", freight_bill=None
        ),
        "freight_bill",
    ),
    ("voucher no source", lambda: XportcnUploadRefundVoucherOperator(task_id=T), "file_path"),
    (
        "voucher two sources",
        lambda: XportcnUploadRefundVoucherOperator(
            task_id=T, content=b"\x89PNG\r\n\x1a\n", url="https://x.test/a.png"
        ),
        "url",
    ),
    (
        "voucher not base64",
        lambda: XportcnUploadRefundVoucherOperator(task_id=T, content="not base64!"),
        "content",
    ),
    (
        "voucher not an image",
        lambda: XportcnUploadRefundVoucherOperator(task_id=T, content=base64.b64encode(b"hello").decode()),
        "content",
    ),
    (
        "voucher missing file",
        lambda: XportcnUploadRefundVoucherOperator(task_id=T, file_path="/nonexistent/x.png"),
        "file_path",
    ),
    (
        "voucher ftp url",
        lambda: XportcnUploadRefundVoucherOperator(task_id=T, url="ftp://x.test/a.png"),
        "url",
    ),
    (
        "receiver without country",
        lambda: XportcnFreightPreviewOperator(
            task_id=T, receiver_address={"name": "a", "address": "b"}, render_items=LINE
        ),
        "receiver_address",
    ),
    (
        "booking without render id",
        lambda: XportcnCreateInternationalLogisticsOrderOperator(
            task_id=T, render_id=None, receiver_address=RECEIVER, line_items=LINE
        ),
        "render_id",
    ),
    (
        "booking zero quantity",
        lambda: XportcnCreateInternationalLogisticsOrderOperator(
            task_id=T, render_id="FF1", receiver_address=RECEIVER, line_items=[{"itemId": "1", "quantity": 0}]
        ),
        "line_items",
    ),
    (
        "waybill without number",
        lambda: XportcnUpdateDomesticLogisticsOperator(
            task_id=T, order_id="1", logistic_infos=[{"lineItem": {"itemId": "1", "quantity": 1}}]
        ),
        "logistic_infos",
    ),
    (
        "waybill leg without carrier",
        lambda: XportcnUpdateDomesticLogisticsOperator(
            task_id=T, order_id="1", logistic_infos=[{"domesticLogisticInfo": [{"logisticNumer": "YT1"}]}]
        ),
        "logistic_infos",
    ),
    (
        "forecast without tracking",
        lambda: XportcnForecastPackageOperator(task_id=T, out_order_id="P1", logistics_tracking_number=""),
        "logistics_tracking_number",
    ),
    (
        "update with nothing",
        lambda: XportcnUpdatePackageOperator(task_id=T, out_order_id="P1"),
        "logistics_tracking_number",
    ),
    (
        "inbound qc status",
        lambda: XportcnPackageInboundOperator(
            task_id=T,
            out_order_id="P1",
            logistics_tracking_number="Y",
            quality_inspection_info={"status": "meh"},
        ),
        "quality_inspection_info",
    ),
    (
        "inbound negative weight",
        lambda: XportcnPackageInboundOperator(
            task_id=T,
            out_order_id="P1",
            logistics_tracking_number="Y",
            quality_inspection_info={"weight": -1},
        ),
        "quality_inspection_info",
    ),
    (
        "address phone without digits",
        lambda: XportcnSaveAddressOperator(
            task_id=T, name="a", province="b", city="c", address="d", phone="none"
        ),
        "phone",
    ),
    (
        "address missing city",
        lambda: XportcnSaveAddressOperator(
            task_id=T, name="a", province="b", city=None, address="d", phone="1"
        ),
        "city",
    ),
    ("unknown endpoint", lambda: XportcnApiOperator(task_id=T, endpoint="order_delete"), "endpoint"),
    (
        "paginate a detail endpoint",
        lambda: XportcnApiOperator(
            task_id=T, endpoint="order_detail", payload={"orderId": "1"}, paginate=True
        ),
        "paginate",
    ),
    ("payload as list", lambda: XportcnApiOperator(task_id=T, endpoint="order_list", payload=[1]), "payload"),
    ("payload missing required", lambda: XportcnApiOperator(task_id=T, endpoint="refund_detail"), "payload"),
    (
        "max_items zero",
        lambda: XportcnApiOperator(task_id=T, endpoint="order_list", paginate=True, max_items=0),
        "max_items",
    ),
    (
        "page_size too big",
        lambda: XportcnApiOperator(task_id=T, endpoint="order_list", paginate=True, page_size=1000),
        "page_size",
    ),
    (
        "empty conn id",
        lambda: XportcnPayOrderOperator(task_id=T, order_id="1", xportcn_conn_id=""),
        "xportcn_conn_id",
    ),
]


def test_the_table_is_big_enough():
    assert len(CASES) >= 20
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "build", "parameter"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_before_any_call(name, build, parameter, xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    operator = build()  # constructing never validates what a template could change
    with pytest.raises(XportcnValidationError) as err:
        operator.execute(make_context())
    assert err.value.parameter == parameter, str(err.value)
    assert parameter in str(err.value)
    assert xportcn_sandbox.control.calls() == []
