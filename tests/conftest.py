"""Test-session setup shared by every test directory.

Airflow reads ``AIRFLOW_HOME`` when it is first imported, so a throw-away home is set in
``pytest_configure`` (before any test module imports Airflow). DAG tests that need the metadata
database request the session fixture ``airflow_db``, which migrates a SQLite file once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    home = tempfile.mkdtemp(prefix="xportcn-airflow-home-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags_examples"))
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    os.environ.pop("AIRFLOW_CONN_XPORTCN_DEFAULT", None)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A migrated SQLite metadata DB in the session's AIRFLOW_HOME (``airflow db migrate``, once)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    yield home / "airflow.db"
