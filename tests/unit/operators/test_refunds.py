"""After-sale operators over requests-mock: reuse of open refunds, cancel semantics, vouchers."""

from __future__ import annotations

import base64

import pytest
import requests
import requests_mock as rm
from airflow.sdk.exceptions import TaskDeferred

from xportcn_provider.api.errors import (
    XportcnBusinessError,
    XportcnConflictError,
    XportcnTransientError,
    XportcnValidationError,
)
from xportcn_provider.operators.refunds import (
    XportcnCancelRefundOperator,
    XportcnCreateRefundOperator,
    XportcnRefundReasonsOperator,
    XportcnSubmitReturnLogisticsOperator,
    XportcnUploadRefundVoucherOperator,
)
from xportcn_provider.triggers.status import XportcnStatusTrigger

from .conftest import CONSOLE_URL, FakeStore, FakeTI, make_context

ORDER_ID = "2618493058261900001"
REFUND_ID = "TQ260923837649136042"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def order(*items: dict) -> dict:
    return {"orderId": ORDER_ID, "status": "waitbuyerreceive", "productItems": list(items)}


def item(sub: str, refund_id: str | None = None) -> dict:
    return {"subItemID": sub, "offerId": "1", "quantity": 1, "refundId": refund_id, "refundStatus": None}


def refund(status: str, entries: list[str], **more) -> dict:
    return {"refundId": REFUND_ID, "orderId": ORDER_ID, "orderEntryIds": entries, "status": status, **more}


def create_op(**kwargs) -> XportcnCreateRefundOperator:
    defaults = dict(
        task_id="refund",
        order_id=ORDER_ID,
        order_entry_ids=["3001"],
        dispute_request="refund",
        apply_payment=3200,
        goods_status="not_received",
    )
    return XportcnCreateRefundOperator(**{**defaults, **kwargs})


def test_reasons(api):
    reasons = [{"id": 20001, "name": "未收到货", "needVoucher": False}]
    api.on("refund_reasons", reasons)
    ti = FakeTI()
    op = XportcnRefundReasonsOperator(task_id="r", order_id=ORDER_ID, goods_status="not_received")
    assert op.execute(make_context(ti)) == reasons
    assert ti.xcom == {"reason_ids": [20001]}
    assert api.body("refund_reasons") == {"orderId": ORDER_ID, "goodsStatus": "not_received"}


def test_create_refund_when_none_is_open(api):
    api.on("order_detail", order(item("3001"), item("3002")))
    api.on("refund_create", {"refundId": REFUND_ID})
    store, ti = FakeStore(), FakeTI()
    assert create_op().execute(make_context(ti, store)) == REFUND_ID
    assert api.names == ["order_detail", "refund_create"]
    assert api.body("refund_create") == {
        "orderId": ORDER_ID,
        "orderEntryIds": ["3001"],
        "disputeRequest": "refund",
        "applyPayment": 3200,
        "goodsStatus": "not_received",
    }
    assert ti.xcom == {
        "refund_id": REFUND_ID,
        "refund_url": f"{CONSOLE_URL}/refund/detail?refundId={REFUND_ID}",
        "order_id": ORDER_ID,
    }
    sent = store.data.pop(f"xportcn:refund:{ORDER_ID}:3001:sent")  # written just before sending
    assert isinstance(sent, float)
    assert store.data == {f"xportcn:refund:{ORDER_ID}:3001": REFUND_ID}


def test_open_refund_on_the_same_sub_orders_is_reused(api):
    api.on("order_detail", order(item("3001", REFUND_ID), item("3002")))
    api.on("refund_detail", refund("waitselleragree", ["3001"]))
    assert create_op().execute(make_context()) == REFUND_ID
    assert api.names == ["order_detail", "refund_detail"]


def test_closed_refund_is_not_reused(api):
    api.on("order_detail", order(item("3001", "TQ-old")))
    api.on("refund_detail", refund("refundclose", ["3001"]))
    api.on("refund_create", {"refundId": REFUND_ID})
    assert create_op().execute(make_context()) == REFUND_ID
    assert api.names == ["order_detail", "refund_detail", "refund_create"]


def test_open_refund_covering_other_sub_orders_is_a_clear_error(api):
    api.on("order_detail", order(item("3001", REFUND_ID), item("3002", REFUND_ID)))
    api.on("refund_detail", refund("waitbuyersend", ["3001", "3002"]))
    with pytest.raises(XportcnValidationError) as err:
        create_op().execute(make_context())
    assert err.value.parameter == "order_entry_ids"
    assert REFUND_ID in str(err.value)
    assert "refund_create" not in api.names


def test_unknown_sub_order_is_refused_before_create(api):
    api.on("order_detail", order(item("3001")))
    with pytest.raises(XportcnValidationError, match="3009 is not a sub-order") as err:
        create_op(order_entry_ids=["3009"]).execute(make_context())
    assert err.value.parameter == "order_entry_ids"


