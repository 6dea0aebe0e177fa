"""Order operators against the sandbox: real HTTP, lost answers, Airflow task retries, deferral."""

from __future__ import annotations

import re

import pytest

from xportcn_provider.operators.orders import (
    XportcnCreateOrderOperator,
    XportcnOrderOverBudgetError,
    XportcnPayOrderOperator,
    XportcnPreviewOrderOperator,
    XportcnTaobaoCreateOrderOperator,
    XportcnTaobaoRenderOrderOperator,
)

from .operators_support import (
    ADDRESS,
    CARGO,
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


def test_airflow_retry_after_lost_create_answer_makes_exactly_one_order(
    any_sandbox, airflow_db, monkeypatch, tmp_path
):
    # The create's answer is lost and the look-ups that would settle it fail too (max_retries=0,
    # the service errs): try 1 fails with XportcnOutcomeUnknownError, Airflow retries the task,
    # and try 2's look-up finds the order. No second create, on either kind of service.
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="order_create")
    xportcn_sandbox.control.inject("http_500", endpoint="order_list", count=2, after=1)
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_create_order_retry",
        f"""
        from xportcn_provider.operators.orders import XportcnCreateOrderOperator
        XportcnCreateOrderOperator(
            task_id="create_order",
            address_param={ADDRESS!r},
            cargo_param_list={CARGO!r},
            retries=1,
            retry_delay=dt.timedelta(seconds=0),
        )
        """,
    )
    assert run.state == "success"
    assert try_numbers(run) == {"create_order": ("success", 2)}
    assert xportcn_sandbox.control.state()["orders"] == 1
    # try 1: lookup, create (committed, answer lost), two failed look-ups; try 2: lookup finds it.
    assert endpoints_called(xportcn_sandbox) == ["order_list", "order_create", *["order_list"] * 3]
    pushed = xcoms(run)["create_order"]
    order_id = pushed["return_value"]
    assert pushed["order_id"] == order_id
    assert re.fullmatch(r"af-[0-9a-f]{29}", pushed["out_order_id"])
    assert pushed["order_url"] == f"{CONSOLE_URL}/order/detail?orderId={order_id}"
    # The extra link was evaluated on the worker from that XCom.
    assert pushed["_link_XportcnOrderLink"] == pushed["order_url"]
    assert xportcn_sandbox.control.get("order", order_id)["outOrderId"] == pushed["out_order_id"]


def test_airflow_retry_reconnects_from_the_store_after_a_failed_wait(
    xportcn_sandbox, airflow_db, monkeypatch, tmp_path
):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    # Five status reads in a row fail: the wait of try 1 gives up (XportcnWaitError, retryable).
    xportcn_sandbox.control.inject("http_500", endpoint="order_detail", count=5)
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_create_order_store_retry",
        f"""
        from xportcn_provider.operators.orders import XportcnCreateOrderOperator
        XportcnCreateOrderOperator(
            task_id="create_order",
            out_order_id="store-demo-2",
            address_param={ADDRESS!r},
            cargo_param_list={CARGO!r},
            wait_for="waitbuyerpay",
            deferrable=False,
            poll_interval=0.05,
            retries=1,
            retry_delay=dt.timedelta(seconds=0),
        )
        """,
    )
    assert run.state == "success"
    assert try_numbers(run) == {"create_order": ("success", 2)}
    calls = endpoints_called(xportcn_sandbox)
    assert calls.count("order_create") == 1
    # Only try 1 looked the order up; try 2 went straight to the wait.
    assert calls.count("order_list") == 1
    assert calls == ["order_list", "order_create", *["order_detail"] * 6]
    assert xportcn_sandbox.control.state()["orders"] == 1


def test_create_pay_then_wait_for_shipped_in_the_triggerer(
    xportcn_sandbox, airflow_db, monkeypatch, tmp_path
):
    """Buy, pay, then a deferrable create of the same out_order_id reconnects and waits."""
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.configure(all_delays=0.3)
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_buy_pay_wait",
        f"""
        from xportcn_provider.operators.orders import XportcnCreateOrderOperator, XportcnPayOrderOperator
        buy = XportcnCreateOrderOperator(
            task_id="buy",
            out_order_id="buy-pay-wait-1",
            address_param={ADDRESS!r},
            cargo_param_list={CARGO!r},
        )
        pay = XportcnPayOrderOperator(task_id="pay", order_id=buy.output)
        wait = XportcnCreateOrderOperator(
            task_id="wait_shipped",
            out_order_id="buy-pay-wait-1",
            address_param={ADDRESS!r},
            cargo_param_list={CARGO!r},
            wait_for="shipped",
            deferrable=True,
            poll_interval=0.2,
            timeout=60,
        )
        buy >> pay >> wait
        """,
    )
    assert run.state == "success"
    pushed = xcoms(run)
    order_id = pushed["buy"]["return_value"]
    assert pushed["wait_shipped"]["return_value"] == order_id
    assert pushed["pay"]["pay_url"].endswith(f"/_sandbox/pay/{order_id}")
    assert xportcn_sandbox.control.state()["orders"] == 1
    assert xportcn_sandbox.control.get("order", order_id)["status"] in (
        "waitbuyerreceive",
        "confirm_goods",
        "success",
    )


