"""Shared helpers for the tests that run against the sandbox over real HTTP.

The ``xportcn_sandbox`` / ``xportcn_default_conn`` fixtures come from the provider's own pytest
plugin (entry point ``pytest11``), exactly as a user's project gets them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xportcn_provider.api.client import ClientSettings, Credentials, XportcnClient
from xportcn_provider.sandbox import SandboxHandle


def make_client(handle: SandboxHandle, **settings: object) -> XportcnClient:
    """An api-core client for the sandbox with fast retries (override any ClientSettings field)."""
    options: dict[str, object] = {
        "base_url": handle.url,
        "timeout": 5.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        **settings,
    }
    credentials = Credentials(handle.access_key, handle.access_secret, handle.user_id)
    return XportcnClient(credentials, ClientSettings(**options))  # type: ignore[arg-type]


@pytest.fixture
def sandbox_client(xportcn_sandbox: SandboxHandle) -> Iterator[XportcnClient]:
    client = make_client(xportcn_sandbox)
    yield client
    client.close()


@pytest.fixture(params=[True, False], ids=["dedupe", "no-dedupe"])
def any_sandbox(request: pytest.FixtureRequest, xportcn_sandbox: SandboxHandle) -> SandboxHandle:
    """The sandbox twice: as a service that deduplicates, and as one that trusts its client.

    Write fault cases run against both: "exactly one order, payment, refund, booking" must never
    rest on the service dropping a duplicate (issue 10).
    """
    xportcn_sandbox.control.set_dedupe(request.param)
    return xportcn_sandbox
