"""Fixtures for end-to-end tests against a real Airflow deployment (see ``airflow_stack.py``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import airflow_stack as harness  # tests/e2e is on sys.path (rootdir-less conftest import)
import pytest


@pytest.fixture
def airflow_stack() -> Iterator[Callable[..., harness.AirflowStack]]:
    """Factory: ``airflow_stack(dags_folder, env_extra=None, **kw)`` starts a stack for this test.

    Every stack started through the factory is stopped at teardown. For a stack shared by a
    module, write a module-scoped fixture around ``harness.airflow_stack(...)`` instead.
    """
    if not harness.AIRFLOW_BIN.exists():
        pytest.skip(f"no airflow executable next to the interpreter ({harness.AIRFLOW_BIN})")
    with contextlib.ExitStack() as stacks:

        def start(
            dags_folder: str | os.PathLike[str], env_extra: Mapping[str, str] | None = None, **kwargs: Any
        ) -> harness.AirflowStack:
            return stacks.enter_context(harness.airflow_stack(dags_folder, env_extra, **kwargs))

        yield start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the component log tails of every running stack to a failed test's report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed and report.when == "call":
        for stack in list(harness.RUNNING):
            stack.keep_home = True
            report.sections.append((f"airflow stack {stack.home.name}", stack.log_tails()))
