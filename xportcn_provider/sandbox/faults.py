"""Fault injection: a FIFO queue of "the next N calls to endpoint E go wrong in way K".

The kinds are part of the sandbox's public API (the control client and the README name them).
Faults are deterministic: no probabilities, the next ``count`` matching calls get the fault,
entries are consumed in the order they were injected. Only ``timeout`` (which answers for real
after its delay), ``commit_then_drop`` (the lost-response case) and ``commit_then_hang`` (the
write is done, the answer is held back: a window in which to kill the client) let the call reach
the store; every other kind answers instead of the endpoint, like a proxy in front of the service
would.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.errors import SUCCESS_CODE

#: kind -> allowed params with their defaults.
FAULT_KINDS: Mapping[str, Mapping[str, Any]] = {
    "http_500": {},
    "http_502": {},
    "http_503": {"retry_after": None},
    "http_429": {"retry_after": 1},
    "timeout": {"delay": 35.0},
    "drop": {},
    "html": {},
    "truncated_json": {},
    "envelope": {"code": 500, "msg": "系统繁忙，请稍后再试 (sandbox injected error)"},
    "commit_then_drop": {},
    "commit_then_hang": {"hold": 30.0},
}
ANY_ENDPOINT = "*"
#: A parameter every kind takes: let this many matching calls through before the fault starts
#: (e.g. the look-up a create operator makes *before* creating passes, the one after a lost
#: answer fails).
AFTER = "after"


class FaultError(ValueError):
    """A bad ``inject`` request (unknown kind, endpoint or parameter)."""


@dataclass
class Fault:
    kind: str
    endpoint: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "endpoint": self.endpoint,
            "remaining": self.remaining,
            "params": self.params,
        }


def make_fault(kind: str, endpoint: str = ANY_ENDPOINT, count: int = 1, **params: Any) -> Fault:
    """Check an ``inject`` request and fill in the kind's default parameters."""
    if kind not in FAULT_KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; valid: {', '.join(FAULT_KINDS)}")
    if endpoint != ANY_ENDPOINT and endpoint not in CATALOGUE:
        raise FaultError(f"unknown endpoint {endpoint!r}; use a catalogue name or '*'")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FaultError(f"count must be a whole number >= 1, got {count!r}")
    allowed = {**FAULT_KINDS[kind], AFTER: 0}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        valid = ", ".join(allowed)
        raise FaultError(f"fault {kind!r} takes no parameter {', '.join(unknown)} (valid: {valid})")
    merged = {**allowed, **params}
    after = merged[AFTER]
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise FaultError(f"{AFTER} must be a whole number >= 0, got {after!r}")
    for name in ("retry_after", "delay", "hold"):
        value = merged.get(name)
        if name == "retry_after" and isinstance(value, str) and value.strip():
            continue  # sent as is: an HTTP-date, or a malformed value a real server might send
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise FaultError(f"{name} must be a number of seconds >= 0, got {value!r}")
    if kind == "envelope":
        code = merged["code"]
        if isinstance(code, bool) or not isinstance(code, int) or code == SUCCESS_CODE:
            raise FaultError(
                f"envelope fault code must be an integer other than {SUCCESS_CODE}, got {code!r}"
            )
        merged["msg"] = str(merged["msg"])
    return Fault(kind, endpoint, count, merged)


class FaultQueue:
    """Injected faults in FIFO order; :meth:`take` consumes one for a call. Thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take(self, endpoint: str | None) -> Fault | None:
        """The first queued fault matching this call (its count decremented), or ``None``."""
        with self._lock:
            for fault in self._faults:
                if fault.endpoint == ANY_ENDPOINT or fault.endpoint == endpoint:
                    if fault.params.get(AFTER, 0) > 0:  # still letting calls through
                        fault.params[AFTER] -= 1
                        return None
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(fault.kind, fault.endpoint, 0, dict(fault.params))
        return None
