"""The ``xportcn_sandbox`` pytest fixtures, registered through the ``pytest11`` entry point.

Installing the provider is enough for any project's tests to use them::

    def test_my_dag_task(xportcn_default_conn):
        xportcn_default_conn.control.inject("http_503", endpoint="order_create", count=2)
        ...  # code under test that uses conn id "xportcn_default"

One sandbox server is started per test session (a free port, a background thread) and stopped
at the end; every test gets it reset: empty store, no faults, empty call log, default delays.
The plugin imports no Airflow and loads FastAPI/uvicorn only when a test asks for a sandbox, so
having the provider installed costs other test sessions almost nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from xportcn_provider.sandbox.handle import SandboxHandle

if TYPE_CHECKING:
    from xportcn_provider.sandbox.server import RunningSandbox


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "xportcn_variants(*names): the xportcn_sandbox fixture plays these variants "
        "(xportcn_provider.sandbox.variants.VARIANTS), e.g. a service that caps pageSize",
    )


@pytest.fixture(scope="session")
def xportcn_sandbox_server() -> Iterator[RunningSandbox]:
    """The session's sandbox server (started on first use, stopped at session end)."""
    from xportcn_provider.sandbox.server import start_in_thread  # FastAPI/uvicorn only when used

    running = start_in_thread("127.0.0.1", 0)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def xportcn_sandbox(xportcn_sandbox_server: RunningSandbox, request: pytest.FixtureRequest) -> SandboxHandle:
    """A freshly reset sandbox: ``.url``, ``.conn_uri``, ``.conn_json``, ``.env()``, ``.control``.

    ``@pytest.mark.xportcn_variants("page_size_cap", ...)`` on the test makes it answer like a
    service that differs from the assumed shapes (see ``docs/sandbox.md``, *Variants*).
    """
    handle = xportcn_sandbox_server.handle
    handle.control.reset()
    marker = request.node.get_closest_marker("xportcn_variants")
    if marker is not None:
        handle.control.set_variants(*marker.args)
    return handle


@pytest.fixture
def xportcn_sandbox_no_dedupe(xportcn_sandbox: SandboxHandle) -> SandboxHandle:
    """``xportcn_sandbox`` playing a service that does not deduplicate (``--no-dedupe``).

    Every ``order_create`` creates, a second refund on the same sub-orders is opened, a repeated
    ``tmallOrderId`` books again and paying a paid order charges again: run your DAG's retries
    against it to prove they never rely on the service to drop a duplicate.
    """
    xportcn_sandbox.control.set_dedupe(False)
    return xportcn_sandbox


@pytest.fixture
def xportcn_default_conn(xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """``xportcn_sandbox`` with ``AIRFLOW_CONN_XPORTCN_DEFAULT`` pointing at it."""
    for name, value in xportcn_sandbox.env().items():
        monkeypatch.setenv(name, value)
    return xportcn_sandbox