def test_preview_and_budget_guard(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    preview = XportcnPreviewOrderOperator(task_id="p", address_param=ADDRESS, cargo_param_list=CARGO).execute(
        make_context()
    )
    total = preview["sumPayment"]
    assert total == preview["sumCarriage"] + sum(c["amount"] for c in preview["cargoList"])
    op = XportcnCreateOrderOperator(
        task_id="c", address_param=ADDRESS, cargo_param_list=CARGO, max_total_fen=total - 1
    )
    with pytest.raises(XportcnOrderOverBudgetError) as err:
        op.execute(make_context())
    assert err.value.parameter == "max_total_fen"
    assert xportcn_sandbox.control.state()["orders"] == 0
    assert "order_create" not in endpoints_called(xportcn_sandbox)


def test_pay_returns_the_pay_url_and_moves_the_order(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    order_id = XportcnCreateOrderOperator(task_id="c", address_param=ADDRESS, cargo_param_list=CARGO).execute(
        make_context()
    )
    ti = FakeTI()
    url = XportcnPayOrderOperator(task_id="pay", order_id=order_id).execute(make_context(ti))
    assert url == ti.xcom["pay_url"]
    assert xportcn_sandbox.control.get("order", order_id)["status"] != "waitbuyerpay"


def test_pay_with_a_lost_answer_is_verified_and_a_retry_pays_nothing(any_sandbox, monkeypatch):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    order_id = xportcn_sandbox.control.seed_orders(1)[0]
    xportcn_sandbox.control.clear_calls()
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="order_pay")
    op = XportcnPayOrderOperator(task_id="pay", order_id=order_id)
    ti = FakeTI()
    assert op.execute(make_context(ti)) is None  # paid; its URL was never seen
    assert ti.xcom["order_id"] == order_id
    assert op.execute(make_context()) is None  # a retry of the task reads first: no second pay
    assert endpoints_called(xportcn_sandbox) == ["order_detail", "order_pay", "order_detail", "order_detail"]
    assert xportcn_sandbox.control.get("order", order_id)["status"] == "waitsellersend"
    assert xportcn_sandbox.control.state()["payments"] == 1


def test_execute_twice_after_lost_answer_with_the_store(any_sandbox, monkeypatch):
    """A lost answer settled by the look-up; a second execute (the store kept) calls nothing."""
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="order_create")
    context = make_context(FakeTI(run_id="manual__1"), FakeStore())
    op = XportcnCreateOrderOperator(task_id="c", address_param=ADDRESS, cargo_param_list=CARGO)
    order_id = op.execute(context)
    assert op.execute(context) == order_id  # a second try: from the store, no call
    assert endpoints_called(xportcn_sandbox) == ["order_list", "order_create", "order_list"]
    assert xportcn_sandbox.control.state()["orders"] == 1


def test_taobao_render_and_create_once(any_sandbox, monkeypatch):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    items = [{"itemId": "700000000001", "skuId": "1", "quantity": 2}]
    address = {"name": "李四", "mobile": "13900000000", "address": "上海市黄浦区"}
    render = XportcnTaobaoRenderOrderOperator(task_id="r", items=items, address=address).execute(
        make_context()
    )
    assert render["totalAmount"] == render["postFee"] + sum(i["amount"] for i in render["items"])
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="taobao_order_create")
    context = make_context(FakeTI(), FakeStore())
    op = XportcnTaobaoCreateOrderOperator(task_id="tb", items=items, address=address)
    order_id = op.execute(context)
    assert op.execute(context) == order_id
    assert context["ti"].xcom["order_id"] == order_id
    assert endpoints_called(xportcn_sandbox).count("taobao_order_create") == 1
    listed = xportcn_sandbox.control.state()
    assert listed.get("taobao_orders", 1) == 1
