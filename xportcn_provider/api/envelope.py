"""The response envelope ``{requestId, code, developId, msg, data}`` and how an answer is read.

``interpret_response`` is the single place where an HTTP answer becomes either the envelope's
``data`` or a typed error; the sync client, the async client (triggers) and the tests all go
through it, so the rules of contract §1.2 are written once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from xportcn_provider.api.errors import (
    SUCCESS_CODE,
    XportcnError,
    XportcnProtocolError,
    XportcnRateLimitError,
    XportcnTransientError,
    error_from_envelope,
    error_from_http_status,
    parse_retry_after,
)

EXCERPT_CHARS = 200
SUCCESS_MSG = "成功"


@dataclass(frozen=True)
class Envelope:
    """One parsed answer; ``code == 200`` is the only success, whatever the HTTP status."""

    code: int | str
    msg: str | None
    data: Any
    request_id: str | None
    develop_id: str | None

    @property
    def ok(self) -> bool:
        return _is_success(self.code)


def _is_success(code: int | str) -> bool:
    try:
        return int(code) == SUCCESS_CODE
    except (TypeError, ValueError):
        return False


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of a body, for protocol-error messages."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return text[:limit]


def parse_envelope(body: bytes | str, *, endpoint: str | None, http_status: int | None) -> Envelope:
    """Parse a body into an :class:`Envelope`; anything else is a :class:`XportcnProtocolError`."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise XportcnProtocolError(
            f"Xportcn {endpoint or 'call'} answered with a body that is not JSON: {excerpt(body)!r}",
            endpoint=endpoint,
            http_status=http_status,
        ) from None
    if not isinstance(doc, dict) or doc.get("code") is None:
        raise XportcnProtocolError(
            f"Xportcn {endpoint or 'call'} answered JSON without an envelope 'code': {excerpt(body)!r}",
            endpoint=endpoint,
            http_status=http_status,
        )
    msg = doc.get("msg")
    return Envelope(
        code=doc["code"],
        msg=msg if msg is None else str(msg),
        data=doc.get("data"),
        request_id=_opt_str(doc.get("requestId")),
        develop_id=_opt_str(doc.get("developId")),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def interpret_response(
    *,
    endpoint: str,
    http_status: int,
    body: bytes | str,
    retry_after: str | None = None,
) -> Envelope:
    """Turn one HTTP answer into a successful :class:`Envelope` or raise the typed error."""
    if 200 <= http_status < 300:
        envelope = parse_envelope(body, endpoint=endpoint, http_status=http_status)
        if not envelope.ok:
            raise error_from_envelope(
                endpoint=endpoint,
                http_status=http_status,
                code=envelope.code,
                msg=envelope.msg,
                request_id=envelope.request_id,
                retry_after=retry_after,
            )
        return envelope
    # Non-2xx: keep the server's envelope details when it sent one, but the HTTP status decides
    # whether the failure is transient (5xx, 429) or final.
    failure: Envelope | None
    try:
        failure = parse_envelope(body, endpoint=endpoint, http_status=http_status)
    except XportcnProtocolError:
        failure = None
    if failure is None or http_status >= 500 or http_status in (408, 429):
        raise error_from_http_status(
            endpoint=endpoint,
            http_status=http_status,
            body_excerpt="" if failure else excerpt(body),
            retry_after=retry_after,
            request_id=failure.request_id if failure else None,
            code=failure.code if failure else None,
            msg=failure.msg if failure else None,
        )
    raise error_from_envelope(
        endpoint=endpoint,
        http_status=http_status,
        code=failure.code,
        msg=failure.msg,
        request_id=failure.request_id,
        retry_after=retry_after,
    )


def retry_after_of(error: BaseException) -> float | None:
    """The server's ``Retry-After`` hint carried by a retryable error, if any."""
    if isinstance(error, XportcnRateLimitError | XportcnTransientError):
        return error.retry_after
    return None


def make_envelope(
    code: int = SUCCESS_CODE,
    msg: str | None = None,
    data: Any = None,
    *,
    request_id: str | None = None,
    develop_id: str = "0",
) -> dict[str, Any]:
    """Build an envelope dict (the sandbox answers with these)."""
    return {
        "requestId": request_id or uuid.uuid4().hex,
        "code": code,
        "developId": develop_id,
        "msg": msg if msg is not None else (SUCCESS_MSG if code == SUCCESS_CODE else "error"),
        "data": data,
    }


__all__ = [
    "Envelope",
    "XportcnError",
    "excerpt",
    "interpret_response",
    "make_envelope",
    "parse_envelope",
    "parse_retry_after",
    "retry_after_of",
]
