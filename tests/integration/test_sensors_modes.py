"""The status sensors against the sandbox, end to end.

* Every mode (poke, reschedule, deferrable) through ``dag.test()``: success (the record reaches a
  downstream task through XCom), a failure status (failed, not retried), a timeout (failed, not
  retried) and a timeout with ``soft_fail`` (skipped). ``dag.test()`` runs deferred triggers
  inline and re-runs rescheduled sensors, so all three modes really wait here.
* The transient-error bound holds across reschedules (task state store).
* Each sensor reaches its default target on the sandbox's data shapes, by poking and by deferring.
* A deferred sensor resumes correctly after its trigger is dropped and rebuilt from ``serialize()``.

The DAGs live in a file written to a temporary DAG bundle, because ``dag.test()`` on Airflow 3.3
runs the serialized DAG it finds in a bundle; ids and the connection come from ``dag_run.conf``
through the sensors' templated fields.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from xportcn_provider.api import monitoring as mon
from xportcn_provider.api.client import XportcnClient
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.sensors.base import XportcnStatusSensorBase
from xportcn_provider.sensors.status import (
    XportcnLogisticsStatusSensor,
    XportcnOrderStatusSensor,
    XportcnPackageStatusSensor,
    XportcnRefundStatusSensor,
)
from xportcn_provider.triggers.status import XportcnStatusTrigger

from .conftest import make_client
from .operators_support import recorded_last_status

BUNDLE = "xportcn-sensor-tests"
MODES = ("poke", "reschedule", "deferrable")

DAG_FILE = '''
"""Sensor DAGs for tests/integration/test_sensors_modes.py (written to a temporary bundle)."""
import datetime
import json
import os

from airflow.sdk import DAG, task

from xportcn_provider.sensors.status import XportcnRefundStatusSensor

MODES = {"poke": {"mode": "poke"}, "reschedule": {"mode": "reschedule"}, "deferrable": {"deferrable": True}}
VARIANTS = {
    "wait": {"timeout": 30},
    "timeout": {"timeout": 1.0},
    "softfail": {"timeout": 1.0, "soft_fail": True},
    "errors": {"timeout": 30, "max_consecutive_errors": 2},
}


@task
def record(rec):
    with open(os.environ["XP_SENSOR_OUT"], "a") as out:
        out.write(json.dumps(rec) + "\\n")


for mode, mode_kwargs in MODES.items():
    for variant, variant_kwargs in VARIANTS.items():
        # retries=1: a failure status or a timeout must fail the task without using it.
        retries = 0 if variant == "errors" else 1
        with DAG(
            f"xp_sensor_{mode}_{variant}",
            schedule=None,
            start_date=datetime.datetime(2026, 1, 1),
            catchup=False,
            default_args={"retries": retries, "retry_delay": datetime.timedelta(seconds=0)},
        ) as dag:
            wait = XportcnRefundStatusSensor(
                task_id="wait",
                refund_id="{{ dag_run.conf['refund_id'] }}",
                xportcn_conn_id="{{ dag_run.conf.get('conn_id', 'xportcn_default') }}",
                poke_interval=0.2,
                deferrable=mode == "deferrable",
                **{k: v for k, v in mode_kwargs.items() if k != "deferrable"},
                **variant_kwargs,
            )
            record(wait.output)
        globals()[dag.dag_id] = dag
'''


# --- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def no_reschedule_floor() -> Iterator[None]:
    """``dag.test()`` runs every poke in this process: no scheduler, so no race to guard against
    (docs/e2e.md); without the 30 s floor the reschedule-mode runs stay a few seconds each."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__XPORTCN__MIN_RESCHEDULE_INTERVAL", "0")
        yield


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xp_sensor_bundle")
    (path / "xp_sensor_dags.py").write_text(DAG_FILE)
    return path


@pytest.fixture(scope="module")
def sensor_dags(bundle_dir: Path) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(bundle_dir))
    assert bag.import_errors == {}
    return dict(bag.dags)


