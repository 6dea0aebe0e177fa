"""The access secret never reaches Airflow's logs, XComs, rendered fields, DB or exception text.

Issue #7 (design rule: "the secret is registered with Airflow's masker as soon as it is read; it
never reaches a log, an XCom, a rendered template or an exception").

A sandbox is started with a distinctive secret (:data:`SECRET`: with ``/``, ``+``, ``=`` and a
space, its URL- and form-encoded forms differ from it and from each other) and the real Airflow
stack of ``airflow_stack.py`` gets the matching ``xportcn_default`` connection. Every example
DAG then runs through the scheduler, the LocalExecutor workers and the triggerer:

* ``xportcn_fulfilment`` (succeeds; both waits deferred to the triggerer);
* ``xportcn_after_sale`` on a seeded order, seller asks for the goods back (succeeds);
* ``xportcn_after_sale`` on another seeded order, seller refuses: ``wait_for_seller`` times out
  in the triggerer, ``cancel_refund`` runs, the run fails — timeout exception text;
* ``xportcn_order_sync``, its first scheduled (catch-up) runs: the first ``order_list`` call is
  answered with an authentication error envelope (code 401), so one run fails with an
  ``XportcnAuthError`` raised while the secret was in use; the other succeeds.

After the stack has stopped (so every component flushed its logs), the test searches every
file under ``AIRFLOW_HOME`` (task logs, trigger logs, component logs, the SQLite file's raw
bytes, the order-sync partitions) and every row of every table of the metadata DB (XCom,
rendered task-instance fields, task instances and their history, ``task_state_store``, the audit
log, DAG runs, ...), plus the ``trigger`` rows read while a wait was deferred (their kwargs
decrypted with the stack's Fernet key), for the secret, its URL-, form-, JSON- and base64-encoded
forms and its distinctive fragment (case-insensitive). The exception records of the task logs
(``XportcnAuthError``, ``XportcnWaitTimeout``) are part of that text. The test also proves the
search was not vacuous: enough files, XCom rows, rendered fields, trigger rows and exception
records were looked at, the runs made calls that the sandbox accepted as signed with that
secret, and the scanner finds a planted secret in every form
(``test_scanner_finds_every_form_of_a_planted_secret``).
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import airflow_stack as harness
import pytest

from xportcn_provider.api.errors import EnvelopeCode
from xportcn_provider.sandbox.defaults import SandboxCredentials
from xportcn_provider.sandbox.server import start_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
FULFILMENT, AFTER_SALE, ORDER_SYNC = "xportcn_fulfilment", "xportcn_after_sale", "xportcn_order_sync"

SECRET = "XpSecret/7f3a 9c2e+DO-NOT-LEAK="
ACCESS_KEY = "e2e5ec2e75ca11e4b7d9f0a1b2c3d4e5"
USER_ID = "2100008388036"
#: Envelope codes of the sandbox's own authentication checks.
AUTH_CODES = {
    EnvelopeCode.MISSING_AUTH_HEADER,
    EnvelopeCode.ACCESS_KEY_UNKNOWN,
    EnvelopeCode.TIMESTAMP_EXPIRED,
    EnvelopeCode.SIGNATURE_INVALID,
    EnvelopeCode.USER_FORBIDDEN,
    EnvelopeCode.NONCE_REUSED,
}


def needles(secret: str, access_key: str) -> dict[str, bytes]:
    """Every form of the secret the scan looks for, lower-cased (the haystack is lower-cased too)."""
    forms = {
        "raw": secret,
        "url-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64 key:secret (basic auth)": base64.b64encode(f"{access_key}:{secret}".encode()).decode(),
        "fragment": "DO-NOT-LEAK",
    }
    return {name: value.lower().encode() for name, value in forms.items()}


def find_needles(data: bytes, wanted: dict[str, bytes]) -> list[str]:
    haystack = data.lower()
    return [name for name, needle in wanted.items() if needle in haystack]


@dataclass
class Scan:
    """What the scan looked at, and every hit (``where: [forms]``)."""

    hits: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    bytes_read: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    exceptions: list[dict[str, Any]] = field(default_factory=list)

    def check(self, where: str, data: bytes, wanted: dict[str, bytes]) -> None:
        found = find_needles(data, wanted)
        if found:
            self.hits[where] = found


def scan_files(home: Path, wanted: dict[str, bytes], scan: Scan) -> None:
    """Every file under ``home``: logs, component logs, the raw SQLite file, the sync partitions."""
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        scan.files.append(path)
        scan.bytes_read += len(data)
        scan.check(str(path.relative_to(home)), data, wanted)
        if path.suffix == ".log" or ".log." in path.name:
            for line in data.decode(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("error_detail"):
                    scan.exceptions.append({"file": str(path.relative_to(home)), **record})


def trigger_kwargs(stored: str, fernet_key: str) -> str:
    """``trigger.kwargs`` as Airflow reads it: plain JSON as sent by the worker, else Fernet-encrypted."""
    from cryptography.fernet import Fernet

    return stored if stored.startswith("{") else Fernet(fernet_key.encode()).decrypt(stored.encode()).decode()


def scan_database(db: Path, fernet_key: str, wanted: dict[str, bytes], scan: Scan) -> None:
    """Every row of every table, each value as text; trigger kwargs also decrypted."""
    from cryptography.fernet import InvalidToken

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # names from sqlite_master
            columns = [d[0] for d in cursor.description]
            for index, row in enumerate(cursor):
                scan.rows[table] += 1
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    data = value if isinstance(value, bytes) else str(value).encode()
                    scan.check(f"db:{table}[{index}].{column}", data, wanted)
                    if table == "trigger" and column == "kwargs":
                        try:
                            plain = trigger_kwargs(str(value), fernet_key)
                        except InvalidToken:
                            continue
                        scan.check(f"db:{table}[{index}].{column} (decrypted)", plain.encode(), wanted)
    finally:
        conn.close()


def _poll(what: str, probe: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not after {timeout}s")


def test_scanner_finds_every_form_of_a_planted_secret(tmp_path: Path) -> None:
    """The scan below would see a leak in each form it looks for, in files and in DB rows."""
    from cryptography.fernet import Fernet

    wanted = needles(SECRET, ACCESS_KEY)
    assert len(set(wanted.values())) == len(wanted)  # every form is distinct
    # Each form written out by hand (not computed by ``needles``), as a leak would look.
    planted = {
        "raw": "XpSecret/7f3a 9c2e+DO-NOT-LEAK=",
        "url-encoded": "XpSecret%2F7f3a%209c2e%2BDO-NOT-LEAK%3D",
        "form-encoded": "xpsecret%2f7f3a+9c2e%2bdo-not-leak%3d",
        "json-escaped": '{"password": "XpSecret\\/7f3a 9c2e+DO-NOT-LEAK="}',
        "base64": "WHBTZWNyZXQvN2YzYSA5YzJlK0RPLU5PVC1MRUFLPQ==",
        "base64 key:secret (basic auth)": "Authorization: Basic "
        "ZTJlNWVjMmU3NWNhMTFlNGI3ZDlmMGExYjJjM2Q0ZTU6WHBTZWNyZXQvN2YzYSA5YzJlK0RPLU5PVC1MRUFLPQ==",
        "fragment": "password=*** (do-not-leak)",
    }
    assert set(planted) == set(wanted)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "clean.log").write_text('{"event": "secret is ***"}\n')
    for index, text in enumerate(planted.values()):
        (logs / f"form{index}.log").write_text(f"x {text} y")
    key = Fernet.generate_key()
    db = tmp_path / "airflow.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE xcom (key TEXT, value BLOB)")
    conn.execute("INSERT INTO xcom VALUES ('a', ?)", (json.dumps({"token": SECRET}).encode(),))
    conn.execute("CREATE TABLE trigger (id INTEGER, kwargs TEXT)")
    encrypted = Fernet(key).encrypt(json.dumps({"password": SECRET}).encode()).decode()
    conn.execute("INSERT INTO trigger VALUES (1, ?)", (encrypted,))
    conn.commit()
    conn.close()

    scan = Scan()
    scan_files(tmp_path, wanted, scan)
    for index, name in enumerate(planted):
        assert name in scan.hits[f"logs/form{index}.log"], (name, scan.hits)
    assert "logs/clean.log" not in scan.hits and "raw" in scan.hits["airflow.db"]
    scan_database(db, key.decode(), wanted, scan)
    assert scan.hits["db:xcom[0].value"] == ["raw", "fragment"]
    assert "db:trigger[0].kwargs" not in scan.hits  # only its decrypted form shows the secret
    assert scan.hits["db:trigger[0].kwargs (decrypted)"] == ["raw", "fragment"]
    assert scan.rows == Counter({"xcom": 1, "trigger": 1})


@pytest.mark.slow
def test_no_secret_in_logs_xcom_rendered_fields_db_or_exceptions() -> None:
    if not harness.AIRFLOW_BIN.exists():
        pytest.skip(f"no airflow executable next to the interpreter ({harness.AIRFLOW_BIN})")
    running = start_in_thread("127.0.0.1", 0, credentials=SandboxCredentials(ACCESS_KEY, SECRET, USER_ID))
    control = running.handle.control
    try:
        # Steps slower than starting a task, so most waits defer to the triggerer (the refused one
        # always does: its refund never reaches a target status).
        control.configure(all_delays=3, order_ship_delay=8, refund_outcome="refuse")
        refused_order, agreed_order = control.seed_orders(2, status="success")
        control.seed_orders(12, start="2026-11-01T06:00:00Z", step_seconds=3 * 3600)  # 6 a day, 11-01/02
        env = {
            **running.handle.env(),
            "XPORTCN_EXAMPLE_POLL_SECONDS": "1",
            "XPORTCN_EXAMPLE_REFUND_WAIT_SECONDS": "15",
        }
        with harness.airflow_stack(EXAMPLES, env, keep_home=True) as stack:
            home, fernet_key = stack.home, stack.env["AIRFLOW__CORE__FERNET_KEY"]
            assert SECRET in stack.env["AIRFLOW_CONN_XPORTCN_DEFAULT"]  # Airflow really was given it
            runs = _run_every_example_dag(stack, control, refused_order, agreed_order)
        # The stack has stopped: every component has flushed its logs.
        wanted = needles(SECRET, ACCESS_KEY)
        scan = Scan()
        scan_files(home, wanted, scan)
        scan_database(home / "airflow.db", fernet_key, wanted, scan)
        for index, kwargs in enumerate(runs.triggers):  # trigger rows exist only while deferred
            scan.rows["trigger (while deferred)"] += 1
            scan.check(f"trigger row {index} (while deferred, decrypted)", kwargs.encode(), wanted)

        # --- the secret was in use: the sandbox holds it and accepted calls signed with it ---
        assert running.sandbox.credentials.access_secret == SECRET
        calls = control.calls()
        assert len([c for c in calls if c["code"] == 200]) >= 40, calls
        assert [c for c in calls if c["code"] in AUTH_CODES and c["fault"] is None] == []
        assert [c["fault"] for c in calls if c["code"] in AUTH_CODES] == ["envelope"]  # the injected one

        # --- the scan looked at a meaningful amount of data ---
        task_logs = [p for p in scan.files if p.is_relative_to(home / "logs")]
        trigger_logs = [p for p in task_logs if ".trigger." in p.name]
        assert len(task_logs) >= 25 and trigger_logs, [str(p) for p in task_logs]
        assert any("task_id=wait_for_seller" in str(p) for p in trigger_logs), trigger_logs
        assert len([p for p in scan.files if p.parent.name == "component-logs"]) == 4
        assert scan.bytes_read > 1_000_000, scan.bytes_read
        assert scan.rows["xcom"] >= 40 and scan.rows["rendered_task_instance_fields"] >= 20, scan.rows
        assert scan.rows["task_instance"] >= 25 and scan.rows["log"] >= 50, scan.rows
        assert scan.rows["task_state_store"] >= 3 and scan.rows["trigger (while deferred)"] >= 1, scan.rows
        exception_types = {str(e["error_detail"][0].get("exc_type")) for e in scan.exceptions}
        assert {"XportcnAuthError", "XportcnWaitTimeout"} <= exception_types, exception_types
        print(
            f"\nscanned {len(scan.files)} files ({len(trigger_logs)} trigger logs), {scan.bytes_read} bytes"
        )
        print(f"rows: {dict(scan.rows)}")
        print(f"runs: {runs.states}; exceptions: {sorted(exception_types)}")

        # --- and found nothing ---
        assert scan.hits == {}, f"secret found (AIRFLOW_HOME kept at {home}): {scan.hits}"
        shutil.rmtree(home, ignore_errors=True)
    finally:
        running.stop()


@dataclass
class Runs:
    states: dict[str, str]
    #: decrypted ``trigger.kwargs`` read while the refused run's wait was deferred
    triggers: list[str]


def _run_every_example_dag(
    stack: harness.AirflowStack, control: Any, refused_order: str, agreed_order: str
) -> Runs:
    """Run the example DAGs as the module docstring says and check each ended as planned."""
    for dag_id in (FULFILMENT, AFTER_SALE, ORDER_SYNC):
        stack.wait_for_dag(dag_id)
    stack.unpause(FULFILMENT)
    stack.unpause(AFTER_SALE)
    fulfilment = stack.trigger(FULFILMENT)
    refused = stack.trigger(AFTER_SALE, {"order_id": refused_order})

    # The refused run's refund exists: pin "refuse" on it, then let the next refund be agreed.
    refund_id = _poll(
        "refund on the refused order",
        lambda: control.get("order", refused_order)["productItems"][0]["refundId"],
        timeout=90,
    )
    control.set_refund_outcome(refund_id, "refuse")
    control.configure(refund_outcome="auto")
    agreed = stack.trigger(AFTER_SALE, {"order_id": agreed_order})

    # Order sync: after the fulfilment's create_order (which looks orders up with order_list), the
    # next order_list call is refused as an authentication failure; then the catch-up runs start.
    stack.wait_for_task_state(FULFILMENT, fulfilment, "create_order", "success", timeout=90)
    control.inject("envelope", endpoint="order_list", code=EnvelopeCode.SIGNATURE_INVALID, msg="签名错误")
    stack.unpause(ORDER_SYNC)

    # While the refused run waits in the triggerer, read what the trigger row carries.
    stack.wait_for_task_state(AFTER_SALE, refused, "wait_for_seller", "deferred", timeout=90)
    rows = stack.query("SELECT classpath, kwargs FROM trigger")
    triggers = [trigger_kwargs(str(row["kwargs"]), stack.env["AIRFLOW__CORE__FERNET_KEY"]) for row in rows]
    assert "xportcn_provider.triggers.status.XportcnStatusTrigger" in [r["classpath"] for r in rows], rows
    assert any("xportcn_default" in kwargs for kwargs in triggers), triggers  # decrypted for real

    def first_two_sync_runs() -> list[dict[str, Any]]:
        data = stack.api("GET", f"dags/{ORDER_SYNC}/dagRuns", params={"order_by": "logical_date"})
        first = [r for r in data["dag_runs"] if r["logical_date"][:10] in ("2026-11-01", "2026-11-02")]
        done = [r for r in first if r["state"] in harness.TERMINAL_RUN_STATES]
        return done if len(done) == 2 else []

    sync_runs = _poll("the 11-01 and 11-02 order-sync runs", first_two_sync_runs, timeout=120, interval=1)
    stack.api("PATCH", f"dags/{ORDER_SYNC}", json={"is_paused": True})  # no more catch-up runs

    states = {
        "fulfilment": stack.wait_for_run(FULFILMENT, fulfilment, timeout=150),
        "after_sale agreed": stack.wait_for_run(AFTER_SALE, agreed, timeout=120),
        "after_sale refused": stack.wait_for_run(AFTER_SALE, refused, timeout=120),
        **{f"order_sync {r['logical_date'][:10]}": str(r["state"]) for r in sync_runs},
    }
    assert states["fulfilment"] == "success" and states["after_sale agreed"] == "success", states
    assert states["after_sale refused"] == "failed", states
    refused_tis = {ti["task_id"]: ti["state"] for ti in stack.task_instances(AFTER_SALE, refused)}
    assert refused_tis["wait_for_seller"] == "failed", refused_tis
    assert refused_tis["cancel_refund"] == "success", refused_tis
    assert control.get("refund", refund_id)["status"] == "refundclose"
    # Whichever sync run called order_list first got the auth error; the other synced its day.
    assert sorted(str(r["state"]) for r in sync_runs) == ["failed", "success"], sync_runs
    [synced] = [r for r in sync_runs if r["state"] == "success"]
    assert stack.xcom(ORDER_SYNC, synced["dag_run_id"], "sync_orders")["orders"] == 6
    assert "deferred" in [e["event"] for e in stack.event_log(AFTER_SALE, refused, "wait_for_seller")]
    return Runs(states, triggers)
