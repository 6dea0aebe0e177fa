"""A new user's first run, against real Airflow processes (issue 14 items 4 and 5).

One stack for the module (api-server, scheduler, dag-processor, triggerer; LocalExecutor on
SQLite) with ``[core] test_connection = Enabled`` and the sandbox as ``xportcn_default``:

* item 4 — a connection made the way the Xportcn form makes it is tested with the exact request
  the connection list's **Test** button sends, and passes; the same connection without a port
  shows the Airflow 3.3.2 refusal the user hit (why the form keeps the Port field).
* item 5 — reschedule mode with ``poke_interval=5``: Airflow's own sensor is failed into a retry
  by the scheduler (the race is reproduced), the Xportcn sensor with the same settings succeeds
  in one try because the provider raises the interval to 30 s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import airflow_stack as harness
import pytest

from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox.handle import SandboxHandle
from xportcn_provider.sandbox.server import RunningSandbox
from xportcn_provider.sensors.base import MIN_RESCHEDULE_INTERVAL

DAGS = Path(__file__).resolve().parent / "dags_first_run"
PLAIN, PLAIN_TASK = "xportcn_e2e_reschedule_plain", "plain_poke_5s"
XPORTCN, XPORTCN_TASK = "xportcn_e2e_reschedule_xportcn", "refunded"
SLOW_EXIT = 15


@pytest.fixture(scope="module")
def stack(xportcn_sandbox_server: RunningSandbox) -> Iterator[harness.AirflowStack]:
    if not harness.AIRFLOW_BIN.exists():
        pytest.skip(f"no airflow executable next to the interpreter ({harness.AIRFLOW_BIN})")
    env = {
        **xportcn_sandbox_server.handle.env(),
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "XPORTCN_E2E_SLOW_EXIT": str(SLOW_EXIT),
    }
    with harness.airflow_stack(DAGS, env, startup_timeout=180) as running:
        yield running


def form_connection(stack: harness.AirflowStack, sandbox: SandboxHandle, conn_id: str, *, port: bool) -> None:
    """Create a connection as the UI's Xportcn form does: its fields, its extras, its defaults.

    The form's add dialog posts the standard fields (an empty one left out) and ``extra`` as the
    JSON of the form's extra fields, which hold their defaults unless the user changed them.
    """
    meta = stack.hook_meta("xportcn")
    assert meta["standard_fields"]["port"]["hidden"] is False  # the form shows the Port field
    extra: dict[str, Any] = {}
    for name, field in meta["extra_fields"].items():
        value = sandbox.user_id if name == "user_id" else field.get("value")
        if value not in (None, ""):
            extra[name] = value
    body = {
        "conn_type": "xportcn",
        "connection_id": conn_id,
        "host": sandbox.url,
        "login": sandbox.access_key,
        "password": sandbox.access_secret,
        "extra": json.dumps(extra),
    }
    if port:
        body["port"] = sandbox.port
    stack.api("POST", "connections", json=body)


@pytest.mark.slow
def test_the_list_test_button_passes_for_a_form_made_connection(
    stack: harness.AirflowStack, xportcn_sandbox: SandboxHandle
) -> None:
    form_connection(stack, xportcn_sandbox, "xportcn_form", port=True)
    xportcn_sandbox.control.clear_calls()
    resp = stack.test_connection_from_list("xportcn_form")
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["status"] is True, answer
    assert xportcn_sandbox.access_secret not in resp.text
    calls = xportcn_sandbox.control.calls()
    assert len(calls) == 1 and calls[0]["code"] == 200, calls  # one cheap signed read, accepted


@pytest.mark.slow
def test_without_a_port_airflow_refuses_the_list_test(
    stack: harness.AirflowStack, xportcn_sandbox: SandboxHandle
) -> None:
    """Airflow 3.3.2's list sends ``port: 0`` for a NULL port and the API compares 0 with NULL.

    Documented in docs/hook.md ("The Test button"); when an Airflow release fixes it, this test
    fails and the note (and this test) can go.
    """
    form_connection(stack, xportcn_sandbox, "xportcn_form_no_port", port=False)
    xportcn_sandbox.control.clear_calls()
    resp = stack.test_connection_from_list("xportcn_form_no_port")
    assert resp.status_code == 400, resp.text
    assert "The host or port to test differs from the stored connection" in resp.text
    assert xportcn_sandbox.control.calls() == []


def a_refund(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    """An open refund that stays open until the test says otherwise."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    sandbox.control.configure(auto_advance=False)
    order_id = sandbox.control.seed_orders(1, status="waitbuyerreceive")[0]
    entry = sandbox.control.get("order", order_id)["productItems"][0]["subItemID"]
    refund = XportcnHook().refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=100
    )
    return str(refund["refundId"])


@pytest.mark.slow
def test_reschedule_mode_with_a_5s_interval(
    stack: harness.AirflowStack, xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    refund_id = a_refund(xportcn_sandbox, monkeypatch)
    for dag_id in (PLAIN, XPORTCN):
        stack.wait_for_dag(dag_id, timeout=120)
        stack.unpause(dag_id)
    plain_run = stack.trigger(PLAIN)
    run_id = stack.trigger(XPORTCN, conf={"refund_id": refund_id})

    # The provider's sensor: first poke finds the refund open and reschedules (30 s, not 5 s).
    stack.wait_for_task_state(XPORTCN, run_id, XPORTCN_TASK, "up_for_reschedule", timeout=180)
    # Airflow's sensor, same settings: when the scheduler re-queues the next poke before the
    # report of the last one arrives, it takes that report for a task killed externally and fails
    # the try. That is a race: it happened in every loaded run here, but a quiet machine may win
    # it for minutes, so the reproduction is checked when it happens and never required.
    try:
        plain_state = stack.wait_for_task_state(
            PLAIN, plain_run, PLAIN_TASK, {"up_for_retry", "failed", "success"}, timeout=120
        )
    except harness.AirflowStackError:
        plain_state = "up_for_reschedule (the race did not happen in 120 s)"
    else:
        assert plain_state == "up_for_retry", plain_state
        [mismatch, *_] = stack.scheduler_state_mismatches(PLAIN_TASK)
        assert "finished with state success, but the task instance's state attribute is" in mismatch

    xportcn_sandbox.control.force("refund", refund_id, "refundsuccess")
    assert stack.wait_for_run(XPORTCN, run_id, timeout=240) == "success"
    ti = stack.task_instance(XPORTCN, run_id, XPORTCN_TASK)
    assert ti["try_number"] == 1 and ti["state"] == "success", ti  # never failed into a retry
    assert stack.scheduler_state_mismatches(XPORTCN_TASK) == []
    reschedules = stack.reschedules(XPORTCN, run_id, XPORTCN_TASK)
    assert reschedules, "the sensor never rescheduled"
    assert all(r["gap"] >= MIN_RESCHEDULE_INTERVAL - 1 for r in reschedules), reschedules
    task_log = "\n".join(
        p.read_text(errors="replace") for p in stack.task_log_files(XPORTCN, run_id, XPORTCN_TASK)
    )
    assert "poke_interval=5s in reschedule mode is raised to 30s" in task_log
    print(
        f"reschedule e2e: plain sensor {plain_state} after the race; xportcn sensor success, "
        f"{len(reschedules)} reschedule(s), gaps {[round(r['gap'], 1) for r in reschedules]} s; "
        f"{time.strftime('%H:%M:%S')}"
    )
