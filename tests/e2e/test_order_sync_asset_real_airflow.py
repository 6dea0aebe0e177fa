"""``xportcn_order_sync`` → ``xportcn_orders`` Asset → ``xportcn_order_report``, in a real Airflow.

The sync's first catch-up runs write their partitions under the deployment's
``$AIRFLOW_HOME/xportcn_orders/orders`` (the ``storage_path`` Param's default) and update the
Asset; the scheduler then creates ``xportcn_order_report`` runs of type ``asset_triggered``,
whose task reads the partitions named by the event and returns the counts. Proven from Airflow's
own records (DAG runs, asset events, XCom) and the files on disk.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from xportcn_provider.sandbox.handle import SandboxHandle

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
SYNC, REPORT = "xportcn_order_sync", "xportcn_order_report"
#: Orders seeded on the first two catch-up days (the DAG's start_date is 2026-11-01).
SEEDED = {"2026-11-01": 5, "2026-11-02": 3}


def _poll(what: str, probe: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.slow
def test_the_sync_asset_schedules_the_report(
    airflow_stack, xportcn_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    for day, count in SEEDED.items():
        xportcn_sandbox.control.seed_orders(count, start=f"{day}T01:00:00Z", step_seconds=600)
    dags = tmp_path / "dags"  # only the example under test: a shorter parse loop
    dags.mkdir()
    shutil.copy(EXAMPLES / "xportcn_order_sync.py", dags)
    stack = airflow_stack(dags, xportcn_sandbox.env())
    stack.wait_for_dag(SYNC)
    stack.wait_for_dag(REPORT)
    stack.unpause(REPORT)
    stack.unpause(SYNC)

    def first_sync_runs() -> list[dict[str, Any]]:
        runs = stack.api("GET", f"dags/{SYNC}/dagRuns", params={"order_by": "logical_date"})["dag_runs"]
        first = [r for r in runs if r["logical_date"][:10] in SEEDED]
        return first if len(first) == 2 and all(r["state"] == "success" for r in first) else []

    syncs = _poll("the 11-01 and 11-02 sync runs", first_sync_runs, timeout=150)

    def finished_reports() -> list[dict[str, Any]]:
        runs = stack.api("GET", f"dags/{REPORT}/dagRuns", params={"order_by": "run_after"})["dag_runs"]
        return [r for r in runs if r["state"] in ("success", "failed")]

    reports = _poll("an asset-triggered report run", finished_reports, timeout=120)
    stack.api("PATCH", f"dags/{SYNC}", json={"is_paused": True})  # no more catch-up runs

    report = reports[0]
    assert report["state"] == "success", report
    assert report["run_type"] == "asset_triggered", report
    counts = stack.xcom(REPORT, report["dag_run_id"], "report_partitions")
    counts = json.loads(counts) if isinstance(counts, str) else counts
    # the report reads the latest event when it runs: the 11-01 or the 11-02 partition
    [(day, summary)] = counts.items()
    assert day in SEEDED and summary == {"orders": SEEDED[day], "by_status": {"waitbuyerpay": SEEDED[day]}}

    for run in syncs:
        day = run["logical_date"][:10]  # CronDataIntervalTimetable: logical date = interval start
        synced = stack.xcom(SYNC, run["dag_run_id"], "sync_orders")
        synced = json.loads(synced) if isinstance(synced, str) else synced
        [partition] = synced["partitions"]
        path = Path(partition["path"].removeprefix("file://"))
        assert path.parent == stack.home / "xportcn_orders" / "orders", path
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(rows) == partition["orders"] == SEEDED[partition["dt"]], (day, partition)

    def asset_events() -> list[dict[str, Any]] | None:
        # Airflow 3.3.2 answers 500 while an event's triggered run is still queued (its
        # start_date None fails AssetEventResponse validation); those runs start within seconds.
        resp = stack.api("GET", "assets/events", params={"limit": 50}, ok=False)
        return resp.json()["asset_events"] if resp.status_code == 200 else None

    events = _poll("the asset events list", asset_events, timeout=120)
    ours = [e for e in events if e.get("name") == "xportcn_orders" or "xportcn_orders" in str(e.get("uri"))]
    assert len(ours) >= 2, events
    assert {p["dt"] for e in ours for p in (e["extra"] or {}).get("partitions", [])} >= set(SEEDED)
