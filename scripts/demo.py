"""``make demo``: the example DAGs end to end against a local sandbox, with a short summary.

Starts the sandbox on a free port, uses a throw-away ``AIRFLOW_HOME`` with a fresh SQLite
database, runs ``airflow dags test`` for ``xportcn_fulfilment`` and then ``xportcn_after_sale``
(on the order the first run bought), prints what was created, the statuses reached and how long
each wait took. Then the event-driven part: a real api-server, scheduler, dag-processor and
triggerer (``tests/e2e/airflow_stack.py``) with the provider's plugin; the sandbox pushes its
order messages to ``/xportcn/push/xportcn_default/<token>`` and ``xportcn_on_order_message``
runs on the asset events they become. Any failure exits non-zero with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = Path(sys.executable).with_name("airflow")
WAIT_TASKS = {"wait_until_shipped", "wait_until_inspected", "wait_for_seller", "wait_until_refunded"}


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


def _run(args: list[str], env: Mapping[str, str], log: Path, what: str) -> None:
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(args, env=dict(env), stdout=out, stderr=subprocess.STDOUT, check=False)
    took = time.monotonic() - started
    print(f"  {what}: exit {proc.returncode} in {took:.1f}s (log: {log})")
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise DemoError(f"{what} failed (exit {proc.returncode}). Last lines of {log}:\n{tail}")


def _task_rows(db: Path, dag_id: str) -> list[sqlite3.Row]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        run_id = conn.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        if run_id is None:
            raise DemoError(f"{dag_id}: no DAG run was recorded")
        if run_id["state"] != "success":
            raise DemoError(f"{dag_id}: the DAG run ended {run_id['state']!r}, not 'success'")
        return list(
            conn.execute(
                "SELECT task_id, state, start_date, end_date, duration FROM task_instance "
                "WHERE dag_id = ? AND run_id = ? ORDER BY start_date",
                (dag_id, run_id["run_id"]),
            )
        )


def _xcom(db: Path, dag_id: str, task_id: str, key: str = "return_value") -> Any:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT x.value FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id "
            "WHERE x.dag_id = ? AND x.task_id = ? AND x.key = ? ORDER BY r.id DESC LIMIT 1",
            (dag_id, task_id, key),
        ).fetchone()
    if row is None:
        raise DemoError(f"{dag_id}.{task_id}: no XCom {key!r}")
    value = row[0]
    return json.loads(value) if isinstance(value, str | bytes) else value


def _summarise(dag_id: str, rows: list[sqlite3.Row]) -> None:
    print(f"\n{dag_id}: success")
    for row in rows:
        wait = "  (wait)" if row["task_id"] in WAIT_TASKS else ""
        took = f"{row['duration']:.1f}s" if row["duration"] is not None else "-"
        print(f"  {row['task_id']:<34} {row['state']:<9} {took:>7}{wait}")


PUSH_DAG = "xportcn_on_order_message"


def _push_demo(handle: Any, home: Path) -> None:
    """Pushed messages -> asset events -> DAG runs, in a real deployment (about a minute)."""
    import secrets

    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    import airflow_stack as harness
    import httpx

    print("\nPush messages: starting api-server, scheduler, dag-processor and triggerer ...")
    dags = home / "push_dags"
    dags.mkdir()
    shutil.copy(REPO / "dags_examples" / f"{PUSH_DAG}.py", dags)
    token = secrets.token_urlsafe(32)
    conn = json.loads(handle.conn_json)
    conn["extra"]["push_token"] = token
    control = handle.control
    with harness.airflow_stack(dags, {"AIRFLOW_CONN_XPORTCN_DEFAULT": json.dumps(conn)}) as stack:
        stack.wait_for_dag(PUSH_DAG)
        stack.unpause(PUSH_DAG)
        control.configure(all_delays=2)
        # A retry 5 sandbox seconds after a failed delivery (Xport waits 30 minutes).
        control.push_to(f"{stack.base_url}/xportcn/push/xportcn_default/{token}", retry_interval=5)
        print(f"  the sandbox pushes to {stack.base_url}/xportcn/push/xportcn_default/***")
        [order_id] = control.seed_orders(1, hold=False)
        control.force("order", order_id, "waitsellersend")  # paid: ships, is received, completes
        deadline = time.monotonic() + 180
        summary: list[tuple[str, str, int]] = []
        quiet_since = None
        events = 0
        while time.monotonic() < deadline:
            events = stack.query("SELECT count(*) AS n FROM asset_event")[0]["n"]
            queued = stack.query("SELECT count(*) AS n FROM asset_dag_run_queue")[0]["n"]
            try:
                runs = stack.api("GET", f"dags/{PUSH_DAG}/dagRuns")["dag_runs"]
            except httpx.HTTPError:  # a busy api-server: ask again
                continue
            done = [r for r in runs if r["state"] in ("success", "failed")]
            if any(r["state"] == "failed" for r in done):
                raise DemoError(f"{PUSH_DAG} failed: {done}")
            if events >= 5 and runs and not queued and len(done) == len(runs):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 3:
                    break
            else:
                quiet_since = None
            time.sleep(1)
        else:
            raise DemoError(f"pushed messages did not reach {PUSH_DAG}: {events} events")
        summary = [
            (
                r["dag_run_id"],
                r["state"],
                stack.xcom(PUSH_DAG, r["dag_run_id"], "journal_messages")["appended"],
            )
            for r in done
        ]
        pushed = control.calls("push")
        slowest = max(c["duration_ms"] for c in pushed)
        print(f"  {len(pushed)} messages pushed, answered in {slowest:.0f} ms at most; asset events:")
        for event in stack.query("SELECT extra FROM asset_event ORDER BY id"):
            extra = json.loads(event["extra"])
            print(f"    {extra['message_type']:<26} order {extra['order_id']}  status {extra['status']}")
        print(f"  {PUSH_DAG}: {len(summary)} asset-triggered run(s), all success")
        for run_id, state, appended in summary:
            print(f"    {run_id:<62} {state:<8} journalled {appended}")
        journalled = sum(n for _, _, n in summary)
        if journalled < events:  # Airflow gives an event that lands while a run is created to the next run
            print(f"  ({events - journalled} event(s) wait for the next message's run)")


def main() -> int:
    from xportcn_provider.sandbox.server import start_in_thread

    home = Path(tempfile.mkdtemp(prefix="xportcn-demo-home-"))
    sandbox = start_in_thread("127.0.0.1", 0)
    handle = sandbox.handle
    print(f"Sandbox listening on {handle.url}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags_examples"),
        XPORTCN_EXAMPLE_POLL_SECONDS="1",
        **handle.env(),
    )
    db = home / "airflow.db"
    ok = False
    try:
        print(f"Airflow home: {home}")
        _run([str(AIRFLOW), "db", "migrate"], env, home / "migrate.log", "airflow db migrate")

        _run([str(AIRFLOW), "dags", "test", "xportcn_fulfilment"], env, home / "fulfilment.log", "fulfilment")
        fulfilment = _task_rows(db, "xportcn_fulfilment")
        order_id = str(_xcom(db, "xportcn_fulfilment", "create_order"))
        conf = json.dumps({"order_id": order_id})
        _run(
            [str(AIRFLOW), "dags", "test", "xportcn_after_sale", "-c", conf],
            env,
            home / "after_sale.log",
            "after-sale",
        )
        after_sale = _task_rows(db, "xportcn_after_sale")

        _summarise("xportcn_fulfilment", fulfilment)
        _summarise("xportcn_after_sale", after_sale)
        control = handle.control
        order = control.get("order", order_id)
        refund_id = str(_xcom(db, "xportcn_after_sale", "create_refund"))
        refund = control.get("refund", refund_id)
        logistics_id = _xcom(db, "xportcn_fulfilment", "create_international_logistics")
        package_id = _xcom(db, "xportcn_fulfilment", "forecast_package")
        package = control.get("package", str(package_id))
        print("\nCreated in the sandbox:")
        print(f"  order            {order_id}  status {order['status']}")
        print(f"  package          {package_id}  status {package['status']}")
        print(f"  logistics order  {logistics_id}")
        print(f"  refund           {refund_id}  status {refund['status']}")
        print(f"  totals           {control.state()}")
        if refund["status"] != "refundsuccess":
            raise DemoError(f"refund {refund_id} ended {refund['status']!r}, expected 'refundsuccess'")
        _push_demo(handle, home)
        ok = True
        print("\nDemo passed.")
        return 0
    except DemoError as err:
        print(f"\nDemo FAILED: {err}", file=sys.stderr)
        return 1
    finally:
        sandbox.stop()
        if ok:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"Kept {home} for inspection.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