def test_lost_answer_then_retry_reuses_the_refund(api):
    context = make_context(FakeTI(), FakeStore())
    api.on("order_detail", order(item("3001")))
    api.on("refund_create", requests.ConnectionError("dropped"))
    with pytest.raises(XportcnTransientError):
        create_op().execute(context)
    api.on("order_detail", order(item("3001", REFUND_ID)))
    api.on("refund_detail", refund("waitselleragree", ["3001"]))
    assert create_op().execute(context) == REFUND_ID
    assert api.names.count("refund_create") == 1


def test_store_reconnects_without_lookup(api):
    store = FakeStore()
    store.data[f"xportcn:refund:{ORDER_ID}:3001,3002"] = REFUND_ID
    assert create_op(order_entry_ids=["3002", "3001"]).execute(make_context(store=store)) == REFUND_ID
    assert api.calls == []


def test_reuse_can_be_switched_off(api):
    api.on("refund_create", {"refundId": REFUND_ID})
    assert create_op(reuse_open_refund=False).execute(make_context()) == REFUND_ID
    assert api.names == ["refund_create"]


def test_wait_for_completion_defers_with_the_refund_wait(api):
    api.on("order_detail", order(item("3001")))
    api.on("refund_create", {"refundId": REFUND_ID})
    api.on("refund_detail", refund("waitselleragree", ["3001"]))
    ti = FakeTI()
    op = create_op(wait_for_completion=True, deferrable=True, poll_interval=30, timeout=3600)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context(ti))
    assert ti.xcom["refund_id"] == REFUND_ID
    trigger = deferred.value.trigger
    assert isinstance(trigger, XportcnStatusTrigger)
    assert trigger.spec.endpoint == "refund_detail"
    assert trigger.spec.targets == frozenset({"refundsuccess"})
    assert (
        op.execute_complete(
            make_context(ti),
            event={"status": "success", "value": "refundsuccess", "ids": {}},
            result=REFUND_ID,
        )
        == REFUND_ID
    )


def test_wait_for_completion_synchronously(api):
    api.on("order_detail", order(item("3001")))
    api.on("refund_create", {"refundId": REFUND_ID})
    api.on("refund_detail", refund("waitselleragree", ["3001"]), refund("refundsuccess", ["3001"]))
    op = create_op(wait_for_completion=True, deferrable=False, poll_interval=0.01)
    assert op.execute(make_context()) == REFUND_ID


def test_wait_for_a_custom_target(api):
    api.on("order_detail", order(item("3001")))
    api.on("refund_create", {"refundId": REFUND_ID})
    api.on("refund_detail", refund("waitbuyersend", ["3001"]))
    op = create_op(wait_for_completion=True, deferrable=True, target_statuses="waitbuyersend")
    assert op.execute(make_context()) == REFUND_ID


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_an_open_refund(api):
    api.on("refund_detail", refund("waitselleragree", ["3001"]), refund("refundclose", ["3001"]))
    api.on("refund_cancel", "售后订单取消成功")
    ti = FakeTI()
    assert (
        XportcnCancelRefundOperator(task_id="c", refund_id=REFUND_ID).execute(make_context(ti)) == REFUND_ID
    )
    assert api.names == ["refund_detail", "refund_cancel", "refund_detail"]  # read back: closed
    assert ti.xcom["refund_status"] == "refundclose"


def test_cancel_an_already_closed_refund_is_success_without_a_cancel_call(api):
    api.on("refund_detail", refund("refundclose", ["3001"]))
    assert XportcnCancelRefundOperator(task_id="c", refund_id=REFUND_ID).execute(make_context()) == REFUND_ID
    assert api.names == ["refund_detail"]


def test_cancel_conflict_on_a_closed_refund_is_success(api):
    # The first cancel went through but its answer was lost: the retry sees a conflict.
    api.on("refund_detail", refund("waitselleragree", ["3001"]), refund("refundclose", ["3001"]))
    api.fail("refund_cancel", 409, "售后单状态不允许取消")
    assert XportcnCancelRefundOperator(task_id="c", refund_id=REFUND_ID).execute(make_context()) == REFUND_ID
    assert api.names == ["refund_detail", "refund_cancel", "refund_detail"]


def test_cancel_of_a_succeeded_refund_fails_without_a_cancel_call(api):
    # issue 14 item 6: terminal and paid out, so nothing is sent and the error says why.
    api.on("refund_detail", refund("refundsuccess", ["3001"]))
    api.fail("refund_cancel", 409, "refund already succeeded")
    with pytest.raises(XportcnConflictError, match=r"already refundsuccess \(succeeded\); nothing to cancel"):
        XportcnCancelRefundOperator(task_id="c", refund_id=REFUND_ID).execute(make_context())
    assert api.names == ["refund_detail"]


def test_cancel_conflict_when_the_refund_succeeds_meanwhile_is_raised(api):
    # Open at the read, succeeded by the time the cancel arrives: the server's conflict stands.
    api.on("refund_detail", refund("waitsellerreceive", ["3001"]), refund("refundsuccess", ["3001"]))
    api.fail("refund_cancel", 409, "refund already succeeded")
    with pytest.raises(XportcnConflictError):
        XportcnCancelRefundOperator(task_id="c", refund_id=REFUND_ID).execute(make_context())
    assert api.names == ["refund_detail", "refund_cancel", "refund_detail"]


