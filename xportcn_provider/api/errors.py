"""One exception hierarchy and the one mapping from HTTP status / envelope code to it.

The official error-code table is not readable (contract §5), so the codes below are the ones the
provider and its sandbox agree on, plus message heuristics for the real service's auth failures.
Extend :data:`ENVELOPE_CODE_KINDS` when a new code is learnt; nothing else re-spells these rules.
Messages never contain request headers or the secret: an error only ever carries the endpoint
name, the HTTP status, the envelope ``code``/``msg`` and the ``requestId``.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import UTC
from typing import Any, Literal

SUCCESS_CODE = 200

ErrorKind = Literal["auth", "clock", "rate_limit", "transient", "business", "not_found", "conflict"]


class EnvelopeCode:
    """Envelope ``code`` values the provider understands (the sandbox answers with these)."""

    SUCCESS = 200
    INVALID_PARAMETER = 400
    SIGNATURE_INVALID = 401
    ACCESS_KEY_UNKNOWN = 402
    USER_FORBIDDEN = 403
    NOT_FOUND = 404
    MISSING_AUTH_HEADER = 405
    TIMESTAMP_EXPIRED = 406
    NONCE_REUSED = 407
    STATE_CONFLICT = 409
    RATE_LIMITED = 429
    SERVER_BUSY = 503


#: How each known envelope code is classified.
ENVELOPE_CODE_KINDS: Mapping[int, ErrorKind] = {
    EnvelopeCode.INVALID_PARAMETER: "business",
    EnvelopeCode.SIGNATURE_INVALID: "auth",
    EnvelopeCode.ACCESS_KEY_UNKNOWN: "auth",
    EnvelopeCode.USER_FORBIDDEN: "auth",
    EnvelopeCode.NOT_FOUND: "not_found",
    EnvelopeCode.MISSING_AUTH_HEADER: "auth",
    EnvelopeCode.TIMESTAMP_EXPIRED: "clock",
    EnvelopeCode.NONCE_REUSED: "auth",
    EnvelopeCode.STATE_CONFLICT: "conflict",
    EnvelopeCode.RATE_LIMITED: "rate_limit",
    EnvelopeCode.SERVER_BUSY: "transient",
}

#: Words in ``msg`` that mean an authentication problem on the real service, whatever the code.
_AUTH_WORDS = ("signature", "sign error", "签名", "access key", "access-key", "accesskey", "鉴权", "unauthor")
_CLOCK_WORDS = ("timestamp", "时间戳", "clock skew")
_RATE_WORDS = ("rate limit", "too many", "频繁", "限流")
#: Words of an overloaded server ("系统繁忙，请稍后再试": busy, try later), under any code: retried.
_BUSY_WORDS = ("繁忙", "稍后再试", "稍后重试", "busy", "try again later", "temporarily unavailable")
#: Words that say the action was already done (paid, closed, submitted), under any code: a
#: conflict, which the retry-safe operators check against the record instead of failing.
_DONE_WORDS = (
    "already",
    "已支付",
    "已付款",
    "已关闭",
    "已取消",
    "已提交",
    "重复支付",
    "重复提交",
    "重复操作",
    "请勿重复",
)
#: Words of a business "no such record" under a code the provider does not know.
_NOT_FOUND_WORDS = ("not found", "not exist", "does not exist", "不存在", "未找到", "查询不到")

AUTH_HINT = (
    "Check the connection: password must be the Access Secret that belongs to the Access Key in "
    "login, extra.user_id must be the Xport user id issued for that key, and this machine's clock "
    "must be within 600 s of real time. If all are right, run `airflow xportcn check`: it names "
    "the signature rule the service accepts (extra.signature_rule)."
)
CLOCK_HINT = (
    "The server rejected the request timestamp: this machine's clock is off by more than the "
    "600 s the server accepts. Synchronise the clock (NTP) of the worker/triggerer."
)


class XportcnError(Exception):
    """Root of every provider error; carries what a person needs to find the call on the server."""

    retryable: bool = False
    #: ``True`` when the failure *proves* the server did not process the request (the connection
    #: could not be made, or the server explicitly refused: 429, 503 with ``Retry-After``, an
    #: envelope "busy"/rate-limit code). Only such failures may resend a write blindly; every
    #: other failure of a write leaves its outcome unknown (see ``endpoints.RETRY_RULES``).
    not_processed: bool = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        http_status: int | None = None,
        code: int | str | None = None,
        msg: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        self.endpoint = endpoint
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.request_id = request_id
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.endpoint:
            details.append(f"endpoint={self.endpoint}")
        if self.http_status is not None:
            details.append(f"http_status={self.http_status}")
        if self.code is not None:
            details.append(f"code={self.code}")
        if self.request_id:
            details.append(f"requestId={self.request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the structured fields when the error crosses a process boundary (pickling).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[XportcnError], message: str, state: dict[str, object]) -> XportcnError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    # ``args`` (and so ``repr``) must read the same on both sides of the process boundary.
    Exception.__init__(err, err.__str__())
    return err


class XportcnValidationError(XportcnError, ValueError):
    """Bad input caught before any HTTP call; ``parameter`` names what to fix."""

    def __init__(self, message: str, *, parameter: str | None = None, endpoint: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message, endpoint=endpoint)


class XportcnAuthError(XportcnError):
    """The server refused the credentials, the signature, the user id or the nonce."""


class XportcnClockSkewError(XportcnAuthError):
    """The server refused the timestamp: the local clock is too far off."""


class XportcnRateLimitError(XportcnError):
    """HTTP 429 or a rate-limit envelope code; ``retry_after`` is the server's hint in seconds."""

    retryable = True
    not_processed = True  # the server refused the call before doing anything

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class XportcnTransientError(XportcnError):
    """Connection errors, timeouts, HTTP 5xx: worth retrying with backoff.

    ``not_processed=True`` marks the ones that prove nothing reached the server's business logic
    (connection refused, connect timeout, explicit "busy" answers); the others (read timeout,
    connection dropped after sending, a bare 5xx) leave a write's outcome unknown.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        not_processed: bool = False,
        **kwargs: object,
    ) -> None:
        self.retry_after = retry_after
        self.not_processed = not_processed
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class XportcnTimeoutError(XportcnTransientError):
    """The server did not answer within the configured timeout."""


class XportcnBusinessError(XportcnError):
    """HTTP 2xx with envelope ``code != 200``: the server understood and said no. Never retried."""


class XportcnNotFoundError(XportcnBusinessError):
    """The resource (order, refund, package…) does not exist."""


class XportcnConflictError(XportcnBusinessError):
    """The resource is in a state that does not allow the action (e.g. cancel a paid order)."""


class XportcnWriteNotAppliedError(XportcnBusinessError):
    """A write answered code 200, but its ``data`` reports a failure or reading the record back
    shows the change did not happen (see :mod:`xportcn_provider.api.readback`). Never retried:
    the message says what the record shows instead."""


class XportcnProtocolError(XportcnError):
    """The body is not JSON, or JSON without ``code``: not the Xportcn envelope.

    Also raised when an answer is an envelope but not the shape the provider relies on (a list
    page that repeats the previous one, a ``total`` that paging never reaches, a row without its
    id): the message names the field and the endpoint, so a wrong assumption fails loudly.
    """


class XportcnEndpointNotFoundError(XportcnError):
    """HTTP 404/405: the *path* (or method) is wrong — not a business "no such record".

    Kept apart from :class:`XportcnNotFoundError` on purpose: code that treats "not found" as
    "does not exist yet, create it" must never take a wrong path for an empty result. Fix the
    path in the connection's ``extra.endpoint_overrides``. Never retried.
    """


class XportcnOutcomeUnknownError(XportcnError):
    """A write was sent, its answer was lost, and whether the server acted cannot be verified.

    Raised instead of resending blindly (a resend could buy, pay or book twice on a service that
    does not deduplicate). ``key`` names the caller key(s) of the write (e.g. ``outOrderId``),
    ``check`` says what a person should look for before deciding; ``cause`` is the failure that
    left the outcome unknown. Never retried by the hook; the retry policy fails the task at once.
    """

    def __init__(
        self,
        message: str,
        *,
        key: Mapping[str, object] | None = None,
        check: str = "",
        cause: str = "",
        **kwargs: object,
    ) -> None:
        self.key = dict(key or {})
        self.check = check
        self.cause = cause
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


_KIND_CLASSES: Mapping[ErrorKind, type[XportcnError]] = {
    "auth": XportcnAuthError,
    "clock": XportcnClockSkewError,
    "rate_limit": XportcnRateLimitError,
    "transient": XportcnTransientError,
    "business": XportcnBusinessError,
    "not_found": XportcnNotFoundError,
    "conflict": XportcnConflictError,
}


def classify_envelope(code: int | str | None, msg: str | None) -> ErrorKind:
    """The kind of failure an envelope ``code``/``msg`` means (``code`` is not 200)."""
    try:
        numeric = int(code) if code is not None else None
    except (TypeError, ValueError):
        numeric = None
    known = ENVELOPE_CODE_KINDS.get(numeric) if numeric is not None else None
    if known is not None and known != "business":
        return known
    # An unknown code, or the generic "invalid parameter" one: the real service's code table is
    # not published, so a message about the signature, timestamp or access key decides.
    text = (msg or "").lower()
    if any(word in text for word in _CLOCK_WORDS):
        return "clock"
    if any(word in text for word in _AUTH_WORDS):
        return "auth"
    if any(word in text for word in _RATE_WORDS):
        return "rate_limit"
    if any(word in text for word in _BUSY_WORDS):
        return "transient"
    if any(word in text for word in _DONE_WORDS):
        return "conflict"
    if known is None and any(word in text for word in _NOT_FOUND_WORDS):
        return "not_found"
    return "business"


def error_from_envelope(
    *,
    endpoint: str | None,
    http_status: int | None,
    code: int | str | None,
    msg: str | None,
    request_id: str | None,
    retry_after: str | None = None,
) -> XportcnError:
    """The typed error for an envelope whose ``code`` is not success.

    ``retry_after`` is the answer's ``Retry-After`` header: a rate-limit or busy envelope honours it
    like an HTTP 429/503 would.
    """
    kind = classify_envelope(code, msg)
    cls = _KIND_CLASSES[kind]
    text = f"Xportcn {endpoint or 'call'} failed: {msg or 'no message'}."
    if kind == "auth":
        text = f"{text} {AUTH_HINT}"
    elif kind == "clock":
        text = f"{text} {CLOCK_HINT}"
    # An envelope that says "busy" or "rate limited" is the server refusing before doing anything.
    # A busy *text* under another code (e.g. 500 系统繁忙) is retried, but only the explicit
    # refusal codes prove the request was not processed (a write's resend depends on it).
    refused = kind != "transient" or str(code) in (
        str(EnvelopeCode.SERVER_BUSY),
        str(EnvelopeCode.RATE_LIMITED),
    )
    return _make(cls, text, endpoint, http_status, code, msg, request_id, retry_after, not_processed=refused)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).

    A date in the past means "now" (0). Anything unusable — garbage, ``nan``, ``inf``, a negative
    or absurd value — is ``None`` (no hint: the client's own backoff applies), never a number
    that would break the retry wait.
    """
    if not value or not value.strip():
        return None
    raw = value.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def error_from_http_status(
    *,
    endpoint: str | None,
    http_status: int,
    body_excerpt: str = "",
    retry_after: str | None = None,
    request_id: str | None = None,
    code: int | str | None = None,
    msg: str | None = None,
) -> XportcnError:
    """The typed error for a non-2xx HTTP answer; ``code``/``msg`` come from an envelope if any."""
    where = endpoint or "call"
    excerpt = f" Body starts with: {body_excerpt!r}" if body_excerpt else ""
    cls: type[XportcnError]
    if http_status == 429:
        cls, text = XportcnRateLimitError, f"Xportcn {where} was rate limited (HTTP 429).{excerpt}"
    elif http_status == 503 and parse_retry_after(retry_after) is not None:
        # An explicit "come back later" is a refusal: the request was not processed.
        cls, text = (
            XportcnTransientError,
            f"Xportcn {where} is unavailable (HTTP 503 with Retry-After).{excerpt}",
        )
        return _make(cls, text, endpoint, http_status, code, msg, request_id, retry_after, not_processed=True)
    elif http_status >= 500 or http_status == 408:
        cls, text = (
            XportcnTransientError,
            f"Xportcn {where} hit a server error (HTTP {http_status}).{excerpt}",
        )
    elif http_status in (401, 403):
        cls, text = (
            XportcnAuthError,
            f"Xportcn {where} was refused (HTTP {http_status}). {AUTH_HINT}{excerpt}",
        )
    elif http_status in (404, 405):
        cls, text = (
            XportcnEndpointNotFoundError,
            f"Xportcn {where}: no such path or method on the server (HTTP {http_status}); this is not "
            'a "record not found" answer. If this endpoint\'s path is inferred, set the right one in '
            f"the connection's extra.endpoint_overrides.{excerpt}",
        )
    else:
        cls = XportcnProtocolError
        text = f"Xportcn {where} answered HTTP {http_status} without an Xportcn envelope.{excerpt}"
    return _make(cls, text, endpoint, http_status, code, msg, request_id, retry_after)


def _make(
    cls: type[XportcnError],
    text: str,
    endpoint: str | None,
    http_status: int | None,
    code: int | str | None,
    msg: str | None,
    request_id: str | None,
    retry_after: str | None,
    *,
    not_processed: bool = False,
) -> XportcnError:
    """Build ``cls``; the retryable classes also carry the server's ``Retry-After`` hint."""
    fields: dict[str, Any] = {
        "endpoint": endpoint,
        "http_status": http_status,
        "code": code,
        "msg": msg,
        "request_id": request_id,
    }
    if issubclass(cls, XportcnRateLimitError | XportcnTransientError):
        fields["retry_after"] = parse_retry_after(retry_after)
    if issubclass(cls, XportcnTransientError):
        fields["not_processed"] = not_processed
    return cls(text, **fields)
