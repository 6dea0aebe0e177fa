"""After-sale operators against the sandbox: reasons → voucher → refund (deferred wait), lost
answers on create/cancel/return logistics, vouchers from a file, XCom bytes and a URL."""

from __future__ import annotations

import base64

import pytest
import requests_mock as rm

from xportcn_provider.api.errors import XportcnTransientError
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
    xportcn_sandbox, airflow_db, monkeypatch, tmp_path
):
    """reasons → voucher (bytes from an upstream task's XCom) → refund; the refund_create answer
    is lost, Airflow retries the task, the open refund is reused, then the wait is deferred."""
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
    assert try_numbers(run)["create_refund"] == ("success", 2)
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


def test_execute_again_after_lost_create_answer_reuses_the_open_refund(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_create")
    context = make_context(FakeTI(), FakeStore())
    with pytest.raises(XportcnTransientError):
        refund_op(order_id, entries[:1]).execute(context)
    # A fresh operator and no store: the lookup through the order's sub-orders finds it.
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    assert xportcn_sandbox.control.state()["refunds"] == 1
    assert endpoints_called(xportcn_sandbox) == [
        "order_detail",
        "refund_create",
        "order_detail",
        "refund_detail",
    ]
    assert xportcn_sandbox.control.get("refund", refund_id)["orderEntryIds"] == entries[:1]


def test_a_refund_that_succeeded_before_the_retry_is_reused_not_opened_again(xportcn_sandbox, monkeypatch):
    """The crash window: try 1's refund_create committed, its answer was lost, and the seller
    refunded before Airflow's retry ran. The retry must find the succeeded refund, not open a second."""
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    order_id, entries = paid_order(xportcn_sandbox)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_create")
    with pytest.raises(XportcnTransientError):
        refund_op(order_id, entries[:1]).execute(make_context(FakeTI(), FakeStore()))
    xportcn_sandbox.control.advance(3600)  # the seller agrees: refund-only ends in refundsuccess
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    assert xportcn_sandbox.control.get("refund", refund_id)["status"] == "refundsuccess"
    assert xportcn_sandbox.control.state()["refunds"] == 1
    assert [c["endpoint"] for c in xportcn_sandbox.control.calls("refund_create")] == ["refund_create"]


def test_refund_on_other_sub_orders_is_created_separately(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    first = refund_op(order_id, entries[:1]).execute(make_context())
    assert refund_op(order_id, entries[:1]).execute(make_context()) == first
    assert xportcn_sandbox.control.state()["refunds"] == 1


def test_cancel_with_a_lost_answer_then_again(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    order_id, entries = paid_order(xportcn_sandbox)
    refund_id = refund_op(order_id, entries[:1]).execute(make_context())
    xportcn_sandbox.control.clear_calls()
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="refund_cancel")
    op = XportcnCancelRefundOperator(task_id="cancel", refund_id=refund_id)
    with pytest.raises(XportcnTransientError):
        op.execute(make_context())
    ti = FakeTI()
    assert op.execute(make_context(ti)) == refund_id  # already closed: success, no second cancel
    assert ti.xcom["refund_status"] == "refundclose"
    assert endpoints_called(xportcn_sandbox) == ["refund_detail", "refund_cancel", "refund_detail"]
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


def test_return_logistics_submitted_once(xportcn_sandbox, monkeypatch):
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
    with pytest.raises(XportcnTransientError):
        op.execute(make_context())
    ti = FakeTI()
    assert op.execute(make_context(ti)) == refund_id
    assert ti.xcom["freight_bill"] == "YT9988776655"
    assert endpoints_called(xportcn_sandbox) == ["refund_detail", "refund_return_submit", "refund_detail"]
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
