"""The unsigned control API under ``/_sandbox/``: what tests and demos use to steer the sandbox.

Every route is a thin translation to a :class:`~.engine.Sandbox` method; bad requests answer
HTTP 400 (404 for an unknown record) with ``{"detail": "<what is wrong>"}``. These routes are
not part of the Xportcn contract and are never signed; they are not logged in the call log.
"""

from __future__ import annotations

import html
import json
from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from xportcn_provider.api.console import CONSOLE_PATHS, console_route
from xportcn_provider.api.signing import SIGNATURE_RULE_NAMES
from xportcn_provider.sandbox.config import ConfigError
from xportcn_provider.sandbox.defaults import API_PREFIX, CONTROL_PREFIX
from xportcn_provider.sandbox.engine import ControlError, Sandbox
from xportcn_provider.sandbox.faults import ANY_ENDPOINT, FaultError, make_fault
from xportcn_provider.sandbox.paths import PathMapError
from xportcn_provider.sandbox.variants import VARIANTS


class SeedSpec(BaseModel):
    count: int = Field(..., ge=1, le=100_000, description="how many orders to create")
    status: str | None = Field(None, description="1688 order status to put them in (default waitbuyerpay)")
    start: str | float | None = Field(None, description="createTime of the first (ISO-8601 or Unix s)")
    step_seconds: float = Field(60.0, description="createTime spacing between consecutive orders")
    out_order_prefix: str = "seed-"
    offer_id: str = "610000000001"
    quantity: int = Field(1, ge=1)
    hold: bool = Field(True, description="keep a seeded status instead of running its life cycle")


class ForceSpec(BaseModel):
    resource: Literal["order", "refund", "package", "logistics", "taobao_order"]
    id: str
    status: str | int
    hold: bool = Field(False, description="freeze the record in this status")
    fields: dict[str, Any] = Field(default_factory=dict, description="fields laid over the served shape")


class OutcomeSpec(BaseModel):
    refund_id: str = Field(..., description="a refundId, or 'default' for every refund without its own")
    outcome: str = Field(..., description="agree_refund | request_return | refuse (default also: auto)")


class FaultSpec(BaseModel):
    kind: str
    endpoint: str = ANY_ENDPOINT
    count: int = 1
    params: dict[str, Any] = Field(default_factory=dict)


class SignatureRuleSpec(BaseModel):
    rule: str | None = Field(None, description="a signature rule name; null = the contract's default")


class MoveSpec(BaseModel):
    endpoint: str = Field(..., description="a catalogue endpoint name")
    path: str | None = Field(None, description="where to serve it (under /api); null = back home")


class AdvanceSpec(BaseModel):
    seconds: float = Field(..., ge=0)


def _fail(err: Exception) -> HTTPException:
    status = err.status if isinstance(err, ControlError) else 400
    return HTTPException(status_code=status, detail=str(err))


#: Console kinds the sandbox keeps records of (``/records/{resource}/{id}``).
SANDBOX_RECORDS = frozenset({"order", "taobao_order", "refund", "package", "logistics"})


def _console_html(title: str, view: dict[str, Any] | None, problem: str | None) -> str:
    """A plain page: the object's status first, then its whole record as the API serves it."""
    body = f"<h1>{html.escape(title)}</h1>"
    if problem is not None:
        body += f"<p>{html.escape(problem)}</p>"
    if view is not None:
        body += f"<p>Status: <b>{html.escape(str(view.get('status')))}</b></p>"
        body += f"<pre>{html.escape(json.dumps(view, ensure_ascii=False, indent=2, default=str))}</pre>"
    return f"<html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>"


