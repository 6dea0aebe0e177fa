"""``xportcn_fulfilment`` in a real Airflow deployment (api-server, scheduler, dag-processor,
triggerer; LocalExecutor on SQLite) against the sandbox: the DAG succeeds, the sandbox holds
exactly one order, one package and one logistics order, and Airflow's own records show that both
waits were deferred and completed by the triggerer process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xportcn_provider.sandbox.handle import SandboxHandle

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_ID = "xportcn_fulfilment"
WAITS = ("wait_until_shipped", "wait_until_inspected")


@pytest.mark.slow
def test_fulfilment_runs_through_scheduler_and_triggerer(
    airflow_stack, xportcn_sandbox: SandboxHandle
) -> None:
    # Steps slower than scheduling a task, so each sensor's first poke finds "not yet" and defers,
    # and its trigger fires well after the scheduler has seen the task deferred (see the smoke DAG).
    xportcn_sandbox.control.configure(all_delays=10)
    env = {**xportcn_sandbox.env(), "XPORTCN_EXAMPLE_POLL_SECONDS": "1"}
    stack = airflow_stack(EXAMPLES, env)

    stack.wait_for_dag(DAG_ID)
    stack.unpause(DAG_ID)
    run_id = stack.trigger(DAG_ID)
    assert stack.wait_for_run(DAG_ID, run_id, timeout=240) == "success"

    states = {ti["task_id"]: ti["state"] for ti in stack.task_instances(DAG_ID, run_id)}
    assert states["create_international_logistics"] == "success", states
    assert states["refund_failed_qc"] == "skipped", states

    counts = xportcn_sandbox.control.state()
    assert (counts["orders"], counts["packages"], counts["logistics_orders"]) == (1, 1, 1), counts
    assert len([c for c in xportcn_sandbox.control.calls("order_create") if c["code"] == 200]) == 1

    for task_id in WAITS:
        evidence = stack.deferral_evidence(DAG_ID, run_id, task_id)
        assert evidence["deferred"] and evidence["resumed"], evidence
        [trigger] = evidence["triggers"]
        assert trigger["triggerer_job_type"] == "TriggererJob", evidence
        assert trigger["trigger_classes"] == ["xportcn_provider.triggers.status.XportcnStatusTrigger"], (
            evidence
        )
        assert evidence["completed_by_triggerer"], evidence

    # issue 16: the triggers' shared aiohttp session is closed when its last wait ends; aiohttp
    # reports one left open as "Unclosed client session" / "Unclosed connector", in the triggerer
    # process's log or in the trigger's part of the task log.
    trigger_logs = [
        path.read_text(errors="replace") for path in Path(stack.home, "logs").rglob("*.log.trigger.*")
    ]
    assert any("Xportcn" in text for text in trigger_logs), stack.log_tails()  # the right logs
    for text in (stack.component_log("triggerer"), *trigger_logs):
        assert "Unclosed" not in text, stack.log_tails()
