"""After-sale operators against the sandbox: reasons → voucher → refund (deferred wait), lost
answers on create/cancel/return logistics, vouchers from a file, XCom bytes and a URL."""

from __future__ import annotations

import base64

import pytest
import requests_mock as rm

from xportcn_provider.api import monitoring as mon
from xportcn_provider.api.errors import XportcnConflictError, XportcnOutcomeUnknownError, XportcnProtocolError
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.operators.refunds import (
    XportcnCancelRefundOperator,
    XportcnCreateRefundOperator,
    XportcnRefundReasonsOperator,
    XportcnSubmitReturnLogisticsOperator,
    XportcnUploadRefundVoucherOperator,
)

from .operators_support import (
    CONSOLE_URL,
    FakeStore,
    FakeTI,
    endpoints_called,
    make_context,
    recorded_last_status,
    run_dag,
    try_numbers,
    use_sandbox,
    xcoms,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def paid_order(handle, status: str = "waitbuyerreceive") -> tuple[str, list[str]]:
    order_id = handle.control.seed_orders(1, status=status, quantity=3)[0]
    entries = [item["subItemID"] for item in handle.control.get("order", order_id)["productItems"]]
    handle.control.clear_calls()
    return order_id, entries


def refund_op(order_id: str, entries: list[str], **kwargs) -> XportcnCreateRefundOperator:
    defaults = dict(
        task_id="refund",
        order_id=order_id,
        order_entry_ids=entries,
        dispute_request="refund",
        apply_payment=100,
        goods_status="not_received",
    )
    return XportcnCreateRefundOperator(**{**defaults, **kwargs})


def test_after_sale_dag_with_a_lost_create_answer_and_a_deferred_wait(
    any_sandbox, airflow_db, monkeypatch, tmp_path
):
    """reasons → voucher (bytes from an upstream task's XCom) → refund; the refund_create answer
    is lost, the hook's look-up finds the open refund (no second create), then the wait is deferred."""
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(all_delays=0.3)
    order_id, entries = paid_order(xportcn_sandbox)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_create")
    image = base64.b64encode(PNG).decode()
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_after_sale",
        f"""
        from airflow.sdk import task
        from xportcn_provider.operators.refunds import (
            XportcnCreateRefundOperator,
            XportcnRefundReasonsOperator,
            XportcnUploadRefundVoucherOperator,
        )

        @task
        def photo():
            return {image!r}

        reasons = XportcnRefundReasonsOperator(
            task_id="refund_reasons", order_id={order_id!r}, goods_status="received"
        )
        voucher = XportcnUploadRefundVoucherOperator(
            task_id="upload_voucher", content=photo(), file_name="box.png"
        )
        refund = XportcnCreateRefundOperator(
            task_id="create_refund",
            order_id={order_id!r},
            order_entry_ids={entries[:1]!r},
            dispute_request="refund",
            apply_payment=100,
            goods_status="received",
            apply_reason_id="{{{{ ti.xcom_pull(task_ids='refund_reasons')[0]['id'] }}}}",
            vouchers=["{{{{ ti.xcom_pull(task_ids='upload_voucher') }}}}"],
            wait_for_completion=True,
            deferrable=True,
            poll_interval=0.2,
            timeout=60,
            retries=1,
            retry_delay=dt.timedelta(seconds=0),
        )
        reasons >> voucher >> refund
        """,
    )
    assert run.state == "success"
    assert try_numbers(run)["create_refund"] == ("success", 1)
    state = xportcn_sandbox.control.state()
    assert state["refunds"] == 1
    assert state["vouchers"] == 1
    pushed = xcoms(run)
    refund_id = pushed["create_refund"]["return_value"]
    assert pushed["create_refund"]["refund_url"] == f"{CONSOLE_URL}/refund/detail?refundId={refund_id}"
    assert pushed["create_refund"]["_link_XportcnRefundLink"] == pushed["create_refund"]["refund_url"]
    assert pushed["refund_reasons"]["return_value"][0]["id"] == pushed["refund_reasons"]["reason_ids"][0]
    record = xportcn_sandbox.control.get("refund", refund_id)
    assert record["status"] == "refundsuccess"
    assert str(record["applyReasonId"]) == str(pushed["refund_reasons"]["reason_ids"][0])
    assert endpoints_called(xportcn_sandbox).count("refund_create") == 1
    # The waiting operator tells the monitoring page what it saw before deferring.
    last = recorded_last_status(run, "create_refund")
    assert last is not None and last.via == mon.VIA_BEFORE_DEFER and last.status, last


