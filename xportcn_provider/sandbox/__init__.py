"""A local Xportcn simulator: the provider's equivalent of what ``moto`` is for AWS.

The real Xportcn API has no public test host, so demos, the provider's integration tests and
users' own DAG tests run against this sandbox instead. It serves every endpoint of
:data:`xportcn_provider.api.endpoints.CATALOGUE` under ``/api`` with the contract's envelope,
checks signatures like the real service, keeps orders, refunds, packages and logistics orders
moving through their life cycles on a clock, and offers an unsigned control API under
``/_sandbox/`` (reset, seeding, forcing states, call log, fault injection).

It imports only :mod:`xportcn_provider.api` (never the hook, never Airflow), so it shares the
provider's vocabulary without sharing the client code it is meant to test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xportcn_provider.sandbox.client import SandboxControl, SandboxControlError
    from xportcn_provider.sandbox.defaults import (
        DEFAULT_ACCESS_KEY,
        DEFAULT_ACCESS_SECRET,
        DEFAULT_USER_ID,
        SandboxCredentials,
    )
    from xportcn_provider.sandbox.handle import SandboxHandle
    from xportcn_provider.sandbox.server import RunningSandbox, start_in_thread

# Exports are loaded on first use: the pytest plugin imports this package in every test session
# of every project that has the provider installed, and FastAPI/uvicorn should only be imported
# when a sandbox is actually started.
_EXPORTS = {
    "DEFAULT_ACCESS_KEY": "defaults",
    "DEFAULT_ACCESS_SECRET": "defaults",
    "DEFAULT_USER_ID": "defaults",
    "SandboxCredentials": "defaults",
    "SandboxControl": "client",
    "SandboxControlError": "client",
    "SandboxHandle": "handle",
    "RunningSandbox": "server",
    "start_in_thread": "server",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_ACCESS_SECRET",
    "DEFAULT_USER_ID",
    "RunningSandbox",
    "SandboxControl",
    "SandboxControlError",
    "SandboxCredentials",
    "SandboxHandle",
    "start_in_thread",
]
