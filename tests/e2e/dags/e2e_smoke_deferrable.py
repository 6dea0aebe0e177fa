"""Smoke DAG for the e2e harness: one deferrable core sensor, then one ordinary task.

``DateTimeSensorAsync`` always defers (to ``DateTimeTrigger``) and resumes on a worker in
``execute_complete`` — the same defer → triggerer → resume path the provider's sensors take.
"""

from __future__ import annotations

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import dag, task


@dag(dag_id="e2e_smoke_deferrable", schedule=None, catchup=False, tags=["e2e"])
def e2e_smoke_deferrable() -> None:
    wait = DateTimeSensorAsync(
        task_id="wait_deferred",
        # Rendered when the task starts. The margin must outlast the scheduler's handling of the
        # executor event for the deferring try: a trigger firing before that makes Airflow 3.3
        # see "queued" where it expects "deferred" and fail the task (seen on a loaded 2-core box).
        target_time="{{ (macros.datetime.utcnow() + macros.timedelta(seconds=10)).isoformat() }}+00:00",
    )

    @task
    def after_wait() -> str:
        return "done"

    wait >> after_wait()


e2e_smoke_deferrable()
