"""Crash and retry in a real Airflow: the task process dies after its create reached the API.

Issue #7: "a real task process killed after its create call reached the sandbox but before the
response was handled, then retried by Airflow: exactly one order, one refund and one logistics
order exist".

The stack of ``airflow_stack.py`` (api-server, scheduler with the LocalExecutor, dag-processor,
triggerer; SQLite) runs ``tests/e2e/dags_crash/xportcn_crash_retry.py`` against the session's
sandbox. The sandbox holds back the answer of the first ``order_create``, ``refund_create`` and
``intl_logistics_create`` (fault ``commit_then_hang``): the write is done and logged as
committed while the task still waits for the answer. Then the test kills the task.

**Which process is killed.** Under the LocalExecutor the scheduler's executor worker process
(title ``airflow worker -- LocalExecutor: <ti id>``) runs the Task SDK supervisor, which forks
the *task process*; the task process renames itself ``airflow worker -- <ti id>``, runs the
operator and opens the HTTP connection to the sandbox. The test takes the ``client_port`` of the
held call from the sandbox's call log, finds the one process (a descendant of the scheduler)
that owns that TCP connection, checks that its title names the task instance being run, and
sends it ``SIGKILL``: no handler, no ``finally``, the answer is never handled. The executor
worker (its parent) and the scheduler are left alive.

**How Airflow notices** (Airflow 3.3.2, as recorded by the test): the supervisor sees its child
exit with -9, writes ``Process terminated by signal`` (``signal_name: SIGKILL``) into the try's
task log and logs ``Workload finished ... final_state=up_for_retry``; the executor worker then
reports the workload finished, and the scheduler, finding the task instance still ``running`` for
that try, records a ``state mismatch`` audit event (task killed externally) and handles it as a
failure: ``Marking task as UP_FOR_RETRY`` (``retries=1``). Try 2 starts after the 1 s
``retry_delay``.

**How try 2 avoids a duplicate** — on a sandbox that deduplicates and on one that does not
(``--no-dedupe``), the test runs against both: the order by its deterministic ``outOrderId``
(``order_list``: no second ``order_create``), the payment by reading the order first (paid: no
second ``order_pay``), the open refund through ``order_detail`` → ``refund_detail`` (no second
``refund_create``; the seller's answer is delayed for an hour so the refund is still open, as it
would be in production). The booking has no read endpoint: try 1 left a "sent" mark in
``task_state_store`` before sending, so try 2 refuses to book blind and fails with
``XportcnOutcomeUnknownError`` naming the ``tmallOrderId`` — the run fails, with one booking.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from xportcn_provider.sandbox.handle import SandboxHandle

DAGS = Path(__file__).resolve().parent / "dags_crash"
DAG_ID = "xportcn_crash_retry"
#: endpoint whose answer the sandbox holds -> the task that sent it
HELD = {
    "order_create": "create_order",
    "order_pay": "pay_order",
    "refund_create": "create_refund",
    "intl_logistics_create": "create_international_logistics",
}
#: what each task's second try logs when it finds the first try's work
RECONNECTED = {
    "create_order": "order already exists",
    "pay_order": "the order is already paid",
    "create_refund": "already covers these sub-orders; reusing it",
}
#: The booking has no read endpoint: its second try refuses to book again and fails, naming the key.
BOOKING_TASK = "create_international_logistics"
BOOKING_REFUSED = "an earlier try of this task sent this booking and got no answer"


def _owner_of_connection(roots: list[int], local_port: int, remote_port: int) -> list[psutil.Process]:
    """Descendants of ``roots`` that own the TCP connection ``local_port`` -> ``remote_port``."""
    owners = []
    for root in roots:
        for proc in psutil.Process(root).children(recursive=True):
            try:
                conns = proc.net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(
                c.laddr and c.laddr.port == local_port and c.raddr and c.raddr.port == remote_port
                for c in conns
            ):
                owners.append(proc)
    return owners


def _log_events(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a task log file."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _kill_held_tasks(stack: Any, sandbox: SandboxHandle, run_id: str, timeout: float) -> dict[str, Any]:
    """Wait for each held create and SIGKILL the task process that sent it; returns what was killed."""
    control = sandbox.control
    scheduler = stack.procs["scheduler"].pid
    killed: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(killed) < len(HELD):
        assert time.monotonic() < deadline, f"held calls seen: {sorted(killed)}; calls: {control.calls()}"
        stack.check_alive()
        for call in control.calls():
            endpoint = call["endpoint"]
            if call["fault"] != "commit_then_hang" or endpoint in killed:
                continue
            if not (call["msg"] or "").startswith("committed (code 200), response held"):
                continue  # not committed yet, or no longer held
            ti = stack.task_instance(DAG_ID, run_id, HELD[endpoint])
            owners = _owner_of_connection([scheduler], call["client_port"], sandbox.port)
            assert len(owners) == 1, (endpoint, call, owners)
            victim = owners[0]
            worker = victim.parent()
            # The process running this very task instance (its try 1), not the executor or scheduler.
            assert (ti["state"], ti["try_number"]) == ("running", 1), ti
            assert victim.name() == f"airflow worker -- {ti['id']}", victim.cmdline()
            assert worker.name().startswith("airflow worker -- LocalExecutor"), worker.cmdline()
            assert worker.ppid() == scheduler and victim.pid not in {p.pid for p in stack.procs.values()}
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            killed[endpoint] = {"call": call, "ti_id": ti["id"], "pid": victim.pid, "worker": worker}
            assert worker.is_running(), "the executor worker must survive the kill of its task"
        time.sleep(0.2)
    return killed


@pytest.mark.slow
@pytest.mark.parametrize("dedupe", [True, False], ids=["dedupe", "no-dedupe"])
def test_killed_write_tasks_are_retried_without_duplicates(
    airflow_stack, xportcn_sandbox: SandboxHandle, dedupe: bool
) -> None:
    """Against a service that deduplicates and one that does not: the same single objects."""
    control = xportcn_sandbox.control
    control.set_dedupe(dedupe)
    control.configure(refund_agree_delay=3600)  # the seller has not answered when try 2 looks
    for endpoint in HELD:
        control.inject("commit_then_hang", endpoint=endpoint, count=1, hold=120)

    stack = airflow_stack(DAGS, xportcn_sandbox.env())
    stack.wait_for_dag(DAG_ID)
    stack.unpause(DAG_ID)
    run_id = stack.trigger(DAG_ID)

    killed = _kill_held_tasks(stack, xportcn_sandbox, run_id, timeout=150)
    # The booking cannot be read back: its retry fails on purpose, so the run fails.
    assert stack.wait_for_run(DAG_ID, run_id, timeout=120) == "failed"

    # --- exactly one of each in the sandbox, and each write reached it once ---
    counts = control.state()
    assert (counts["orders"], counts["payments"], counts["refunds"], counts["logistics_orders"]) == (
        1,
        1,
        1,
        1,
    ), counts
    assert counts["packages"] == 1, counts
    for endpoint, info in killed.items():
        calls = control.calls(endpoint)
        assert calls[0]["seq"] == info["call"]["seq"], calls
        # The sandbox saw the task's connection close while the answer was still held.
        assert calls[0]["msg"].startswith("committed (code 200); the client disconnected after "), calls[0]
        # try 2 found the order / the payment / the open refund, or refused to book blind
        assert len(calls) == 1, calls

    # --- the ids the DAG returned are the objects the killed tries created ---
    order_id = str(stack.xcom(DAG_ID, run_id, "create_order"))
    out_order_id = stack.xcom(DAG_ID, run_id, "create_order", key="out_order_id")
    assert control.get("order", order_id)["outOrderId"] == out_order_id
    refund = control.get("refund", str(stack.xcom(DAG_ID, run_id, "create_refund")))
    assert str(refund["orderId"]) == order_id and refund["status"] == "waitselleragree", refund
    assert control.get("logistics", out_order_id)["tmallOrderId"] == out_order_id  # booked by try 1
    assert control.get("package", out_order_id)["status"] in ("SHIPPED", "DELIVERED")  # booked for it

    # --- Airflow's own records: try 1 died by SIGKILL and was retried; try 2 reconnected ---
    for endpoint, task_id in HELD.items():
        ti = stack.task_instance(DAG_ID, run_id, task_id)
        expected = "failed" if task_id == BOOKING_TASK else "success"
        assert (ti["state"], ti["try_number"]) == (expected, 2), ti
        assert ti["id"] != killed[endpoint]["ti_id"]  # every try has its own id
        [history] = stack.query(
            "SELECT try_number, state FROM task_instance_history WHERE run_id = ? AND task_id = ?",
            (run_id, task_id),
        )
        assert history["try_number"] == 1 and history["state"] != "success", history
        events = [e["event"] for e in stack.event_log(DAG_ID, run_id, task_id) if e["try_number"] == 1]
        assert "state mismatch" in events and "success" not in events, events

        logs = {f.name: _log_events(f) for f in stack.task_log_files(DAG_ID, run_id, task_id)}
        first, second = logs["attempt=1.log"], logs["attempt=2.log"]
        assert [r.get("signal_name") for r in first if r.get("level") == "critical"] == ["SIGKILL"], first
        assert not any(r.get("event") == "Pushing xcom" for r in first)
        if task_id == BOOKING_TASK:
            text = json.dumps(second, ensure_ascii=False)
            assert BOOKING_REFUSED in text and f"tmallOrderId {out_order_id}" in text, second
            assert "XportcnOutcomeUnknownError" in text, second
        else:
            assert any(RECONNECTED[task_id] in str(r.get("event")) for r in second), second
