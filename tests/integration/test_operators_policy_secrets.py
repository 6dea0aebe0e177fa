"""Through real Airflow task runs: the retry policy fails fast on bad input and retries transient
failures; no secret lands in XCom or in the rendered template fields stored by Airflow."""

from __future__ import annotations

import json

from .operators_support import (
    ADDRESS,
    CARGO,
    endpoints_called,
    rendered_fields,
    run_dag,
    try_numbers,
    use_sandbox,
    xcoms,
)


def test_policy_fails_fast_on_validation_and_retries_transient(
    xportcn_sandbox, airflow_db, monkeypatch, tmp_path
):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.inject("http_503", endpoint="order_pay")
    order_id = xportcn_sandbox.control.seed_orders(1)[0]
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_retry_policy",
        f"""
        from airflow.sdk import TriggerRule
        from xportcn_provider.operators.orders import XportcnPayOrderOperator
        from xportcn_provider.retry_policy import xportcn_retry_policy

        policy = xportcn_retry_policy(transient_delay=0, rate_limit_delay=0)
        bad = XportcnPayOrderOperator(
            task_id="bad_input",
            order_id="not an id",
            retries=3,
            retry_delay=dt.timedelta(seconds=0),
            retry_policy=policy,
        )
        flaky = XportcnPayOrderOperator(
            task_id="flaky",
            order_id={order_id!r},
            retries=3,
            retry_delay=dt.timedelta(seconds=0),
            retry_policy=policy,
            trigger_rule=TriggerRule.ALL_DONE,
        )
        bad >> flaky
        """,
    )
    tries = try_numbers(run)
    assert tries["bad_input"] == ("failed", 1)  # retries=3, but the policy failed it at once
    assert tries["flaky"] == ("success", 2)  # the 503 was retried once
    # each try reads the order first (never pay a paid order), then pays; the 503 was bare
    # (outcome unknown), so try 1's look-up ran before the error reached the task
    calls = endpoints_called(xportcn_sandbox)
    assert calls.count("order_pay") == 2 and calls[0] == "order_detail"


def test_no_secret_in_xcom_or_rendered_fields(xportcn_sandbox, airflow_db, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, xportcn_sandbox)
    secret = xportcn_sandbox.access_secret
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_secrets",
        f"""
        from xportcn_provider.operators.orders import XportcnCreateOrderOperator, XportcnPayOrderOperator
        from xportcn_provider.operators.generic import XportcnApiOperator
        buy = XportcnCreateOrderOperator(
            task_id="buy",
            out_order_id="secret-check-{{{{ ds_nodash }}}}",
            address_param={ADDRESS!r},
            cargo_param_list={CARGO!r},
            message="conn id is {{{{ conn.xportcn_default.conn_id }}}}",
        )
        pay = XportcnPayOrderOperator(task_id="pay", order_id=buy.output)
        detail = XportcnApiOperator(
            task_id="detail", endpoint="order_detail", payload={{"orderId": buy.output}}
        )
        buy >> pay >> detail
        """,
    )
    assert run.state == "success"
    stored = json.dumps([xcoms(run), rendered_fields(run)], default=str, ensure_ascii=False)
    assert "secret-check-" in stored and "conn id is xportcn_default" in stored  # the scan sees real data
    assert secret not in stored
