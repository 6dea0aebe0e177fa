"""Order operators over requests-mock: happy paths, idempotency, budget guard, waiting."""

from __future__ import annotations

import re

import pytest
import requests
from airflow.sdk.exceptions import TaskDeferred
from structlog.testing import capture_logs

from xportcn_provider.api.errors import (
    XportcnConflictError,
    XportcnOutcomeUnknownError,
    XportcnProtocolError,
)
from xportcn_provider.operators.orders import (
    XportcnCreateOrderOperator,
    XportcnOrderOverBudgetError,
    XportcnPayOrderOperator,
    XportcnPreviewOrderOperator,
    XportcnTaobaoCreateOrderOperator,
    XportcnTaobaoRenderOrderOperator,
)
from xportcn_provider.triggers.status import XportcnStatusTrigger
from xportcn_provider.waiting import XportcnWaitFailure

from .conftest import CONSOLE_URL, FakeStore, FakeTI, make_context

ADDRESS = {
    "fullName": "张三",
    "mobile": "13800000000",
    "provinceText": "浙江省",
    "address": "文一西路 969 号",
}
CARGO = [{"offerId": "610947572360", "specId": "aed41e23b750f9927722763ec5424583", "quantity": 2}]
ORDER_ID = "2618493058261900001"
EMPTY_PAGE = {"list": [], "total": 0, "pageNo": 1, "pageSize": 20}


def created(out_order_id: str, duplicate: bool = False) -> dict:
    return {
        "orderId": ORDER_ID,
        "outOrderId": out_order_id,
        "totalSuccessAmount": 6400,
        "status": "waitbuyerpay",
        "duplicate": duplicate,
    }


def create_op(**kwargs) -> XportcnCreateOrderOperator:
    return XportcnCreateOrderOperator(
        task_id="create_order", address_param=ADDRESS, cargo_param_list=CARGO, **kwargs
    )


