"""The HTTP face of the sandbox: FastAPI routes for the catalogue, faults, and connection drops.

One route per :data:`~xportcn_provider.api.endpoints.CATALOGUE` entry, at ``/api`` + its path
with its method, so ``/openapi.json`` and ``/docs`` list exactly the provider's endpoints. The
route logs the call, applies an injected fault if one is due, else hands the request to
:meth:`Sandbox.dispatch` and answers its envelope (HTTP 200, like the real service).

Dropping a connection without an answer is not something ASGI can express, so the outermost
:class:`ConnectionControl` wrapper does it: a route marks the request, and when the response
starts the wrapper aborts the server's transport instead of sending it. The client then sees
the socket close with no response (``requests`` raises ``ConnectionError``), exactly like a
crashed proxy; uvicorn sees a client disconnect and logs nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from xportcn_provider import __version__
from xportcn_provider.api.endpoints import CATALOGUE, Endpoint
from xportcn_provider.api.envelope import make_envelope
from xportcn_provider.api.errors import EnvelopeCode
from xportcn_provider.api.request_shapes import body_field_schema
from xportcn_provider.api.signing import SIGNED_HEADER_NAMES
from xportcn_provider.sandbox import variants
from xportcn_provider.sandbox.control import control_router
from xportcn_provider.sandbox.defaults import API_PREFIX, DEVELOP_ID
from xportcn_provider.sandbox.engine import ApiRequest, Sandbox
from xportcn_provider.sandbox.faults import Fault
from xportcn_provider.sandbox.push_control import push_router

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SCOPE_KEY = "xportcn_sandbox.connection"
_JSON = "application/json;charset=UTF-8"
_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

DESCRIPTION = """
A local simulator of the Xportcn KA open API (see the provider's README, section *Sandbox*).

* Every catalogue endpoint is served under `/api` with the contract's envelope
  `{requestId, code, developId, msg, data}` and signed-header authentication.
* `/_sandbox/*` is the unsigned control API: reset, configure delays, seed, force states,
  refund outcomes, fault injection, call log and statistics.
"""


class ConnectionControl:
    """Outermost ASGI wrapper that can drop a connection instead of answering."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        flags = {"drop": False}
        scope[_SCOPE_KEY] = flags

        async def guarded_send(message: Message) -> None:
            if not flags["drop"]:
                await send(message)
            elif message["type"] == "http.response.start":
                await _abort_connection(send)

        await self.app(scope, receive, guarded_send)


async def _abort_connection(send: Send) -> None:
    """Close the client's socket with no response at all.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport
    (true for both its h11 and httptools protocols). After the abort we yield to the loop so the
    protocol's ``connection_lost`` marks the cycle disconnected before the app returns; uvicorn
    then neither logs an error nor tries to send a 500.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("xportcn sandbox: this ASGI server does not expose its transport; cannot drop")
    transport.abort()
    for _ in range(3):
        await asyncio.sleep(0)


def _drop(request: Request) -> Response:
    request.scope[_SCOPE_KEY]["drop"] = True
    return Response(status_code=200)


def _json(envelope: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=_JSON, headers=headers)


def _seconds(value: float | str) -> str:
    """A ``Retry-After`` value: seconds, or a string (e.g. an HTTP-date) sent as given."""
    return value if isinstance(value, str) else f"{value:g}"


class _FaultAnswer(NamedTuple):
    """What an injected fault answers instead of the endpoint, and what the call log records."""

    response: Response
    http_status: int
    code: int | None = None
    msg: str | None = None
    request_id: str | None = None


def _envelope_answer(
    code: int, msg: str, status: int = 200, headers: dict[str, str] | None = None
) -> _FaultAnswer:
    """An error envelope; its ``requestId`` goes into the call log like a real answer's does."""
    envelope = make_envelope(code, msg, develop_id=DEVELOP_ID)
    return _FaultAnswer(_json(envelope, status, headers), status, code, msg, envelope["requestId"])


def _fault_response(fault: Fault) -> _FaultAnswer:
    """The answer an injected fault gives instead of the endpoint."""
    kind, params = fault.kind, fault.params
    if kind == "http_500":
        return _envelope_answer(500, "Internal Server Error (sandbox injected)", 500)
    if kind == "http_502":
        return _FaultAnswer(Response("502 Bad Gateway", status_code=502, media_type="text/plain"), 502)
    if kind == "http_503":
        msg = "Service Unavailable: server busy (sandbox injected)"
        headers = (
            {"Retry-After": _seconds(params["retry_after"])}
            if params.get("retry_after") is not None
            else None
        )
        return _envelope_answer(EnvelopeCode.SERVER_BUSY, msg, 503, headers)
    if kind == "http_429":
        msg = "Too many requests, slow down (sandbox injected) (请求过于频繁)"
        headers = {"Retry-After": _seconds(params["retry_after"])}
        return _envelope_answer(EnvelopeCode.RATE_LIMITED, msg, 429, headers)
    if kind == "html":
        return _FaultAnswer(Response(_HTML_502, status_code=502, media_type="text/html"), 502)
    if kind == "truncated_json":
        full = json.dumps(make_envelope(200, data={"note": "this body is cut short"}, develop_id=DEVELOP_ID))
        return _FaultAnswer(Response(full[: len(full) // 2], status_code=200, media_type=_JSON), 200)
    if kind == "envelope":
        return _envelope_answer(params["code"], params["msg"])
    raise ValueError(f"fault {kind!r} is not answered by a response")  # pragma: no cover


async def handle_call(sandbox: Sandbox, endpoint: Endpoint, request: Request) -> Response:
    """Log, apply a due fault or dispatch, answer."""
    client = (request.client.host, request.client.port) if request.client else None
    fault = sandbox.faults.take(endpoint.name)
    entry = sandbox.calls.start(
        endpoint=endpoint.name,
        method=request.method,
        path=request.url.path,
        client=client,
        fault=fault.kind if fault else None,
    )
    body = await request.body()
    sandbox.calls.attach_request(entry, body, request.url.query)
    if fault is not None and fault.kind not in ("timeout", "commit_then_drop", "commit_then_hang"):
        if fault.kind == "drop":
            sandbox.calls.finish(entry, http_status=None, msg="connection dropped (sandbox injected)")
            return _drop(request)
        answer = _fault_response(fault)
        sandbox.calls.finish(
            entry,
            http_status=answer.http_status,
            code=answer.code,
            msg=answer.msg,
            request_id=answer.request_id,
        )
        return answer.response
    if fault is not None and fault.kind == "timeout":
        generation = sandbox.generation
        await asyncio.sleep(float(fault.params["delay"]))
        if sandbox.generation != generation:  # a reset happened: never touch the new store
            return Response("sandbox was reset while this call waited", status_code=503)
    call = ApiRequest(
        endpoint=endpoint,
        method=request.method,
        headers=request.headers,
        query=dict(request.query_params),
        body=body,
        base_url=str(request.base_url).rstrip("/"),
    )
    try:
        envelope = sandbox.dispatch(call)
    except Exception as exc:  # a sandbox bug: answer like a failing server, keep serving
        envelope = sandbox.server_error(exc)
        sandbox.calls.finish(entry, http_status=500, code=envelope["code"], msg=envelope["msg"])
        return _json(envelope, 500)
    if fault is not None and fault.kind == "commit_then_drop":
        sandbox.calls.finish(
            entry, http_status=None, msg=f"committed (code {envelope['code']}), then connection dropped"
        )
        return _drop(request)
    if fault is not None and fault.kind == "commit_then_hang":
        return await _hold_then_drop(sandbox, entry, request, envelope, float(fault.params["hold"]))
    sandbox.calls.finish(
        entry, http_status=200, code=envelope["code"], msg=envelope["msg"], request_id=envelope["requestId"]
    )
    if "slow_body" in sandbox.store.config.variants:
        return _trickle(sandbox, envelope)
    return _json(envelope)


def _trickle(sandbox: Sandbox, envelope: dict[str, Any]) -> Response:
    """Variant ``slow_body``: the answer's bytes in small pieces over ``SLOW_BODY_SECONDS``.

    Each piece arrives well within any read timeout, so only a total deadline per attempt stops a
    client from waiting the whole time. A reset ends the trickle early (the body is then cut).
    """
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    pieces = variants.SLOW_BODY_PIECES
    size = max(1, -(-len(body) // pieces))
    pause = variants.SLOW_BODY_SECONDS / pieces
    generation = sandbox.generation

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            if sandbox.generation != generation:
                return
            yield body[start : start + size]
            await asyncio.sleep(pause)

    return StreamingResponse(chunks(), media_type=_JSON, headers={"Content-Length": str(len(body))})


#: How often a held answer (``commit_then_hang``) checks for a disconnect, a reset or its end.
HOLD_TICK = 0.05


async def _hold_then_drop(
    sandbox: Sandbox, entry: dict[str, Any], request: Request, envelope: dict[str, Any], hold: float
) -> Response:
    """``commit_then_hang``: the write is done; keep the client waiting, then drop the connection.

    The call-log entry is completed at once with ``msg`` ``committed (code N), response held ...``
    so a test can poll for "the create reached the server" while the client still has no answer.
    The hold ends when the client disconnects (e.g. its process was killed), the sandbox is
    reset, or ``hold`` seconds pass; the entry's ``msg`` then says which, and the connection is
    dropped without an answer. Stopping the server cancels a hold (uvicorn cancels the request).
    """
    committed = f"committed (code {envelope['code']})"
    sandbox.calls.finish(entry, http_status=None, msg=f"{committed}, response held for up to {hold:g} s")
    loop = asyncio.get_running_loop()
    started = loop.time()
    generation = sandbox.generation
    while True:
        waited = loop.time() - started
        if await request.is_disconnected():
            outcome = f"the client disconnected after {waited:.1f} s without an answer"
            break
        if sandbox.generation != generation:
            outcome = "the sandbox was reset while the answer was held; connection dropped"
            break
        if waited >= hold:
            outcome = f"no answer for {hold:g} s, then connection dropped"
            break
        await asyncio.sleep(min(HOLD_TICK, hold - waited))
    sandbox.calls.finish(entry, http_status=None, msg=f"{committed}; {outcome}")
    return _drop(request)


async def no_route(sandbox: Sandbox, request: Request, *, allowed: str | None = None) -> Response:
    """Answer like a gateway with no such route: HTTP 404, or 405 when only the method is wrong."""
    client = (request.client.host, request.client.port) if request.client else None
    entry = sandbox.calls.start(
        endpoint=None, method=request.method, path=request.url.path, client=client, fault=None
    )
    sandbox.calls.attach_request(entry, await request.body(), request.url.query)
    if allowed is not None:
        sandbox.calls.finish(entry, http_status=405)
        return JSONResponse(
            {"detail": f"Method {request.method} not allowed; use {allowed}."},
            status_code=405,
            headers={"Allow": allowed},
        )
    sandbox.calls.finish(entry, http_status=404)
    return JSONResponse({"detail": f"No Xportcn endpoint at {request.url.path}."}, status_code=404)


def _route(sandbox: Sandbox, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        if sandbox.paths.moved_away(endpoint.name):  # played as "no such route" (see .paths)
            return await no_route(sandbox, request)
        return await handle_call(sandbox, endpoint, request)

    route.__name__ = endpoint.name
    return route


def _openapi_extra(endpoint: Endpoint) -> dict[str, Any]:
    """Document the signed headers and the known body fields in ``/openapi.json``."""
    parameters = [
        {
            "name": name,
            "in": "header",
            "required": name != "signature" or not endpoint.query_signed,
            "schema": {"type": "string"},
        }
        for name in SIGNED_HEADER_NAMES
    ]
    if endpoint.query_signed:
        parameters += [
            {"name": "timestamp", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "sign", "in": "query", "required": False, "schema": {"type": "string"}},
        ]
    extra: dict[str, Any] = {"parameters": parameters}
    if endpoint.method == "POST":
        schema = {
            "type": "object",
            # the request shapes users copy (api/request_shapes.py), not "addressParam": {}
            "properties": {name: body_field_schema(endpoint.name, name) for name in endpoint.fields},
            "required": list(endpoint.required),
        }
        extra["requestBody"] = {
            "required": bool(endpoint.required),
            "content": {"application/json": {"schema": schema}},
        }
    return extra


def _group(endpoint: Endpoint) -> str:
    return endpoint.name.split("_", 1)[0]


def build_fastapi(sandbox: Sandbox) -> FastAPI:
    """The FastAPI application (routes only; wrap it with :class:`ConnectionControl` to serve)."""
    app = FastAPI(title="Xportcn sandbox", version=__version__, description=DESCRIPTION)
    app.state.sandbox = sandbox
    for endpoint in CATALOGUE.values():
        app.add_api_route(
            API_PREFIX + endpoint.path,
            _route(sandbox, endpoint),
            methods=[endpoint.method],
            name=endpoint.name,
            summary=endpoint.name,
            description=(
                f"Catalogue endpoint `{endpoint.name}` (path confidence: {endpoint.confidence}). "
                f"{endpoint.note}".strip()
            ),
            tags=[_group(endpoint)],
            openapi_extra=_openapi_extra(endpoint),
        )
    app.include_router(control_router(sandbox))
    app.include_router(push_router(sandbox))
    known_paths = {API_PREFIX + e.path: e for e in CATALOGUE.values()}

    async def unknown(request: Request) -> Response:
        path = request.url.path
        moved = sandbox.paths.endpoint_at(path.removeprefix(API_PREFIX))
        if moved is not None and moved.method == request.method:
            return await handle_call(sandbox, moved, request)
        home = known_paths.get(path)
        if moved is None and home is not None and not sandbox.paths.moved_away(home.name):
            moved = home
        return await no_route(sandbox, request, allowed=moved.method if moved is not None else None)

    app.add_api_route(
        API_PREFIX + "/{rest:path}",
        unknown,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    return app


def create_app(sandbox: Sandbox | None = None) -> ConnectionControl:
    """The ASGI application uvicorn serves (a default-credential sandbox when none is given)."""
    return ConnectionControl(build_fastapi(sandbox or Sandbox()))
