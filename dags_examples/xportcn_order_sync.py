"""Daily order sync into any object store, and a report DAG scheduled on the orders Asset.

``xportcn_order_sync`` runs :class:`~xportcn_provider.transfers.XportcnOrdersToStorageOperator`:
each run pages through the orders created in its data interval (and, with ``lookback_days``, the
days before it, to catch later status changes) and replaces one partition per UTC day under the
``storage_path`` param (``<storage_path>/dt=YYYY-MM-DD.jsonl``; ``file://``, ``s3://``, ``gs://``,
``abfs://`` …). A rerun or a backfill rewrites its partitions instead of appending, so rows are
never duplicated; a failed run leaves the previous partitions as they were.

The task updates the :data:`ORDERS` Asset; ``xportcn_order_report`` is scheduled on it, reads
the partitions the event names and prints the counts.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, task
from airflow.timetables.interval import CronDataIntervalTimetable

from xportcn_provider.retry_policy import XPORTCN_RETRY_POLICY
from xportcn_provider.transfers import XportcnOrdersToStorageOperator

#: Where the partitions go unless a run's ``storage_path`` says otherwise (no I/O: a path only).
DEFAULT_STORAGE_PATH = "file://" + os.path.join(
    os.path.abspath(os.environ.get("AIRFLOW_HOME", ".")), "xportcn_orders", "orders"
)
#: Updated by every successful sync; each event's ``extra`` names the partitions written.
ORDERS = Asset(name="xportcn_orders", uri=DEFAULT_STORAGE_PATH, group="xportcn")

DOC_MD = """
### Xportcn order sync

A daily, catch-up schedule. `sync_orders` (`XportcnOrdersToStorageOperator`) lists the orders
created in `[data_interval_start, data_interval_end)` — plus the `lookback_days` before it, so
status changes after creation are caught — and atomically replaces one partition per UTC day,
`<storage_path>/dt=YYYY-MM-DD.jsonl` (or `.jsonl.gz`, `.parquet`: param `file_format`).
`storage_path` is any folder URL Airflow or fsspec can open (`s3://bucket/orders` with the
`storage_conn_id` param naming an `aws` connection, `gs://…`, `abfs://…`); the default is
`$AIRFLOW_HOME/xportcn_orders/orders`. It returns the counts per partition and per status.

Where the rows keep their id and creation time, and how the time filter is spelled, are params
(`id_field`, `time_field`, `time_format`, `time_zone`; see `docs/data-shapes.md`): a row without
an id or a readable time fails the run instead of being written wrong, and rows created outside
a day are left out whatever the server's filter did.

Each success updates the `xportcn_orders` Asset, which schedules `xportcn_order_report`.
"""

REPORT_DOC_MD = """
### Xportcn order report

Scheduled on the `xportcn_orders` Asset: runs after each successful `xportcn_order_sync`, reads
the partitions that run wrote (named in the asset event's `extra`) and prints the orders per day
and per status. Triggered by hand, it reports the latest event.
"""

with DAG(
    dag_id="xportcn_order_sync",
    description="Daily Xportcn order list → one partition per day in any object store",
    doc_md=DOC_MD,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1),
    catchup=True,
    max_active_runs=2,
    tags=["xportcn", "example", "sync"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_policy": XPORTCN_RETRY_POLICY,
    },
    params={
        "storage_path": Param(
            DEFAULT_STORAGE_PATH, type="string", title="Folder URL (file://, s3://, gs://, …)"
        ),
        "storage_conn_id": Param("", type="string", title="Airflow connection of the store (empty: default)"),
        "file_format": Param("jsonl", enum=["jsonl", "jsonl.gz", "parquet"], title="Partition format"),
        "lookback_days": Param(0, type="integer", minimum=0, maximum=90, title="Also rewrite N earlier days"),
        # 100 is the sandbox's (and the assumed service's) largest page; a server that serves
        # fewer rows than asked is detected by the paginator, which then pages at its size.
        "page_size": Param(100, type="integer", minimum=1, maximum=100, title="Orders per page"),
        "id_field": Param("orderId", type="string", title="Path of the order id in a list row"),
        "time_field": Param("createTime", type="string", title="Path of the creation time in a list row"),
        "time_format": Param(
            "iso", type="string", title="Time filter format: iso, unix, unix_ms or a strftime pattern"
        ),
        "time_zone": Param("UTC", type="string", title="Zone of pattern times: UTC, Asia/Shanghai, +08:00"),
    },
):
    XportcnOrdersToStorageOperator(
        task_id="sync_orders",
        destination="{{ params.storage_path }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        file_format="{{ params.file_format }}",
        lookback="{{ params.lookback_days }}",
        page_size="{{ params.page_size }}",
        order_shape={
            "id_field": "{{ params.id_field }}",
            "time_field": "{{ params.time_field }}",
            "time_format": "{{ params.time_format }}",
            "time_zone": "{{ params.time_zone }}",
        },
        asset=ORDERS,
    )


with DAG(
    dag_id="xportcn_order_report",
    description="After each order sync: orders per day and status, read back from the partitions",
    doc_md=REPORT_DOC_MD,
    schedule=[ORDERS],
    start_date=datetime(2026, 11, 1),
    catchup=False,
    tags=["xportcn", "example", "sync"],
    default_args={"retries": 1, "retry_policy": XPORTCN_RETRY_POLICY},
):

    @task(task_id="report_partitions", inlets=[ORDERS])
    def report_partitions(inlet_events: Any = None) -> dict[str, Any]:
        """Count the rows of each partition the latest sync wrote; print and return the counts."""
        from collections import Counter

        from xportcn_provider.transfers.storage import read_partition

        events = inlet_events[ORDERS] if inlet_events is not None else []
        if not events:
            print("No xportcn_orders event yet: run xportcn_order_sync first.")
            return {}
        extra = events[-1].extra  # the event that triggered this run, or a newer one
        report: dict[str, Any] = {}
        for partition in extra.get("partitions", []):
            statuses = Counter(
                str(order.get("status"))
                for order in read_partition(partition["path"], extra.get("storage_conn_id"))
            )
            day = {"orders": sum(statuses.values()), "by_status": dict(sorted(statuses.items()))}
            report[partition["dt"]] = day
            print(f"{partition['dt']}: {day['orders']} orders {day['by_status']}")
        return report

    report_partitions()