@pytest.fixture
def dag_env(airflow_db: Path, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Our bundle first (``dag.test()`` stops at the first bundle holding the DAG); XCom sink file."""
    bundles = [
        {
            "name": BUNDLE,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(bundle_dir), "refresh_interval": 0},
        },
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    out = tmp_path / "records.jsonl"
    monkeypatch.setenv("XP_SENSOR_OUT", str(out))
    return out


@pytest.fixture
def api(xportcn_sandbox: SandboxHandle) -> Iterator[XportcnClient]:
    client = make_client(xportcn_sandbox)
    yield client
    client.close()


def new_refund(handle: SandboxHandle, api: XportcnClient) -> str:
    [order_id] = handle.control.seed_orders(1, status="waitsellersend")
    entry = api.call("order_detail", {"orderId": order_id})["productItems"][0]
    body = {
        "orderId": order_id,
        "orderEntryIds": [entry["subItemID"]],
        "disputeRequest": "refund",
        "applyPayment": entry["itemAmount"],
        "goodsStatus": "not_received",
    }
    return str(api.call("refund_create", body)["refundId"])


def after_first_answer(handle: SandboxHandle, endpoint: str, action: Callable[[], Any]) -> threading.Thread:
    """Run ``action`` once the first ``endpoint`` call has been *answered*: the first read is
    guaranteed to see the old status, so every mode has to keep waiting to see the new one."""

    def run() -> None:
        stop = time.time() + 30
        while time.time() < stop:
            if any(c.get("http_status") is not None for c in handle.control.calls(endpoint)):
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def task_instance(dag_run: Any, task_id: str) -> Any:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_run.dag_id,
                TaskInstance.run_id == dag_run.run_id,
                TaskInstance.task_id == task_id,
            )
        )
        session.expunge(ti)
        return ti


def reschedules(ti: Any) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(session.scalar(select(func.count()).where(TaskReschedule.ti_id == ti.id)) or 0)


def run_dag(dags: dict[str, Any], mode: str, variant: str, **conf: Any) -> Any:
    return dags[f"xp_sensor_{mode}_{variant}"].test(run_conf=conf)


def check_mode_really_waited(mode: str, handle: SandboxHandle, ti: Any, output: str) -> None:
    """Each mode waited its own way: reschedules recorded, or the trigger ran inline."""
    assert len(handle.control.calls("refund_detail")) >= 2
    if mode == "reschedule":
        assert reschedules(ti) >= 1
    if mode == "deferrable":
        assert "running trigger in line" in output


# --- every mode: success, failure status, timeout, timeout + soft_fail --------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_success_returns_the_record_downstream(
    mode: str,
    sensor_dags: dict[str, Any],
    dag_env: Path,
    xportcn_default_conn: SandboxHandle,
    api: XportcnClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    after_first_answer(
        handle, "refund_detail", lambda: handle.control.force("refund", refund_id, "refundsuccess")
    )
    dag_run = run_dag(sensor_dags, mode, "wait", refund_id=refund_id)
    output = capsys.readouterr().out + caplog.text
    assert dag_run.state == "success"
    [record] = [json.loads(line) for line in dag_env.read_text().splitlines()]
    assert record["refundId"] == refund_id and record["status"] == "refundsuccess"
    check_mode_really_waited(mode, handle, task_instance(dag_run, "wait"), output)
    # The monitoring page's "last status seen": the last read in poke/reschedule mode (each
    # reschedule is a new process, the store keeps it), the check before deferring otherwise.
    last = recorded_last_status(dag_run, "wait")
    assert last is not None and last.seen_at is not None
    if mode == "deferrable":
        assert last.via == mon.VIA_BEFORE_DEFER and last.status != "refundsuccess", last
    else:
        assert (last.status, last.via) == ("refundsuccess", mon.VIA_POKE), last


@pytest.mark.parametrize("mode", MODES)
def test_failure_status_fails_without_retry(
    mode: str,
    sensor_dags: dict[str, Any],
    dag_env: Path,
    xportcn_default_conn: SandboxHandle,
    api: XportcnClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    after_first_answer(
        handle, "refund_detail", lambda: handle.control.force("refund", refund_id, "refundclose")
    )
    dag_run = run_dag(sensor_dags, mode, "wait", refund_id=refund_id)
    output = capsys.readouterr().out + caplog.text
    assert dag_run.state == "failed"
    ti = task_instance(dag_run, "wait")
    assert (ti.state, ti.try_number) == ("failed", 1)  # retries=1 was not used
    assert task_instance(dag_run, "record").state == "upstream_failed"
    assert "refundclose" in output and refund_id in output
    check_mode_really_waited(mode, handle, ti, output)


@pytest.mark.parametrize("mode", MODES)
def test_timeout_fails_without_retry(
    mode: str,
    sensor_dags: dict[str, Any],
    dag_env: Path,
    xportcn_default_conn: SandboxHandle,
    api: XportcnClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    dag_run = run_dag(sensor_dags, mode, "timeout", refund_id=refund_id)
    output = capsys.readouterr().out + caplog.text
    assert dag_run.state == "failed"
    ti = task_instance(dag_run, "wait")
    assert (ti.state, ti.try_number) == ("failed", 1)
    assert "AirflowSensorTimeout" in output or "XportcnWaitTimeout" in output
    check_mode_really_waited(mode, handle, ti, output)


@pytest.mark.parametrize("mode", MODES)
def test_timeout_with_soft_fail_skips(
    mode: str,
    sensor_dags: dict[str, Any],
    dag_env: Path,
    xportcn_default_conn: SandboxHandle,
    api: XportcnClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    dag_run = run_dag(sensor_dags, mode, "softfail", refund_id=refund_id)
    output = capsys.readouterr().out + caplog.text
    assert dag_run.state == "success"
    ti = task_instance(dag_run, "wait")
    assert ti.state == "skipped"
    assert task_instance(dag_run, "record").state == "skipped"
    check_mode_really_waited(mode, handle, ti, output)


# --- transient errors: tolerated up to the bound, in every mode -----------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("faults", "expected"), [(1, "success"), (2, "failed")])
def test_consecutive_error_bound(
    mode: str,
    faults: int,
    expected: str,
    sensor_dags: dict[str, Any],
    dag_env: Path,
    xportcn_default_conn: SandboxHandle,
    api: XportcnClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """max_consecutive_errors=2: one 503 is waited through, two in a row fail the task — also in
    reschedule mode, where every poke is a new run and the count lives in the task state store."""
    handle = xportcn_default_conn
    doc = json.loads(handle.conn_json)
    doc["extra"].update(max_retries=0, timeout=2)
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_FAST", json.dumps(doc))
    handle.control.configure(refund_agree_delay=0)
    refund_id = new_refund(handle, api)
    handle.control.inject("http_503", endpoint="refund_detail", count=faults)
    dag_run = run_dag(sensor_dags, mode, "errors", refund_id=refund_id, conn_id="xportcn_fast")
    assert dag_run.state == expected
    assert len(handle.control.calls("refund_detail")) == (faults + 1 if expected == "success" else faults)


# --- each sensor on the sandbox's data, by poking and by deferring --------------------------------------


def _taobao_order(handle: SandboxHandle, api: XportcnClient) -> dict[str, Any]:
    handle.control.configure(taobao_pay_delay=0.2, taobao_ship_delay=0.3)
    body = {
        "outOrderId": f"xp-sensor-{time.time_ns()}",
        "items": [{"itemId": "700000000001", "quantity": 1}],
        "address": {"name": "Test", "phone": "13800000000", "address": "1 Test Road"},
    }
    order_id = api.call("taobao_order_create", body)["orderId"]
    return {"cls": XportcnOrderStatusSensor, "order_id": order_id, "platform": "taobao"}


def _order(handle: SandboxHandle, api: XportcnClient) -> dict[str, Any]:
    handle.control.configure(order_ship_delay=0.4)
    [order_id] = handle.control.seed_orders(1, status="waitsellersend", hold=False, step_seconds=0)
    return {"cls": XportcnOrderStatusSensor, "order_id": order_id}


def _domestic(handle: SandboxHandle, api: XportcnClient) -> dict[str, Any]:
    return {**_order(handle, api), "cls": XportcnLogisticsStatusSensor}


def _package(handle: SandboxHandle, api: XportcnClient, *, by_tracking: bool = False) -> dict[str, Any]:
    handle.control.configure(package_inbound_delay=0.2, package_qc_delay=0.2)
    out_id, tracking = f"OUT-{time.time_ns()}", f"SF{time.time_ns()}"
    api.call("package_forecast", {"out_order_id": out_id, "logistics_tracking_number": tracking})
    key = {"tracking_number": tracking} if by_tracking else {"out_order_id": out_id}
    return {"cls": XportcnPackageStatusSensor, **key}


def _international(handle: SandboxHandle, api: XportcnClient) -> dict[str, Any]:
    spec = _package(handle, api)
    out_id = spec["out_order_id"]
    after_first_answer(handle, "package_detail", lambda: handle.control.force("package", out_id, "SHIPPED"))
    return {"cls": XportcnLogisticsStatusSensor, "leg": "international", "out_order_id": out_id}


def _refund(handle: SandboxHandle, api: XportcnClient) -> dict[str, Any]:
    handle.control.configure(refund_agree_delay=0.4)
    return {"cls": XportcnRefundStatusSensor, "refund_id": new_refund(handle, api)}


SETUPS: dict[str, tuple[Callable[[SandboxHandle, XportcnClient], dict[str, Any]], str, str]] = {
    # name: (setup, status field to check in the returned record, expected value)
    "refund": (_refund, "status", "refundsuccess"),
    "order_1688": (_order, "status", "waitbuyerreceive"),
    "order_taobao": (_taobao_order, "list.0.status", "11"),
    "package": (_package, "status", "QC_PASSED"),
    "package_by_tracking": (lambda h, a: _package(h, a, by_tracking=True), "status", "QC_PASSED"),
    "logistics_domestic": (_domestic, "status", "waitbuyerreceive"),
    "logistics_international": (_international, "status", "SHIPPED"),
}


def _field(record: Any, path: str) -> str:
    for part in path.split("."):
        record = record[int(part)] if isinstance(record, list) else record[part]
    return str(record)


@pytest.mark.parametrize("how", ["poke", "deferrable"])
@pytest.mark.parametrize("name", list(SETUPS))
def test_each_sensor_reaches_its_default_target(
    name: str, how: str, xportcn_default_conn: SandboxHandle, api: XportcnClient
) -> None:
    handle = xportcn_default_conn
    setup, path, expected = SETUPS[name]
    kwargs = setup(handle, api)
    cls: type[XportcnStatusSensorBase] = kwargs.pop("cls")
    sensor = cls(task_id=name, poke_interval=0.1, timeout=15, deferrable=how == "deferrable", **kwargs)
    if how == "poke":
        record = sensor.execute({})
    else:
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute({})
        _, trigger_kwargs = deferred.value.trigger.serialize()
        trigger = XportcnStatusTrigger(**json.loads(json.dumps(trigger_kwargs)))
        event = asyncio.run(_first_event(trigger))
        record = sensor.resume_execution("execute_complete", {"event": event}, {})
    assert _field(record, path) == expected
    if name == "logistics_domestic":
        assert record["trackingNumber"]


async def _first_event(trigger: XportcnStatusTrigger) -> dict[str, Any]:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1
    return events[0]


# --- a deferred sensor survives a triggerer restart ----------------------------------------------------


def test_deferred_sensor_resumes_after_its_trigger_is_rebuilt(
    xportcn_default_conn: SandboxHandle, api: XportcnClient
) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    refund_id = new_refund(handle, api)
    sensor = XportcnRefundStatusSensor(
        task_id="wait_refund", refund_id=refund_id, deferrable=True, poke_interval=0.1, timeout=30
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    classpath, kwargs = deferred.value.trigger.serialize()
    stored = json.dumps(kwargs)  # what the metadata DB keeps for the triggerer

    async def first_triggerer() -> None:
        task = asyncio.ensure_future(_first_event(XportcnStatusTrigger(**json.loads(stored))))
        while len(handle.control.calls("refund_detail")) < 3:  # the sensor's poke + two trigger polls
            await asyncio.sleep(0.05)
        task.cancel()  # the triggerer process dies
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(first_triggerer())
    handle.control.force("refund", refund_id, "refundsuccess")
    assert classpath == "xportcn_provider.triggers.status.XportcnStatusTrigger"
    event = asyncio.run(_first_event(XportcnStatusTrigger(**json.loads(stored))))
    record = sensor.resume_execution("execute_complete", {"event": event}, {})
    assert record["refundId"] == refund_id and record["status"] == "refundsuccess"