def control_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix=CONTROL_PREFIX, tags=["sandbox control"])

    @router.get("/health")
    def health() -> dict[str, Any]:
        creds = sandbox.credentials
        return {
            "ok": True,
            "access_key": creds.access_key,
            "user_id": creds.user_id,
            "api_prefix": API_PREFIX,
        }

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        """Fresh store, default options and delays, no faults, empty call log."""
        sandbox.reset()
        return {"ok": True}

    @router.get("/config")
    def get_config() -> dict[str, Any]:
        return sandbox.config()

    @router.post("/config")
    def configure(options: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """Change delays/outcomes/variants, e.g. ``{"all_delays": 0.05, "variants": ["list_null"]}``."""
        try:
            return sandbox.configure(**options)
        except ConfigError as err:
            raise _fail(err) from None

    @router.get("/variants")
    def list_variants() -> dict[str, Any]:
        """Every variant name with its description, and the ones now active."""
        return {"available": dict(VARIANTS), "active": list(sandbox.config()["variants"])}

    @router.get("/signature-rule")
    def signature_rule() -> dict[str, Any]:
        """The one signature rule the sandbox accepts now, and every rule it can be strict about."""
        return {"rule": sandbox.auth.rule.name, "available": list(SIGNATURE_RULE_NAMES)}

    @router.post("/signature-rule")
    def set_signature_rule(spec: SignatureRuleSpec) -> dict[str, Any]:
        """Play a service that signs differently: accept only ``rule`` until the next reset."""
        try:
            return {"rule": sandbox.set_signature_rule(spec.rule)}
        except ControlError as err:
            raise _fail(err) from None

    @router.get("/paths")
    def paths() -> dict[str, str]:
        """Endpoints served under another path than the catalogue's: name -> path."""
        return sandbox.paths.moves()

    @router.post("/paths")
    def move(spec: MoveSpec) -> dict[str, str]:
        """Serve ``endpoint`` at ``path`` (its catalogue path answers 404) until the next reset."""
        try:
            return sandbox.paths.move(spec.endpoint, spec.path)
        except PathMapError as err:
            raise _fail(err) from None

    @router.delete("/paths")
    def clear_paths() -> dict[str, str]:
        """Every endpoint back at its catalogue path (start-up moves included)."""
        sandbox.paths.clear()
        return sandbox.paths.moves()

    @router.post("/advance")
    def advance(spec: AdvanceSpec) -> dict[str, Any]:
        """Move the life-cycle clock forward by ``seconds`` (signatures still use real time)."""
        try:
            return {"offset": sandbox.advance(spec.seconds)}
        except ControlError as err:
            raise _fail(err) from None

    @router.post("/seed/orders")
    def seed_orders(spec: SeedSpec) -> dict[str, Any]:
        try:
            ids = sandbox.seed_orders(**spec.model_dump())
        except ControlError as err:
            raise _fail(err) from None
        return {"orderIds": ids}

    @router.post("/force")
    def force(spec: ForceSpec) -> dict[str, Any]:
        try:
            return sandbox.force(spec.resource, spec.id, spec.status, hold=spec.hold, overrides=spec.fields)
        except ControlError as err:
            raise _fail(err) from None

    @router.post("/refund-outcome")
    def refund_outcome(spec: OutcomeSpec) -> dict[str, Any]:
        try:
            return sandbox.set_refund_outcome(spec.refund_id, spec.outcome)
        except (ControlError, ConfigError) as err:
            raise _fail(err) from None

    @router.get("/faults")
    def faults() -> list[dict[str, Any]]:
        return sandbox.faults.pending()

    @router.post("/faults")
    def inject(spec: FaultSpec) -> list[dict[str, Any]]:
        """Queue a fault for the next ``count`` calls to ``endpoint`` (a catalogue name or ``*``)."""
        try:
            sandbox.faults.add(make_fault(spec.kind, spec.endpoint, spec.count, **spec.params))
        except FaultError as err:
            raise _fail(err) from None
        return sandbox.faults.pending()

    @router.delete("/faults")
    def clear_faults() -> dict[str, Any]:
        sandbox.faults.clear()
        return {"ok": True}

    @router.get("/calls")
    def calls(endpoint: str | None = None) -> list[dict[str, Any]]:
        return sandbox.calls.entries(endpoint)

    @router.delete("/calls")
    def clear_calls() -> dict[str, Any]:
        sandbox.calls.clear_calls()
        return {"ok": True}

    @router.get("/stats")
    def stats() -> dict[str, int]:
        return sandbox.calls.stats()

    @router.get("/state")
    def state() -> dict[str, int]:
        return sandbox.state()

    @router.get("/records/{resource}/{record_id}")
    def record(resource: str, record_id: str) -> dict[str, Any]:
        try:
            return sandbox.get(resource, record_id)
        except ControlError as err:
            raise _fail(err) from None

    @router.get("/await/{resource}/{record_id}")
    async def await_status(resource: str, record_id: str, request: Request, status: str = "") -> Response:
        """Unsigned status mirror for HTTP-status-code sensors (the benchmark's ``HttpSensor`` anchor).

        Answers 200 with the record once its status is one of ``status`` (comma-separated),
        404 with the record while it is not. ``HttpSensor``/``HttpSensorTrigger`` can only tell
        "404: keep waiting" from "2xx: done" and cannot sign, so ``bench/wait_scale.py`` points
        them here. Unlike the rest of the control API, these calls are counted in the call log
        and ``/stats`` (endpoint ``None``) so the benchmark can count requests and connections.
        """
        client = (request.client.host, request.client.port) if request.client else None
        entry = sandbox.calls.start(
            endpoint=None, method=request.method, path=request.url.path, client=client, fault=None
        )
        try:
            view = sandbox.get(resource, record_id)
        except ControlError as err:
            sandbox.calls.finish(entry, http_status=err.status, msg=str(err))
            raise _fail(err) from None
        wanted = {part.strip() for part in status.split(",") if part.strip()}
        reached = str(view.get("status")) in wanted
        sandbox.calls.finish(entry, http_status=200 if reached else 404)
        return JSONResponse(view, status_code=200 if reached else 404)

    @router.get("/voucher/{voucher_id}.jpg")
    def voucher(voucher_id: str) -> Response:
        data = sandbox.voucher(voucher_id)
        if data is None:
            raise HTTPException(status_code=404, detail=f"voucher {voucher_id} not found")
        return Response(data, media_type="image/jpeg")

    @router.get("/console/{page:path}", response_class=HTMLResponse)
    def console_page(page: str, request: Request) -> HTMLResponse:
        """The sandbox's own console pages, one per object kind of ``api/console.py``.

        The connection the sandbox prints sets ``console_url`` to ``<base>/_sandbox/console``, so
        the task links (order, refund, package, logistics) open these pages in a demo instead of
        the real console, which knows nothing of sandbox objects.
        """
        path = "/" + page.strip("/")
        for kind in CONSOLE_PATHS:
            route, id_param = console_route(kind)
            if route != path:
                continue
            object_id = request.query_params.get(id_param, "")
            if kind not in SANDBOX_RECORDS:
                return HTMLResponse(_console_html(f"Sandbox {kind} {object_id}", None, "kept by no record"))
            try:
                view = sandbox.get(kind, object_id)
            except ControlError as err:
                return HTMLResponse(
                    _console_html(f"Sandbox {kind} {object_id}", None, str(err)), status_code=404
                )
            return HTMLResponse(_console_html(f"Sandbox {kind} {object_id}", view, None))
        known = ", ".join(console_route(k)[0] for k in CONSOLE_PATHS)
        raise HTTPException(status_code=404, detail=f"no sandbox console page {path}; pages: {known}")

    @router.get("/pay/{order_id}", response_class=HTMLResponse)
    def pay_page(order_id: str) -> str:
        """Where ``order_pay``'s ``payUrl`` points: the sandbox pays at once, so this only confirms."""
        message = f"Order {order_id} is paid by the sandbox."
        return f"<html><body><h1>Sandbox payment</h1><p>{message}</p></body></html>"

    return router