def test_lost_create_answer_is_settled_by_the_look_up_and_reused_after(any_sandbox, monkeypatch):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_create")
    refund_id = refund_op(order_id, entries[:1]).execute(make_context(FakeTI(), FakeStore()))
    # A fresh operator and no store: the lookup through the order's sub-orders finds it open.
    assert refund_op(order_id, entries[:1]).execute(make_context()) == refund_id
    assert xportcn_sandbox.control.state()["refunds"] == 1
    assert endpoints_called(xportcn_sandbox) == [
        "order_detail",
        "refund_create",
        "order_detail",
        "refund_detail",
        "order_detail",
        "refund_detail",
    ]
    assert xportcn_sandbox.control.get("refund", refund_id)["orderEntryIds"] == entries[:1]


def test_a_refund_that_succeeded_before_the_retry_is_reused_not_opened_again(any_sandbox, monkeypatch):
    """The crash window: try 1's refund_create committed, its answer was lost, the look-up failed,
    and the seller refunded before Airflow's retry ran. The retry finds the succeeded refund,
    created after try 1's "sent" mark, and does not open a second."""
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    order_id, entries = paid_order(xportcn_sandbox)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_create")
    xportcn_sandbox.control.inject("http_500", endpoint="order_detail", after=1)
    context = make_context(FakeTI(), FakeStore())
    with pytest.raises(XportcnOutcomeUnknownError, match="orderId="):
        refund_op(order_id, entries[:1]).execute(context)
    xportcn_sandbox.control.advance(3600)  # the seller agrees: refund-only ends in refundsuccess
    refund_id = refund_op(order_id, entries[:1]).execute(context)
    assert xportcn_sandbox.control.get("refund", refund_id)["status"] == "refundsuccess"
    assert xportcn_sandbox.control.state()["refunds"] == 1
    assert [c["endpoint"] for c in xportcn_sandbox.control.calls("refund_create")] == ["refund_create"]


def test_a_succeeded_refund_of_another_run_does_not_swallow_a_new_one(xportcn_sandbox, monkeypatch):
    """Issue 11 item 4: a finished partial refund from another DAG run is not "ours" — the new
    refund is requested (the no-dedupe service opens it; a stricter one would refuse loudly)."""
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.set_dedupe(False)
    order_id, entries = paid_order(xportcn_sandbox)
    first = refund_op(order_id, entries[:1], apply_payment=50).execute(make_context())
    xportcn_sandbox.control.advance(3600)
    assert xportcn_sandbox.control.get("refund", first)["status"] == "refundsuccess"
    second = refund_op(order_id, entries[:1], apply_payment=50).execute(make_context(FakeTI(run_id="r2")))
    assert second != first
    assert xportcn_sandbox.control.state()["refunds"] == 2


def test_refund_on_other_sub_orders_is_created_separately(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    first = refund_op(order_id, entries[:1]).execute(make_context())
    assert refund_op(order_id, entries[:1]).execute(make_context()) == first
    assert xportcn_sandbox.control.state()["refunds"] == 1


def test_cancel_with_a_lost_answer_then_again(any_sandbox, monkeypatch):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    xportcn_sandbox.control.clear_calls()
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_cancel")
    op = XportcnCancelRefundOperator(task_id="cancel", refund_id=refund_id)
    ti = FakeTI()
    assert op.execute(make_context(ti)) == refund_id  # the look-up sees it closed: no second cancel
    assert ti.xcom["refund_status"] == "refundclose"
    assert op.execute(make_context()) == refund_id  # a retry of the task: closed, nothing sent
    assert endpoints_called(xportcn_sandbox) == [
        "refund_detail",
        "refund_cancel",
        "refund_detail",
        "refund_detail",
    ]
    assert xportcn_sandbox.control.get("refund", refund_id)["status"] == "refundclose"


def test_cancel_a_refund_closed_elsewhere_is_success_without_a_cancel_call(xportcn_sandbox, monkeypatch):
    """Closed by someone else (the seller, the console) before the task ran: nothing to do.

    The server's STATE_CONFLICT answer to a cancel of a closed refund is covered by the unit
    tests: the sandbox cannot show an open refund and refuse its cancel at the same time."""
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    xportcn_sandbox.control.force("refund", refund_id, "refundclose", hold=True)
    xportcn_sandbox.control.clear_calls()
    op = XportcnCancelRefundOperator(task_id="cancel", refund_id=refund_id)
    assert op.execute(make_context()) == refund_id
    assert "refund_cancel" not in endpoints_called(xportcn_sandbox)


def test_cancel_a_succeeded_refund_sends_nothing_and_says_so(xportcn_sandbox, monkeypatch):
    """issue 14 item 6: a refund that already paid out is terminal; no cancel reaches the service."""
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    xportcn_sandbox.control.force("refund", refund_id, "refundsuccess", hold=True)
    xportcn_sandbox.control.clear_calls()
    op = XportcnCancelRefundOperator(task_id="cancel", refund_id=refund_id)
    with pytest.raises(XportcnConflictError) as caught:
        op.execute(make_context())
    assert str(caught.value).startswith(
        f"refund {refund_id} already refundsuccess (succeeded); nothing to cancel."
    )
    assert endpoints_called(xportcn_sandbox) == ["refund_detail"]
    assert xportcn_sandbox.control.get("refund", refund_id)["status"] == "refundsuccess"


def test_sandbox_names_a_succeeded_refund_succeeded_when_asked_to_cancel(xportcn_sandbox, monkeypatch):
    """One wording for statuses everywhere: the sandbox says "succeeded", not "closed"."""
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    xportcn_sandbox.control.force("refund", refund_id, "refundsuccess", hold=True)
    with pytest.raises(XportcnConflictError, match=r"is refundsuccess \(succeeded\) and cannot be cancelled"):
        XportcnHook().call("refund_cancel", {"refundId": refund_id})


def test_return_logistics_submitted_once(any_sandbox, monkeypatch):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox, status="confirm_goods")
    refund_id = refund_op(
        order_id, entries[:1], dispute_request="returnRefund", goods_status="received"
    ).execute(make_context())
    xportcn_sandbox.control.force("refund", refund_id, "waitbuyersend")
    xportcn_sandbox.control.clear_calls()
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_return_submit")
    op = XportcnSubmitReturnLogisticsOperator(
        task_id="ret", refund_id=refund_id, logistics_company_no="YTO", freight_bill="YT9988776655"
    )
    ti = FakeTI()
    assert op.execute(make_context(ti)) == refund_id  # the look-up sees the waybill recorded
    assert ti.xcom["freight_bill"] == "YT9988776655"
    assert op.execute(make_context()) == refund_id  # a retry: recorded, nothing sent
    assert endpoints_called(xportcn_sandbox) == [
        "refund_detail",
        "refund_return_submit",
        "refund_detail",
        "refund_detail",
    ]
    record = xportcn_sandbox.control.get("refund", refund_id)
    assert record["returnLogistics"] == {"logisticsCompanyNo": "YTO", "freightBill": "YT9988776655"}
    assert record["status"] == "waitsellerreceive"