def test_create_order_looks_up_then_creates_and_pushes_before_returning(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    store, ti = FakeStore(), FakeTI()
    result = create_op().execute(make_context(ti, store))

    assert result == ORDER_ID
    assert api.names == ["order_list", "order_create"]
    out_order_id = api.body("order_create")["outOrderId"]
    assert api.body("order_list")["outOrderId"] == out_order_id
    assert re.fullmatch(r"af-[0-9a-f]{29}", out_order_id)
    assert api.body("order_create")["cargoParamList"] == CARGO
    assert ti.xcom == {
        "order_id": ORDER_ID,
        "out_order_id": out_order_id,
        "order_url": f"{CONSOLE_URL}/order/detail?orderId={ORDER_ID}",
    }
    assert store.data == {f"xportcn:order:{out_order_id}": ORDER_ID}


def test_derived_out_order_id_is_stable_per_task_instance_and_new_per_run(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    ids = []
    for ti in (
        FakeTI(run_id="r1"),
        FakeTI(run_id="r1"),
        FakeTI(run_id="r2"),
        FakeTI(run_id="r1", map_index=3),
    ):
        create_op().execute(make_context(ti))
        ids.append(api.body("order_create")["outOrderId"])
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert all(len(i) <= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)


def test_lost_create_answer_is_looked_up_not_resent(api):
    """The create was committed but its answer lost: the hook's look-up answers, no second create."""
    context = make_context(FakeTI(), FakeStore())
    found = {"list": [{"orderId": ORDER_ID, "outOrderId": "my-order-1", "status": "waitbuyerpay"}]}
    api.on("order_list", EMPTY_PAGE, found)
    api.on("order_create", requests.ConnectionError("reset after commit"))
    assert create_op(out_order_id="my-order-1").execute(context) == ORDER_ID
    assert api.names == ["order_list", "order_create", "order_list"]
    assert context["ti"].xcom["order_id"] == ORDER_ID
    assert context["task_state_store"].data == {"xportcn:order:my-order-1": ORDER_ID}


def test_lost_create_answer_retry_of_the_task_finds_the_order(api):
    """The look-up failed too (service gone): the task fails; its retry finds the order, no create."""
    context = make_context(FakeTI(), FakeStore())
    api.on("order_list", EMPTY_PAGE, requests.ConnectionError("down"))
    api.on("order_create", requests.ConnectionError("reset after commit"))
    with pytest.raises(XportcnOutcomeUnknownError, match="outOrderId=my-order-1") as failure:
        create_op(out_order_id="my-order-1").execute(context)
    assert failure.value.key == {"outOrderId": "my-order-1"}
    assert api.names.count("order_create") == 1

    api.on(
        "order_list", {"list": [{"orderId": ORDER_ID, "outOrderId": "my-order-1", "status": "waitbuyerpay"}]}
    )
    assert create_op(out_order_id="my-order-1").execute(context) == ORDER_ID
    assert api.names.count("order_create") == 1


def test_lookup_refuses_a_page_of_other_orders(api):
    """A service that ignores the outOrderId filter: no conclusion, no purchase."""
    api.on("order_list", {"list": [{"orderId": "999", "outOrderId": "someone-else"}], "total": 1})
    api.on("order_create", created("x"))
    with pytest.raises(XportcnProtocolError, match="ignores the outOrderId filter"):
        create_op(out_order_id="my-order-1").execute(make_context())
    assert api.names == ["order_list"]


def test_task_state_store_reconnects_without_any_call(api):
    store = FakeStore()
    store.data["xportcn:order:my-order-1"] = ORDER_ID
    ti = FakeTI()
    assert create_op(out_order_id="my-order-1").execute(make_context(ti, store)) == ORDER_ID
    assert api.calls == []
    assert ti.xcom["order_id"] == ORDER_ID


def test_server_duplicate_answer_is_logged_as_existing(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("o-1", duplicate=True))
    with capture_logs() as logs:
        assert create_op(out_order_id="o-1").execute(make_context()) == ORDER_ID
    lines = [e["event"] % e["positional_args"] if e.get("positional_args") else e["event"] for e in logs]
    create_lines = [line for line in lines if "order_create" in line]
    assert len(create_lines) == 1
    assert "existing order" in create_lines[0]
    assert "requestId=req-order_create-1" in create_lines[0]
    assert "order_id=" + ORDER_ID in create_lines[0]


def test_max_total_fen_refuses_before_any_create(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_preview", {"sumPayment": 6400, "sumCarriage": 600})
    with pytest.raises(XportcnOrderOverBudgetError) as err:
        create_op(max_total_fen=5000).execute(make_context())
    assert err.value.parameter == "max_total_fen"
    assert "6400" in str(err.value) and "5000" in str(err.value)
    assert api.names == ["order_list", "order_preview"]


def test_max_total_fen_within_budget_creates(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_preview", {"sumPayment": 6400})
    api.on("order_create", created("x"))
    assert create_op(max_total_fen=6400).execute(make_context()) == ORDER_ID
    assert api.names == ["order_list", "order_preview", "order_create"]
    assert api.body("order_preview")["outOrderId"] == api.body("order_create")["outOrderId"]


def test_create_without_order_id_in_answer_is_a_protocol_error(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", {"status": "waitbuyerpay"})
    with pytest.raises(XportcnProtocolError, match="without an orderId"):
        create_op().execute(make_context())


def test_templated_strings_are_parsed_back(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    op = XportcnCreateOrderOperator(
        task_id="t",
        address_param='{"fullName": "A", "address": "B", "mobile": "1"}',
        cargo_param_list="[{'offerId': '1', 'quantity': '3'}]",
    )
    op.execute(make_context())
    assert api.body("order_create")["cargoParamList"] == [{"offerId": "1", "quantity": 3}]
    assert api.body("order_create")["addressParam"] == {"fullName": "A", "address": "B", "mobile": "1"}


def test_preview_returns_the_preview(api):
    api.on("order_preview", {"sumPayment": 6400, "cargoList": []})
    ti = FakeTI()
    op = XportcnPreviewOrderOperator(task_id="p", address_param=ADDRESS, cargo_param_list=CARGO)
    assert op.execute(make_context(ti)) == {"sumPayment": 6400, "cargoList": []}
    assert ti.xcom == {"sum_payment": 6400}
    assert api.body("order_preview")["flow"] == "fenxiaonew"


UNPAID = {"orderId": ORDER_ID, "status": "waitbuyerpay"}


def test_pay_returns_the_pay_url(api):
    api.on("order_detail", UNPAID)
    api.on("order_pay", {"orderId": ORDER_ID, "payUrl": "https://pay.test/p?id=1"})
    ti = FakeTI()
    assert XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID).execute(make_context(ti)) == (
        "https://pay.test/p?id=1"
    )
    assert ti.xcom["pay_url"] == "https://pay.test/p?id=1"
    assert ti.xcom["order_url"].endswith(ORDER_ID)
    assert api.body("order_pay") == {"orderId": ORDER_ID}


def test_pay_retry_reads_the_store(api):
    api.on("order_detail", UNPAID)
    api.on("order_pay", {"orderId": ORDER_ID, "payUrl": "https://pay.test/p?id=1"})
    context = make_context(FakeTI(), FakeStore())
    op = XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID)
    assert op.execute(context) == op.execute(context) == "https://pay.test/p?id=1"
    assert api.names == ["order_detail", "order_pay"]


def test_pay_reads_first_and_never_pays_a_paid_order(api):
    """A task killed mid-pay left nothing in the store: the retry sees the order paid, no second pay."""
    api.on("order_detail", {"orderId": ORDER_ID, "status": "waitsellersend"})
    assert XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID).execute(make_context()) is None
    assert api.names == ["order_detail"]


def test_pay_with_a_lost_answer_is_verified_not_resent(api):
    api.on("order_detail", UNPAID, {"orderId": ORDER_ID, "status": "waitsellersend"})
    api.on("order_pay", requests.ConnectionError("reset after commit"))
    assert XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID).execute(make_context()) is None
    assert api.names == ["order_detail", "order_pay", "order_detail"]


def test_pay_conflict_on_a_paid_order_is_success(api):
    api.fail("order_pay", 409, "order cannot be paid: its status is waitsellersend")
    api.on("order_detail", {"orderId": ORDER_ID, "status": "waitsellersend"})
    ti = FakeTI()
    assert XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID).execute(make_context(ti)) is None
    assert "pay_url" not in ti.xcom and ti.xcom["order_id"] == ORDER_ID


def test_pay_conflict_on_a_cancelled_order_is_raised(api):
    api.fail("order_pay", 409, "order cannot be paid: its status is cancel")
    api.on("order_detail", {"orderId": ORDER_ID, "status": "cancel"})
    with pytest.raises(XportcnConflictError):
        XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID).execute(make_context())


