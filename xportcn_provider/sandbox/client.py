"""``SandboxControl``: a small ``requests`` client for the sandbox's ``/_sandbox/*`` control API.

Tests (ours and users') steer the sandbox through this instead of hand-written HTTP calls, so
the control API can evolve behind one interface. It is deliberately separate from the provider's
Xportcn client: control calls are unsigned and never appear in the call log.
"""

from __future__ import annotations

from typing import Any

import requests

from xportcn_provider.sandbox.defaults import CONTROL_PREFIX


class SandboxControlError(RuntimeError):
    """The control API refused a request; ``detail`` is its explanation."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"sandbox control error (HTTP {status}): {detail}")


class SandboxControl:
    """Drive a running sandbox: reset, configure, seed, force, faults, call log, stats."""

    def __init__(
        self, base_url: str, *, timeout: float = 10.0, session: requests.Session | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"SandboxControl({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(
            method, f"{self.base_url}{CONTROL_PREFIX}{path}", timeout=self.timeout, **kwargs
        )
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise SandboxControlError(response.status_code, detail)
        return response.json()

    # --- life of the sandbox -----------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def reset(self) -> None:
        """Fresh store, default delays and outcomes, no faults, empty call log and stats."""
        self._request("POST", "/reset")

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change delays and options (e.g. ``all_delays=0.05``, ``qc_outcome="fail"``); returns all."""
        return self._request("POST", "/config", json=options)

    def config(self) -> dict[str, Any]:
        return self._request("GET", "/config")

    def set_dedupe(self, enabled: bool) -> bool:
        """``False``: play a service that does not deduplicate (``--no-dedupe``); ``reset()`` restores it."""
        return bool(self.configure(dedupe=enabled)["dedupe"])

    def set_variants(self, *names: str) -> list[str]:
        """Answer like a service that differs (names from ``variants()``); replaces the active set.

        ``set_variants()`` switches them all off, as does ``reset()``. Returns the active names.
        """
        return list(self.configure(variants=list(names))["variants"])

    def variants(self) -> dict[str, Any]:
        """``{"available": {name: description}, "active": [names]}``."""
        return self._request("GET", "/variants")

    def set_signature_rule(self, rule: str | None) -> str:
        """Accept only signature rule ``rule`` (``None`` = the default) until the next reset."""
        return str(self._request("POST", "/signature-rule", json={"rule": rule})["rule"])

    def signature_rule(self) -> str:
        """The signature rule the sandbox accepts now."""
        return str(self._request("GET", "/signature-rule")["rule"])

    def move_endpoint(self, endpoint: str, path: str | None) -> dict[str, str]:
        """Serve ``endpoint`` at ``path`` (``None`` = back home) until the next reset; all moves."""
        return dict(self._request("POST", "/paths", json={"endpoint": endpoint, "path": path}))

    def paths(self) -> dict[str, str]:
        """Endpoints served elsewhere: name -> path."""
        return dict(self._request("GET", "/paths"))

    def advance(self, seconds: float) -> float:
        """Move the life-cycle clock forward by ``seconds``; returns the total offset."""
        return float(self._request("POST", "/advance", json={"seconds": seconds})["offset"])

    # --- data ------------------------------------------------------------------------------------
    def seed_orders(self, n: int, **kwargs: Any) -> list[str]:
        """Create ``n`` orders (see the README for ``status``, ``start``, ``step_seconds``...)."""
        return list(self._request("POST", "/seed/orders", json={"count": n, **kwargs})["orderIds"])

    def force(
        self,
        resource: str,
        id: str,
        status: str | int,
        *,
        hold: bool = False,
        overrides: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Put ``resource`` (order|refund|package|logistics|taobao_order) ``id`` into ``status`` now.

        ``fields`` (or ``overrides``, which may also name ``status`` — e.g. to serve a status the
        provider does not know) are laid over the served record.
        """
        body = {
            "resource": resource,
            "id": str(id),
            "status": status,
            "hold": hold,
            "fields": {**(overrides or {}), **fields},
        }
        return self._request("POST", "/force", json=body)

    def set_refund_outcome(self, refund_id: str, outcome: str) -> dict[str, Any]:
        """The seller's decision for a refund (or ``"default"``): agree_refund|request_return|refuse."""
        return self._request("POST", "/refund-outcome", json={"refund_id": refund_id, "outcome": outcome})

    def get(self, resource: str, id: str) -> dict[str, Any]:
        """The stored record as served by the API, plus ``history`` and ``hold``."""
        return self._request("GET", f"/records/{resource}/{id}")

    def state(self) -> dict[str, int]:
        """Counts: orders, refunds, packages, logistics_orders, vouchers, addresses (and more)."""
        return self._request("GET", "/state")

    # --- faults and observation ------------------------------------------------------------------
    def inject(
        self, kind: str, *, endpoint: str = "*", count: int = 1, **params: Any
    ) -> list[dict[str, Any]]:
        """The next ``count`` calls to ``endpoint`` (catalogue name or ``*``) get fault ``kind``."""
        body = {"kind": kind, "endpoint": endpoint, "count": count, "params": params}
        return self._request("POST", "/faults", json=body)

    def faults(self) -> list[dict[str, Any]]:
        return self._request("GET", "/faults")

    def clear_faults(self) -> None:
        self._request("DELETE", "/faults")

    def calls(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The call log, oldest first (each: endpoint, method, path, http_status, code, time, fault...)."""
        params = {"endpoint": endpoint} if endpoint else None
        return self._request("GET", "/calls", params=params)

    def clear_calls(self) -> None:
        self._request("DELETE", "/calls")

    def stats(self) -> dict[str, int]:
        """``{"connections": distinct client TCP connections since reset, "requests": n}``."""
        return self._request("GET", "/stats")

    # --- push messages (contract §4) -------------------------------------------------------------
    def push_to(self, url: str | None, **options: Any) -> dict[str, Any]:
        """POST a message on each order/refund change to ``url`` (``None`` stops); options:
        ``retry_interval`` (sandbox s, 1800), ``max_retries`` (5), ``answer_limit`` (1.0 s)."""
        return self._request("POST", "/push", json={"url": url, **options})

    def push_state(self) -> dict[str, Any]:
        """Pending deliveries and counters: messages, attempts, delivered, failed_attempts, dropped."""
        return self._request("GET", "/push")

    def push_fault(self, kind: str, count: int = 1) -> dict[str, Any]:
        """The next ``count`` messages: ``duplicate``, ``out_of_order`` or ``receiver_down``."""
        return self._request("POST", "/push/faults", json={"kind": kind, "count": count})

    def push_flush(self) -> dict[str, Any]:
        """Scan and deliver what is due now, instead of waiting for the next 0.1 s tick."""
        return self._request("POST", "/push/flush")
