"""The registry of endpoint handlers: one function per catalogue name.

Handlers register themselves with :func:`handles`; :func:`missing_handlers` lets the dispatcher
refuse to start when a catalogue entry has no handler, so the sandbox can never silently miss an
endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.sandbox.store import Store

Body = Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    """What a handler may use besides the body: the store and the server's public base URL."""

    store: Store
    base_url: str


Handler = Callable[[Context, Body], Any]
HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of catalogue endpoint ``name``."""
    if name not in CATALOGUE:
        raise KeyError(f"sandbox handler for unknown catalogue endpoint {name!r}")

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


def missing_handlers() -> list[str]:
    """Catalogue names without a handler (must be empty; checked at start-up and in tests)."""
    return sorted(set(CATALOGUE) - set(HANDLERS))