def test_pay_without_pay_url_fails(api):
    api.on("order_detail", UNPAID)
    api.on("order_pay", {"orderId": ORDER_ID})
    with pytest.raises(XportcnProtocolError, match="payUrl"):
        XportcnPayOrderOperator(task_id="pay", order_id=ORDER_ID).execute(make_context())


TB_ITEMS = [{"itemId": "7001", "skuId": "5001", "quantity": 1}]
TB_ADDRESS = {"name": "李四", "mobile": "13900000000", "address": "上海市"}


def test_taobao_render(api):
    api.on("taobao_order_render", {"totalAmount": 1800, "postFee": 800, "items": []})
    ti = FakeTI()
    op = XportcnTaobaoRenderOrderOperator(task_id="r", items=TB_ITEMS, address=TB_ADDRESS)
    assert op.execute(make_context(ti))["totalAmount"] == 1800
    assert ti.xcom == {"total_amount": 1800}


def test_taobao_create_is_idempotent_by_out_order_id(api):
    api.on("taobao_order_list", EMPTY_PAGE)
    api.on("taobao_order_create", {"orderId": "T1", "outOrderId": "x", "status": 0, "duplicate": False})
    store, ti = FakeStore(), FakeTI()
    op = XportcnTaobaoCreateOrderOperator(task_id="tb", items=TB_ITEMS, address=TB_ADDRESS)
    assert op.execute(make_context(ti, store)) == "T1"
    out_order_id = api.body("taobao_order_create")["outOrderId"]
    assert ti.xcom["order_url"] == f"{CONSOLE_URL}/purchase/detail?orderId=T1"
    # A retry with the store: no call at all.
    assert op.execute(make_context(ti, store)) == "T1"
    assert api.names == ["taobao_order_list", "taobao_order_create"]
    # A retry without the store (answer lost): the lookup finds it.
    api.on("taobao_order_list", {"list": [{"orderId": "T1", "outOrderId": out_order_id}], "total": 1})
    assert op.execute(make_context(ti)) == "T1"
    assert api.names.count("taobao_order_create") == 1


