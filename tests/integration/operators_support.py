"""Helpers for the operator integration tests (``test_operators_*.py``) against the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from xportcn_provider.api import monitoring as mon
from xportcn_provider.sandbox import SandboxHandle

CONSOLE_URL = "https://console.sandbox.test"


class FakeTI:
    """The bits of a RuntimeTaskInstance operators use when ``execute`` is called directly."""

    def __init__(
        self, dag_id: str = "dag", task_id: str = "task", run_id: str = "run-1", map_index: int = -1
    ):
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


class FakeStore:
    """``task_state_store`` stand-in: ``get``/``set`` over a dict."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


def make_context(ti: FakeTI | None = None, store: FakeStore | None = None) -> dict[str, Any]:
    ti = ti or FakeTI()
    context: dict[str, Any] = {"ti": ti, "task_instance": ti, "run_id": ti.run_id}
    if store is not None:
        context["task_state_store"] = store
    return context


def recorded_last_status(dag_run: Any, task_id: str) -> mon.LastStatus | None:
    """What a wait wrote to Airflow's ``task_state_store`` for the monitoring page."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        raw = session.scalar(
            select(TaskStateStoreModel.value).where(
                TaskStateStoreModel.dag_id == dag_run.dag_id,
                TaskStateStoreModel.run_id == dag_run.run_id,
                TaskStateStoreModel.task_id == task_id,
                TaskStateStoreModel.key == mon.LAST_STATUS_KEY,
            )
        )
    return mon.parse_last_status(raw)


def conn_json(handle: SandboxHandle, **extra: Any) -> str:
    """The sandbox connection with extra settings (e.g. ``max_retries=0`` so a lost answer fails)."""
    doc = json.loads(handle.conn_json)
    doc["extra"] = {**doc["extra"], "console_url": CONSOLE_URL, "timeout": 10, **extra}
    return json.dumps(doc)


def use_sandbox(monkeypatch: pytest.MonkeyPatch, handle: SandboxHandle, **extra: Any) -> SandboxHandle:
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", conn_json(handle, **extra))
    return handle


def endpoints_called(handle: SandboxHandle) -> list[str]:
    return [c["endpoint"] for c in handle.control.calls()]


ADDRESS = {
    "fullName": "张三",
    "mobile": "13800000000",
    "provinceText": "浙江省",
    "cityText": "杭州市",
    "areaText": "余杭区",
    "address": "文一西路 969 号",
}
CARGO = [{"offerId": "610947572360", "specId": "aed41e23b750f9927722763ec5424583", "quantity": 2}]
RECEIVER = {
    "name": "John Doe",
    "country": "US",
    "address": "1 Main St",
    "city": "Springfield",
    "zip": "12345",
}


# --- dag.test() over a throw-away DAG bundle --------------------------------------------------

BUNDLE_NAME = "xp-operator-tests"
DAG_HEADER = """
import datetime as dt
from airflow.sdk import DAG
"""


def run_dag(
    monkeypatch: pytest.MonkeyPatch, bundle_dir: Any, dag_id: str, body: str, **test_kwargs: Any
) -> Any:
    """Write a DAG file into a local bundle, load it like the DAG processor would, ``dag.test()`` it.

    ``dag.test()`` needs the DAG serialized from a bundle (a DAG built in the test itself is not),
    so the source goes through a real file; ``body`` is indented under ``with DAG(...) as dag:``.
    """
    import textwrap

    from airflow.dag_processing.dagbag import DagBag

    bundle_dir.mkdir(parents=True, exist_ok=True)
    source = (
        DAG_HEADER
        + textwrap.dedent(
            f"""
            with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False) as dag:
            """
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    (bundle_dir / f"{dag_id}.py").write_text(source)
    config = [
        {
            "name": BUNDLE_NAME,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(bundle_dir), "refresh_interval": 0},
        }
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(config))
    bag = DagBag(dag_folder=str(bundle_dir / f"{dag_id}.py"), bundle_name=BUNDLE_NAME)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id].test(**test_kwargs)


def xcoms(dag_run: Any) -> dict[str, dict[str, Any]]:
    """Every XCom of a finished DAG run: ``{task_id: {key: value}}``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    out: dict[str, dict[str, Any]] = {}
    with create_session() as session:
        for row in session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)):
            # The Execution API stores values as JSON already: ``row.value`` is the Python value
            # (``deserialize_value`` would decode a digit string a second time, into an int).
            out.setdefault(row.task_id, {})[row.key] = row.value
    return out


def try_numbers(dag_run: Any) -> dict[str, tuple[str, int]]:
    """``{task_id: (state, try_number)}`` of a finished DAG run."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances(session=session)}


def rendered_fields(dag_run: Any) -> dict[str, dict[str, Any]]:
    """The rendered template fields Airflow stored for each task of a DAG run."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                RenderedTaskInstanceFields.run_id == dag_run.run_id,
            )
        )
        return {row.task_id: dict(row.rendered_fields) for row in rows}
