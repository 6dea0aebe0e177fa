"""Push messages through a real api-server (issue 15): the sandbox pushes, Airflow schedules.

A real deployment (``airflow_stack.py``: api-server, scheduler, dag-processor, triggerer) loads
the provider's plugin from the installed package (``airflow.plugins`` entry point); the example
DAG ``xportcn_on_order_message`` is scheduled on the pushed-messages assets. A sandbox with a
distinctive secret pushes its order messages to ``/xportcn/push/xportcn_default/<token>``.

Proven here, from Airflow's own records (REST API and the metadata DB):

* every distinct pushed message is exactly one asset event whose ``extra`` is the normalised
  message, and the example DAG runs on them (and journals each message once);
* a redelivery (the sandbox's ``duplicate`` fault: two racing deliveries; a manual re-POST;
  two threads posting one new message at the same instant) adds no event;
* an older message that arrives after a newer one is recorded with ``stale: true``;
* a wrong token, an unknown connection and a connection without a push token get the same
  bare 404; a malformed body 400 naming the field; a body over 64 KiB 413 — none adds an event;
* the push token and the access secret appear in no file under ``AIRFLOW_HOME`` (component and
  task logs, the SQLite file) and in no row of any table (the secrets scan's scanner);
* the receiver answers well inside Xport's 1,000 ms.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import airflow_stack as harness
import httpx
import pytest
from test_secrets_scan import Scan, needles, scan_database, scan_files

from xportcn_provider.sandbox.defaults import SandboxCredentials
from xportcn_provider.sandbox.server import start_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_ID = "xportcn_on_order_message"
ORDERS = "xportcn://xportcn_default/orders"
SECRET = "PushE2E/secret 4b1d+NEVER-LOGGED="
ACCESS_KEY = "e2e0push75ca11e4b7d9f0a1b2c3d4e5"
USER_ID = "2100008388036"


def _poll(what: str, probe: Any, timeout: float = 60.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not after {timeout}s (last: {value!r})")


def asset_events(stack: harness.AirflowStack, uri: str = ORDERS) -> list[dict[str, Any]]:
    rows = stack.query(
        "SELECT e.id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id"
        " WHERE a.uri = ? ORDER BY e.id",
        (uri,),
    )
    return [{"id": r["id"], "extra": json.loads(r["extra"])} for r in rows]


def wire(
    order_id: str, sent_at_ms: int, message_type: str = "ORDER_CREATE", status: str = "WAITING_FOR_PAYMENT"
) -> dict[str, Any]:
    body = {"orderId": order_id, "orderStatus": status, "payStatus": 1}
    return {
        "messageType": message_type,
        "messageBody": json.dumps(body),
        "messagePlatform": 1,
        "timestamp": str(sent_at_ms),
    }


@pytest.mark.slow
def test_pushed_messages_become_asset_events_that_run_the_example_dag() -> None:
    if not harness.AIRFLOW_BIN.exists():
        pytest.skip(f"no airflow executable next to the interpreter ({harness.AIRFLOW_BIN})")
    token = secrets.token_urlsafe(32)
    running = start_in_thread("127.0.0.1", 0, credentials=SandboxCredentials(ACCESS_KEY, SECRET, USER_ID))
    control = running.handle.control
    try:
        conn = json.loads(running.handle.conn_json)
        conn["extra"]["push_token"] = token
        env = {
            "AIRFLOW_CONN_XPORTCN_DEFAULT": json.dumps(conn),
            # a connection without a push token: accepts no pushes
            "AIRFLOW_CONN_XPORTCN_NOPUSH": running.handle.conn_json,
        }
        with harness.airflow_stack(EXAMPLES, env, keep_home=True) as stack:
            stack.wait_for_dag(DAG_ID)
            stack.unpause(DAG_ID)
            push_url = f"{stack.base_url}/xportcn/push/xportcn_default/{token}"
            http = httpx.Client(timeout=10)

            # --- the sandbox pushes: ORDER_CREATE (delivered twice, racing), then ORDER_CANCEL --------
            control.push_to(push_url, retry_interval=5)  # re-send 5 sandbox seconds after a failure
            control.push_fault("duplicate")
            [order_id] = control.seed_orders(1, hold=False)
            _poll("first message delivered", lambda: control.push_state()["delivered"] >= 1)
            control.force("order", order_id, "cancel")
            _poll("cancel delivered", lambda: control.push_state()["delivered"] >= 2)
            push_log = control.calls("push")
            # 2 racing + 1, plus a re-send if the loaded machine answered one later than 1,000 ms
            # (a re-send is a redelivery: it must not add an event either).
            assert len(push_log) >= 3 and {c["http_status"] for c in push_log} == {200}, push_log

            events = asset_events(stack)
            assert [e["extra"]["message_type"] for e in events] == ["ORDER_CREATE", "ORDER_CANCEL"], events
            created, cancelled = (e["extra"] for e in events)
            assert (created["order_id"], created["status"], created["platform"]) == (
                order_id,
                "waitbuyerpay",
                "1688",
            )
            assert (cancelled["status"], cancelled["raw_status"], cancelled["stale"]) == (
                "cancel",
                "CANCEL",
                False,
            )
            assert json.loads(cancelled["raw_body"])["orderId"] == order_id
            assert created["message_key"] != cancelled["message_key"]

            # --- the DAG runs on the events; the journal holds each message once ----------------------
            def finished_runs() -> list[dict[str, Any]]:
                runs = stack.api("GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]
                return [r for r in runs if r["state"] in harness.TERMINAL_RUN_STATES]

            runs = _poll("an asset-triggered run finished", finished_runs, timeout=120)
            assert all(r["state"] == "success" for r in runs), runs
            assert all(r["run_type"] == "asset_triggered" for r in runs), runs

            # --- redelivery: a manual re-POST and two concurrent deliveries of a new message ----------
            again = http.post(push_url, json=redelivery(cancelled))
            assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
            fresh = wire(
                order_id, cancelled["sent_at_ms"] + 1000, "ORDER_BUYER_VIEW_ORDER_PRICE_MODIFY", "CANCEL"
            )
            answers: list[httpx.Response] = []
            barrier = threading.Barrier(2)

            def deliver() -> None:
                with httpx.Client(timeout=10) as own:
                    barrier.wait()
                    answers.append(own.post(push_url, json=fresh))

            racers = [threading.Thread(target=deliver) for _ in range(2)]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join()
            assert sorted(a.status_code for a in answers) == [200, 200]
            assert sorted(a.json()["duplicate"] for a in answers) == [False, True]
            assert len(asset_events(stack)) == 3

            # --- out of order: an older message after the newer ones is recorded as stale ------------
            older = wire(order_id, created["sent_at_ms"] + 1, "ORDER_PAY_SUCCESS", "WAITING_FOR_SENT")
            late = http.post(push_url, json=older)
            assert late.status_code == 200 and late.json()["stale"] is True, late.text
            latest = asset_events(stack)[-1]["extra"]
            assert (latest["message_type"], latest["stale"]) == ("ORDER_PAY_SUCCESS", True)

            # --- refused deliveries add nothing -------------------------------------------------------
            before = len(asset_events(stack))
            new = wire(order_id, cancelled["sent_at_ms"] + 5000)
            refused = {
                "wrong token": http.post(
                    f"{stack.base_url}/xportcn/push/xportcn_default/{'x' * 43}", json=new
                ),
                "unknown connection": http.post(f"{stack.base_url}/xportcn/push/nope/{token}", json=new),
                "connection without token": http.post(
                    f"{stack.base_url}/xportcn/push/xportcn_nopush/{token}", json=new
                ),
                "no route": http.post(f"{stack.base_url}/xportcn/nothing-here", json=new),
            }
            for name, answer in refused.items():
                assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"}), name
            malformed = http.post(push_url, json={**new, "messagePlatform": 7})
            assert malformed.status_code == 400 and malformed.json()["field"] == "messagePlatform", (
                malformed.text
            )
            not_json = http.post(push_url, content=b"{", headers={"content-type": "application/json"})
            assert not_json.status_code == 400 and not_json.json()["field"] == "body"
            huge = http.post(push_url, json={**new, "padding": "x" * 70_000})
            assert huge.status_code == 413, huge.text
            assert len(asset_events(stack)) == before

            # --- every event ran the DAG; the journal has each distinct message once -------------------
            # An event that lands while the scheduler is creating a run (the stale one above came right
            # after the racers) is not lost: Airflow hands it to the DAG's next run. So once the
            # scheduler is quiet, one more message triggers that run.
            def quiet() -> bool:
                runs = stack.api("GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]
                pending = stack.query("SELECT 1 FROM asset_dag_run_queue")
                return not pending and all(r["state"] in harness.TERMINAL_RUN_STATES for r in runs)

            _poll("scheduler quiet", quiet, timeout=120)
            nudge = http.post(
                push_url, json=wire(order_id, cancelled["sent_at_ms"] + 9000, "ORDER_CANCEL", "CANCEL")
            )
            assert nudge.status_code == 200 and nudge.json()["duplicate"] is False, nudge.text

            def journalled() -> int:
                runs = stack.api("GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]
                if not all(r["state"] == "success" for r in runs):
                    return 0
                total = sum(stack.xcom(DAG_ID, r["dag_run_id"], "journal_messages")["appended"] for r in runs)
                return total if total == len(asset_events(stack)) else 0

            appended = _poll("every event journalled", journalled, timeout=120)
            runs = stack.api("GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]
            journal = sorted((stack.home / "xportcn_messages" / "messages").glob("dt=*.jsonl"))
            lines = [json.loads(line) for path in journal for line in path.read_text().splitlines()]
            keys = [line["message_key"] for line in lines]
            assert appended == len(keys) == len(set(keys)) == len(asset_events(stack)), (appended, keys)
            checked = [c for r in runs for c in stack.xcom(DAG_ID, r["dag_run_id"], "check_current_state")]
            assert any(c["order_id"] == order_id and c["current_status"] == "cancel" for c in checked), (
                checked
            )

            home, fernet_key = stack.home, stack.env["AIRFLOW__CORE__FERNET_KEY"]
            http.close()
    finally:
        running.stop()

    # --- after the stack stopped: no token, no secret anywhere ------------------------------------
    wanted = {
        **needles(SECRET, ACCESS_KEY),
        **{f"token {k}": v for k, v in needles(token, ACCESS_KEY).items() if k != "fragment"},
    }
    scan = Scan()
    scan_files(home, wanted, scan)
    scan_database(home / "airflow.db", fernet_key, wanted, scan)
    api_log = (home / "component-logs" / "api-server.log").read_text()
    assert "/xportcn/push/xportcn_default/***" in api_log  # the path was logged, token redacted
    assert "Xportcn push ORDER_CANCEL" in api_log
    assert scan.rows["asset_event"] >= 4 and scan.rows["xportcn_push_receipt"] >= 4, scan.rows
    assert scan.hits == {}, scan.hits
    shutil.rmtree(home, ignore_errors=True)


def redelivery(extra: dict[str, Any]) -> dict[str, Any]:
    """The message an event came from, as Xport would send it again (same content, same key)."""
    platform = {"taobao": 0, "1688": 1}[extra["platform"]]
    return {
        "messageType": extra["message_type"],
        "messageBody": extra["raw_body"],
        "messagePlatform": platform,
        "timestamp": str(extra["sent_at_ms"]),
    }
