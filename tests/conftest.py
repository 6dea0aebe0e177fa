"""Test-session setup shared by every test directory.

Airflow reads ``AIRFLOW_HOME`` when it is first imported, so a throw-away home is set in
``pytest_configure`` (before any test module imports Airflow). DAG tests that need the metadata
database request the session fixture ``airflow_db``, which migrates a SQLite file once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

_HOME_ENV = "XPORTCN_TEST_AIRFLOW_HOME"


def pytest_configure(config: pytest.Config) -> None:
    if "airflow" in sys.modules:  # pragma: no cover - only when a plugin imported Airflow first
        warnings.warn(
            "Airflow was imported before tests/conftest.py could point AIRFLOW_HOME at a temporary "
            "directory; tests may read the developer's ~/airflow.",
            stacklevel=1,
        )
    home = tempfile.mkdtemp(prefix="xportcn-airflow-home-")
    os.environ[_HOME_ENV] = home
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags_examples"))
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    # A developer's own connection must never leak into a test.
    os.environ.pop("AIRFLOW_CONN_XPORTCN_DEFAULT", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = os.environ.pop(_HOME_ENV, None)
    if home and Path(home).name.startswith("xportcn-airflow-home-"):
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's throw-away ``AIRFLOW_HOME``."""
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Iterator[Path]:
    """A migrated SQLite metadata DB in the session's AIRFLOW_HOME (``airflow db migrate``, once)."""
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    yield airflow_home / "airflow.db"
