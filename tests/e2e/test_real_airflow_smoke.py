"""Smoke test of the e2e harness: a real Airflow 3 deployment runs a DAG whose sensor defers.

Proves the whole path the provider's deferrable sensors depend on — worker defers, the
*triggerer process* runs the trigger and fires, the scheduler resumes the task on a worker — from
Airflow's own records (audit log, task log, trigger log + triggerer job row), not from our code.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "e2e_smoke_deferrable"


@pytest.mark.slow
def test_deferrable_task_is_completed_through_the_triggerer(airflow_stack) -> None:
    started = time.monotonic()
    stack = airflow_stack(DAGS)

    stack.wait_for_dag(DAG_ID)
    stack.unpause(DAG_ID)
    run_id = stack.trigger(DAG_ID, conf={"origin": "e2e smoke"})
    assert stack.wait_for_run(DAG_ID, run_id, timeout=120) == "success"

    states = {ti["task_id"]: ti["state"] for ti in stack.task_instances(DAG_ID, run_id)}
    assert states == {"wait_deferred": "success", "after_wait": "success"}
    assert stack.xcom(DAG_ID, run_id, "after_wait") == "done"

    evidence = stack.deferral_evidence(DAG_ID, run_id, "wait_deferred")
    assert evidence["events"] == ["running", "deferred", "running", "success"], evidence
    assert evidence["deferred"] and evidence["resumed"], evidence
    [trigger] = evidence["triggers"]
    assert trigger["triggerer_job_type"] == "TriggererJob", evidence
    assert trigger["trigger_classes"] == ["airflow.providers.standard.triggers.temporal.DateTimeTrigger"]
    assert trigger["fired_at"] and trigger["completed"], evidence
    assert evidence["completed_by_triggerer"], evidence

    # the plain task never deferred
    plain = stack.deferral_evidence(DAG_ID, run_id, "after_wait")
    assert plain["events"] == ["running", "success"] and not plain["triggers"]
    assert not plain["completed_by_triggerer"]

    print(f"e2e smoke: DAG run {run_id} done {time.monotonic() - started:.1f}s after the stack was requested")