def test_refund_reasons(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    order_id, entries = paid_order(xportcn_sandbox)
    reasons = XportcnRefundReasonsOperator(
        task_id="r", order_id=order_id, order_entry_ids=entries, goods_status="not_received"
    ).execute(make_context())
    assert reasons and all({"id", "name", "needVoucher"} <= set(r) for r in reasons)


def test_vouchers_from_file_bytes_and_url(xportcn_sandbox, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, xportcn_sandbox)
    path = tmp_path / "damage.png"
    path.write_bytes(PNG)
    from_file = XportcnUploadRefundVoucherOperator(task_id="v1", file_path=str(path)).execute(make_context())
    from_bytes = XportcnUploadRefundVoucherOperator(task_id="v2", content=PNG).execute(make_context())
    with rm.Mocker(real_http=True) as mocker:
        mocker.get("https://images.example.test/box.png", content=PNG)
        from_url = XportcnUploadRefundVoucherOperator(
            task_id="v3", url="https://images.example.test/box.png"
        ).execute(make_context())
    assert len({from_file, from_bytes, from_url}) == 3
    assert xportcn_sandbox.control.state()["vouchers"] == 3
    # The sandbox serves what it stored: the same bytes.
    served = xportcn_sandbox.control.session.get(from_url, timeout=5)
    assert served.content == PNG


# --- issue 11 item 5: the refund look-up never fails open -------------------------------------


def test_a_refund_shown_as_refund_id_for_as_is_found_not_opened_again(any_sandbox, monkeypatch):
    """1688 also shows a sub-order's refund as ``refundIdForAs``: the look-up reads both keys,
    after a lost answer (the hook's look-up) and on the next run (the operator's)."""
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    xportcn_sandbox.control.set_variants("refund_id_for_as")
    order_id, entries = paid_order(xportcn_sandbox)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_create")
    first = refund_op(order_id, entries[:1]).execute(make_context())
    assert refund_op(order_id, entries[:1]).execute(make_context()) == first
    assert xportcn_sandbox.control.state()["refunds"] == 1
    assert endpoints_called(xportcn_sandbox).count("refund_create") == 1


@pytest.mark.parametrize(
    ("variant", "fields", "expected"),
    [
        ("missing_status", None, "no known status"),
        (None, {"productItems": None}, "lists no productItems"),
    ],
    ids=["no-refund-status", "no-product-items"],
)
def test_an_unreadable_answer_fails_the_task_instead_of_creating_again(
    any_sandbox, monkeypatch, variant, fields, expected
):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    refund_op(order_id, entries[:1]).execute(make_context())
    if variant:
        xportcn_sandbox.control.set_variants(variant)
    if fields:
        status = xportcn_sandbox.control.get("order", order_id)["status"]
        xportcn_sandbox.control.force("order", order_id, status, hold=True, **fields)
    with pytest.raises(XportcnProtocolError, match=expected):
        refund_op(order_id, entries[:1]).execute(make_context())
    assert xportcn_sandbox.control.state()["refunds"] == 1
