"""The example DAGs import cleanly and run end to end against the sandbox with ``dag.test()``."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLES, load_dag, xcom_value

from xportcn_provider.sandbox.handle import SandboxHandle

DAG_IDS = {
    "xportcn_fulfilment",
    "xportcn_after_sale",
    "xportcn_order_sync",
    "xportcn_order_report",
    "xportcn_on_order_message",
}


def _states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_every_example_imports_without_errors_or_warnings_from_our_code(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(EXAMPLES), safe_mode=False)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAG_IDS
    ours = [w for w in caught if "xportcn" in str(w.filename) or "dags_examples" in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]
    for dag_id in DAG_IDS:
        dag = bag.get_dag(dag_id)
        assert dag.doc_md and "xportcn" in dag.tags
        for task in dag.tasks:
            assert task.retry_policy is not None or task.task_type in {"_BranchPythonDecoratedOperator"}, task


def test_fulfilment_happy_path(example_env: SandboxHandle) -> None:
    run = load_dag("xportcn_fulfilment").test()
    states = _states(run)
    assert str(run.state) == "success", states
    assert states["create_international_logistics"] == "success"
    assert states["refund_failed_qc"] == "skipped"
    counts = example_env.control.state()
    assert counts["orders"] == 1
    assert counts["packages"] == 1
    assert counts["logistics_orders"] == 1
    assert counts["refunds"] == 0


def test_fulfilment_failed_qc_opens_one_refund(example_env: SandboxHandle) -> None:
    example_env.control.configure(qc_outcome="fail")
    run = load_dag("xportcn_fulfilment").test()
    states = _states(run)
    assert str(run.state) == "success", states
    assert states["refund_failed_qc"] == "success"
    assert states["create_international_logistics"] == "skipped"
    counts = example_env.control.state()
    assert (counts["orders"], counts["packages"], counts["logistics_orders"], counts["refunds"]) == (
        1,
        1,
        0,
        1,
    )


def _paid_order(sandbox: SandboxHandle) -> str:
    (order_id,) = sandbox.control.seed_orders(1, status="waitbuyerreceive")
    return order_id


def test_after_sale_return_path_reaches_refundsuccess(example_env: SandboxHandle) -> None:
    order_id = _paid_order(example_env)
    run = load_dag("xportcn_after_sale").test(run_conf={"order_id": order_id})
    states = _states(run)
    assert str(run.state) == "success", states
    assert states["submit_return_logistics"] == "success"
    assert states["cancel_refund"] == "skipped"
    assert example_env.control.state()["refunds"] == 1
    refunds = [c for c in example_env.control.calls("refund_create") if c["code"] == 200]
    assert len(refunds) == 1
    refund = example_env.control.get("refund", xcom_value(run, "create_refund"))
    assert refund["status"] == "refundsuccess"


def test_after_sale_cancels_when_the_seller_never_answers(
    example_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XPORTCN_EXAMPLE_REFUND_WAIT_SECONDS", "2")
    example_env.control.set_refund_outcome("default", "refuse")
    order_id = _paid_order(example_env)
    run = load_dag("xportcn_after_sale").test(run_conf={"order_id": order_id})
    states = _states(run)
    assert states["wait_for_seller"] == "failed", states
    assert states["cancel_refund"] == "success", states
    assert example_env.control.state()["refunds"] == 1


def test_order_sync_partitions_are_rerunnable(example_env: SandboxHandle, tmp_path: Path) -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    example_env.control.seed_orders(30, start=day.isoformat(), step_seconds=3600)  # 24 on day 20, 6 on day 21
    dag = load_dag("xportcn_order_sync")
    conf = {"storage_path": f"file://{tmp_path}/orders", "page_size": 7}
    day20 = tmp_path / "orders" / "dt=2026-11-20.jsonl"
    for _ in range(2):  # the rerun must replace its partition, not append to it
        run = dag.test(logical_date=day + timedelta(days=1), run_conf=conf)
        assert str(run.state) == "success", _states(run)
        counts = xcom_value(run, "sync_orders")
        assert counts["orders"] == 24, counts
        assert counts["interval"] == ["2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"]
        assert [p["path"] for p in counts["partitions"]] == [f"file://{day20}"]
        rows = [json.loads(line) for line in day20.read_text().splitlines()]
        assert len(rows) == len({r["orderId"] for r in rows}) == 24
    run = dag.test(logical_date=day + timedelta(days=2), run_conf={**conf, "lookback_days": 1})
    counts = xcom_value(run, "sync_orders")
    assert [(p["dt"], p["orders"]) for p in counts["partitions"]] == [("2026-11-20", 24), ("2026-11-21", 6)]
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == [
        "dt=2026-11-20.jsonl",
        "dt=2026-11-21.jsonl",
    ]

    # The sync updated the xportcn_orders Asset; the report DAG, scheduled on it, reads what it wrote.
    report_dag = load_dag("xportcn_order_report")
    assert [a.name for a in report_dag.timetable.asset_condition.objects] == ["xportcn_orders"]
    report_run = report_dag.test()
    assert str(report_run.state) == "success", _states(report_run)
    assert xcom_value(report_run, "report_partitions") == {
        "2026-11-20": {"orders": 24, "by_status": {"waitbuyerpay": 24}},
        "2026-11-21": {"orders": 6, "by_status": {"waitbuyerpay": 6}},
    }