# --- waiting -----------------------------------------------------------------------------------


def test_wait_for_shipped_defers_after_pushing_ids(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    api.on("order_detail", {"orderId": ORDER_ID, "status": "waitbuyerpay"})
    ti = FakeTI()
    op = create_op(wait_for="shipped", deferrable=True, poll_interval=5, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context(ti))
    assert ti.xcom["order_id"] == ORDER_ID and "order_url" in ti.xcom
    trigger = deferred.value.trigger
    assert isinstance(trigger, XportcnStatusTrigger)
    assert trigger.spec.endpoint == "order_detail"
    assert trigger.spec.body == {"orderId": ORDER_ID}
    assert trigger.poll_interval == 5
    assert trigger.deadline is not None
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.kwargs == {"result": ORDER_ID}
    assert api.names == ["order_list", "order_create", "order_detail"]


def test_wait_for_already_reached_does_not_defer(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    api.on("order_detail", {"orderId": ORDER_ID, "status": "waitbuyerreceive"})
    assert create_op(wait_for="shipped", deferrable=True).execute(make_context()) == ORDER_ID


def test_wait_for_synchronously_polls_until_target(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    api.on(
        "order_detail",
        {"orderId": ORDER_ID, "status": "waitsellersend"},
        {"orderId": ORDER_ID, "status": "confirm_goods"},
    )
    op = create_op(wait_for="shipped", deferrable=False, poll_interval=0.01, timeout=10)
    assert op.execute(make_context()) == ORDER_ID
    assert api.names.count("order_detail") == 2


def test_wait_for_cancelled_order_fails(api):
    api.on("order_list", EMPTY_PAGE)
    api.on("order_create", created("x"))
    api.on("order_detail", {"orderId": ORDER_ID, "status": "cancel"})
    with pytest.raises(XportcnWaitFailure):
        create_op(wait_for="shipped", deferrable=True).execute(make_context())


def test_execute_complete_returns_the_id_or_raises():
    op = create_op(wait_for="shipped", deferrable=True)
    ok = {"status": "success", "value": "waitbuyerreceive", "record": {}, "message": "ok", "ids": {}}
    assert op.execute_complete(make_context(), event=ok, result=ORDER_ID) == ORDER_ID
    bad = {"status": "failure", "value": "cancel", "record": {}, "message": "cancelled", "ids": {}}
    with pytest.raises(XportcnWaitFailure, match="cancelled"):
        op.execute_complete(make_context(), event=bad, result=ORDER_ID)


def test_execute_complete_falls_back_to_the_event_ids():
    """``dag.test()`` resumes with the event only: the id comes from the event's ``ids``."""
    op = create_op(wait_for="shipped", deferrable=True)
    ok = {
        "status": "success",
        "value": "success",
        "record": {},
        "message": "ok",
        "ids": {"order_id": ORDER_ID},
    }
    assert op.execute_complete(make_context(), event=ok) == ORDER_ID
