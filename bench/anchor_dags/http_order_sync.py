"""Anchor for ``bench/parse_cost.py``: ``dags_examples/xportcn_order_sync.py`` written with the HTTP provider.

Same schedule, params and single task; the task pages through ``order_list`` with ``HttpHook``
(imported inside the task, as the example imports its hook). Not meant to run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="http_order_sync",
    description="Daily Xportcn order list → one JSON Lines partition per day",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=True,
    max_active_runs=2,
    tags=["xportcn", "anchor", "sync"],
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1)},
    params={
        "output_dir": Param("", type="string", title="Output folder (empty: $AIRFLOW_HOME/xportcn_orders)"),
        "page_size": Param(100, type="integer", minimum=1, maximum=500, title="Orders per page"),
    },
) as dag:

    @task(task_id="sync_orders")
    def sync_orders(
        params: dict[str, Any] | None = None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
    ) -> dict[str, Any]:
        from airflow.providers.http.hooks.http import HttpHook

        assert params is not None and data_interval_start is not None and data_interval_end is not None
        root = params.get("output_dir") or os.path.join(os.environ.get("AIRFLOW_HOME", "."), "xportcn_orders")
        path = os.path.join(root, "orders", f"dt={data_interval_start:%Y-%m-%d}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        hook = HttpHook(method="POST", http_conn_id="xportcn_http")
        size, page, count = int(params.get("page_size") or 100), 1, 0
        with open(path, "w", encoding="utf-8") as out:
            while True:
                body = {
                    "createStartTime": f"{data_interval_start:%Y-%m-%dT%H:%M:%SZ}",
                    "createEndTime": f"{data_interval_end:%Y-%m-%dT%H:%M:%SZ}",
                    "pageNo": page,
                    "pageSize": size,
                }
                rows = hook.run("alibaba/ka/order/list", data=json.dumps(body)).json()["data"]["list"]
                for row in rows:
                    out.write(json.dumps(row) + "\n")
                count += len(rows)
                if len(rows) < size:
                    return {"orders": count, "path": path}
                page += 1

    sync_orders()