def test_cancel_unknown_refund_fails(api):
    api.fail("refund_detail", 404, "refund not found")
    with pytest.raises(XportcnBusinessError):
        XportcnCancelRefundOperator(task_id="c", refund_id=REFUND_ID).execute(make_context())
    assert "refund_cancel" not in api.names


# --- return logistics ---------------------------------------------------------------------------


def return_op() -> XportcnSubmitReturnLogisticsOperator:
    return XportcnSubmitReturnLogisticsOperator(
        task_id="ret", refund_id=REFUND_ID, logistics_company_no="YTO", freight_bill="YT123"
    )


def test_submit_return_logistics(api):
    recorded = {"logisticsCompanyNo": "YTO", "freightBill": "YT123"}
    api.on(
        "refund_detail",
        refund("waitbuyersend", ["3001"], returnLogistics=None),
        refund("waitsellerreceive", ["3001"], returnLogistics=recorded),  # the read-back
    )
    api.on("refund_return_submit", "退货信息提交成功")
    ti = FakeTI()
    assert return_op().execute(make_context(ti)) == REFUND_ID
    assert api.body("refund_return_submit") == {
        "refundId": REFUND_ID,
        "logisticsCompanyNo": "YTO",
        "freightBill": "YT123",
    }
    assert ti.xcom["freight_bill"] == "YT123"


def test_submit_return_logistics_twice_is_skipped(api):
    recorded = {"logisticsCompanyNo": "YTO", "freightBill": "YT123"}
    api.on("refund_detail", refund("waitsellerreceive", ["3001"], returnLogistics=recorded))
    assert return_op().execute(make_context()) == REFUND_ID
    assert api.names == ["refund_detail"]


# --- vouchers -----------------------------------------------------------------------------------


def test_voucher_from_a_file(api, tmp_path):
    path = tmp_path / "damage.png"
    path.write_bytes(PNG)
    api.on("refund_voucher_upload", {"url": "https://voucher.test/v/1.png"})
    ti, store = FakeTI(), FakeStore()
    op = XportcnUploadRefundVoucherOperator(task_id="v", file_path=str(path))
    assert op.execute(make_context(ti, store)) == "https://voucher.test/v/1.png"
    body = api.body("refund_voucher_upload")
    assert base64.b64decode(body["imageBase64"]) == PNG
    assert body["fileName"] == "damage.png"
    assert ti.xcom == {"voucher_url": "https://voucher.test/v/1.png"}
    # The same image again in a retry: no second upload.
    assert op.execute(make_context(ti, store)) == "https://voucher.test/v/1.png"
    assert api.names == ["refund_voucher_upload"]


@pytest.mark.parametrize(
    "content",
    [PNG, base64.b64encode(PNG).decode(), "data:image/png;base64," + base64.b64encode(PNG).decode()],
)
def test_voucher_from_xcom_content(api, content):
    api.on("refund_voucher_upload", {"url": "https://voucher.test/v/2.png"})
    op = XportcnUploadRefundVoucherOperator(task_id="v", content=content, file_name="x.png")
    assert op.execute(make_context()) == "https://voucher.test/v/2.png"
    assert base64.b64decode(api.body("refund_voucher_upload")["imageBase64"]) == PNG


def test_voucher_from_a_url(api):
    api.m.get("https://images.test/a.png", content=PNG, headers={"Content-Length": str(len(PNG))})
    api.on("refund_voucher_upload", {"url": "https://voucher.test/v/3.png"})
    op = XportcnUploadRefundVoucherOperator(task_id="v", url="https://images.test/a.png")
    assert op.execute(make_context()) == "https://voucher.test/v/3.png"
    assert api.body("refund_voucher_upload")["fileName"] == "a.png"


def test_voucher_url_over_the_size_limit_stops_before_upload(api):
    api.m.get("https://images.test/big.png", content=PNG + b"\x00" * 2000)
    op = XportcnUploadRefundVoucherOperator(task_id="v", url="https://images.test/big.png", max_bytes=1000)
    with pytest.raises(XportcnValidationError, match="max_bytes=1000") as err:
        op.execute(make_context())
    assert err.value.parameter == "url"
    assert "refund_voucher_upload" not in api.names


def test_voucher_url_server_error_is_transient(api):
    api.m.get("https://images.test/x.png", status_code=503)
    with pytest.raises(XportcnTransientError):
        XportcnUploadRefundVoucherOperator(task_id="v", url="https://images.test/x.png").execute(
            make_context()
        )


def test_voucher_not_an_image(api):
    with pytest.raises(XportcnValidationError, match="not a JPEG") as err:
        XportcnUploadRefundVoucherOperator(task_id="v", content=b"%PDF-1.7").execute(make_context())
    assert err.value.parameter == "content"
    assert api.calls == []


def test_voucher_download_without_network_is_transient(secret):
    with rm.Mocker() as m:
        m.get("https://images.test/y.png", exc=requests.ConnectTimeout)
        with pytest.raises(XportcnTransientError, match="download"):
            XportcnUploadRefundVoucherOperator(task_id="v", url="https://images.test/y.png").execute(
                make_context()
            )
