"""Reschedule mode with ``poke_interval=5`` on a real scheduler (issue 14 item 5).

Two DAGs, each with one reschedule-mode sensor asking for a 5 s interval, and each poke's process
kept alive ``XPORTCN_E2E_SLOW_EXIT`` seconds after the poke (an ``atexit`` sleep): what a busy
machine does on its own. The executor's report for a poke then reaches the scheduler after the
reschedule date.

* ``xportcn_e2e_reschedule_plain`` — Airflow's own ``PythonSensor``: the scheduler re-queues the
  next poke first, then takes the old poke's report for a task killed externally and puts the
  sensor up for retry (the bug the user hit; apache/airflow#71172).
* ``xportcn_e2e_reschedule_xportcn`` — ``XportcnRefundStatusSensor`` with the same settings: the
  provider raises the interval to 30 s, the report always comes first, the sensor succeeds.
"""

from __future__ import annotations

import atexit
import os
import time
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG

from xportcn_provider.sensors.status import XportcnRefundStatusSensor

SLOW_EXIT = float(os.environ.get("XPORTCN_E2E_SLOW_EXIT", "15"))
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def slow_exit(context: Any) -> None:
    """Keep this poke's process alive SLOW_EXIT s after the task is done (runs at exit)."""
    atexit.register(time.sleep, SLOW_EXIT)


def never_ready() -> bool:
    return False


with DAG("xportcn_e2e_reschedule_plain", schedule=None, start_date=START, catchup=False):
    PythonSensor(
        task_id="plain_poke_5s",
        python_callable=never_ready,
        mode="reschedule",
        poke_interval=5,
        timeout=600,
        retries=1,
        retry_delay=timedelta(seconds=300),
        on_execute_callback=slow_exit,
    )

with DAG("xportcn_e2e_reschedule_xportcn", schedule=None, start_date=START, catchup=False):
    XportcnRefundStatusSensor(
        task_id="refunded",
        refund_id="{{ dag_run.conf['refund_id'] }}",
        mode="reschedule",
        poke_interval=5,
        timeout=600,
        deferrable=False,
        retries=1,
        retry_delay=timedelta(seconds=300),
        on_execute_callback=slow_exit,
    )
