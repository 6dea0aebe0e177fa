"""The push receiver: ``POST /xportcn/push/{conn_id}/{token}`` on the api-server.

Thin on purpose: it checks the token, bounds the body, lets
:mod:`xportcn_provider.api.messages` parse it and :mod:`.recorder` record it.

* Wrong token, unknown connection, a connection without a (long enough) token: the same bare
  ``404 {"detail": "Not Found"}`` that an unknown path gets, and nothing is recorded.
* Body over 64 KiB: 413. Not the contract's shape: 400 with ``{"detail", "field"}``.
* Accepted: 200 with ``{"ok": true, "duplicate", "stale", "asset_uri", "asset_event_id"}``;
  a redelivery is also 200 (Xport must stop retrying) but records nothing new.
* The database could not record it: 503, so Xport retries later.

Airflow's access log (``HttpAccessLogMiddleware``) logs ``scope["path"]`` after the response;
:class:`RedactPushPath` replaces the token in that path before it does, so the token is never
written to a log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from xportcn_provider.api.messages import (
    MAX_BODY_BYTES,
    PushMessageError,
    decode_push_request,
    parse_push_message,
    push_token_matches,
    redact_push_path,
    valid_conn_id,
)
from xportcn_provider.plugins import recorder

log = logging.getLogger(__name__)

#: Where the plugin mounts the app on the api-server.
URL_PREFIX = "/xportcn"
#: The route below that prefix (``{token}`` is never logged).
PUSH_ROUTE = "/push/{conn_id}/{token}"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class RedactPushPath:
    """ASGI wrapper: once the app has answered, put a token-free path back into the scope.

    Starlette mounts update the scope dict in place, so the root app's access-log middleware
    reads the path from the same dict after this returns.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.get("type") == "http":
                for key in ("path", "root_path"):
                    if isinstance(scope.get(key), str):
                        scope[key] = redact_push_path(scope[key])
                if isinstance(scope.get("raw_path"), bytes):
                    scope["raw_path"] = redact_push_path(scope["raw_path"].decode("latin-1")).encode(
                        "latin-1"
                    )


def _not_found() -> JSONResponse:
    return JSONResponse({"detail": "Not Found"}, status_code=404)


def _too_large() -> JSONResponse:
    return JSONResponse(
        {"detail": f"body larger than {MAX_BODY_BYTES} bytes", "field": "body"}, status_code=413
    )


async def _read_bounded(request: Request) -> bytes | None:
    """The body, or ``None`` as soon as it exceeds :data:`MAX_BODY_BYTES` (never buffers more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_push(conn_id: str, token: str, request: Request) -> JSONResponse:
    """One delivery from Xport (or the sandbox): check, parse, record, answer."""
    started = time.perf_counter()
    configured = None
    if valid_conn_id(conn_id):
        hit, configured = recorder.cached_push_token(conn_id)
        if not hit:  # a secrets-backend or DB read: off the event loop
            configured = await run_in_threadpool(recorder.connection_push_token, conn_id)
    if not push_token_matches(configured, token):
        return _not_found()
    raw = await _read_bounded(request)
    if raw is None:
        log.warning("Xportcn push to %r refused: body larger than %d bytes", conn_id, MAX_BODY_BYTES)
        return _too_large()
    try:
        message = parse_push_message(decode_push_request(raw, request.headers.get("content-type")))
    except PushMessageError as err:
        log.warning("Xportcn push to %r refused: %s", conn_id, err.message)
        return JSONResponse({"detail": err.message, "field": err.parameter}, status_code=400)
    try:
        result = await run_in_threadpool(recorder.record_push, conn_id, message)
    except Exception as err:
        log.error(
            "Xportcn push to %r could not be recorded (%s); Xport will retry", conn_id, type(err).__name__
        )
        return JSONResponse({"detail": "could not record the message; retry later"}, status_code=503)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if result.duplicate:
        outcome = "duplicate, no new event"
    elif result.asset_event_id is None:
        outcome = "recorded, but no DAG uses the asset yet: no event"
    else:
        outcome = f"asset event {result.asset_event_id}" + (" (stale)" if result.stale else "")
    log.info(
        "Xportcn push %s %s for %s: %s (%.1f ms)",
        message.message_type,
        message.object_key,
        result.asset_uri,
        outcome,
        elapsed_ms,
    )
    return JSONResponse(
        {
            "ok": True,
            "duplicate": result.duplicate,
            "stale": result.stale,
            "asset_uri": result.asset_uri,
            "asset_event_id": result.asset_event_id,
            "message_key": message.message_key,
        }
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> Any:
    """Create the receipts table at api-server start, so the first push is as fast as the rest."""
    try:
        await run_in_threadpool(recorder.ensure_receipts_table)
    except Exception as err:  # the first push retries it; the api-server must still start
        log.warning("Xportcn push receipts table not ready yet (%s)", type(err).__name__)
    yield


def create_push_app() -> FastAPI:
    """The FastAPI app the plugin mounts at :data:`URL_PREFIX` (no OpenAPI page: nothing to browse)."""
    app = FastAPI(
        title="Xportcn push receiver",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    app.add_api_route(PUSH_ROUTE, receive_push, methods=["POST"], include_in_schema=False)
    app.add_middleware(RedactPushPath)
    return app
