"""Fixtures for running the example DAGs with ``dag.test()`` against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xportcn_provider.sandbox.handle import SandboxHandle

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"


@pytest.fixture
def example_env(
    airflow_db: Path, xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxHandle]:
    """Sandbox as ``xportcn_default``, fast sandbox life cycles and short example poll intervals."""
    monkeypatch.setenv("XPORTCN_EXAMPLE_POLL_SECONDS", "0.3")
    xportcn_default_conn.control.configure(**FAST_DELAYS)
    yield xportcn_default_conn


#: Sandbox life-cycle delays short enough for a test, long enough that every wait really waits.
FAST_DELAYS: dict[str, float] = {"all_delays": 0.6}


def load_dag(dag_id: str):  # type: ignore[no-untyped-def]
    """Parse the examples folder (fresh, so env-dependent constants are re-read) and return a DAG."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES), safe_mode=False)
    assert bag.import_errors == {}, bag.import_errors
    return bag.get_dag(dag_id)


def xcom_value(run, task_id: str, key: str = "return_value"):  # type: ignore[no-untyped-def]
    """An XCom value of a finished ``dag.test()`` run, read from the metadata DB."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key=key)
        ).first()
        assert row is not None, f"no XCom {key!r} for {task_id}"
        return XComModel.deserialize_value(row)
