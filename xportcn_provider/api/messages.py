"""Push messages (contract §4): parse, validate and normalise what Xport POSTs to a callback URL.

Xport pushes order and refund messages as ``{"messageType", "messageBody", "messagePlatform",
"timestamp"}`` where ``messageBody`` is a JSON *string*, ``messagePlatform`` is ``0`` (Taobao) or
``1`` (1688) and ``timestamp`` is milliseconds as a string. Nothing is signed; the receiver is
guarded by a per-connection token in the callback URL (:func:`push_token_matches`).

Everything the receiver decides lives here, free of any web framework or Airflow, so the
plugin route stays a thin translation: :func:`decode_push_request` turns the raw HTTP body into
a mapping, :func:`parse_push_message` turns that into a :class:`PushMessage` (or raises
:class:`PushMessageError` naming the field), and :meth:`PushMessage.event_extra` is what the
asset event carries. Redelivery is recognised by :attr:`PushMessage.message_key`, a digest of
the message's content, so Xport's retries (the same message up to 5 more times, 30 minutes
apart) map to one key; staleness is decided per object by :func:`is_stale`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from xportcn_provider.api import statuses as st
from xportcn_provider.api.errors import XportcnValidationError

#: Largest request body the receiver reads (bigger bodies answer HTTP 413).
MAX_BODY_BYTES = 64 * 1024
#: Shortest accepted push token: 32 characters (e.g. ``secrets.token_urlsafe(32)`` gives 43).
MIN_PUSH_TOKEN_LENGTH = 32
#: A redelivered message creates no second event for at least this long after the first.
#: Xport retries 5 times, 30 minutes apart (2.5 h), so 3 h covers every retry.
DEDUPE_WINDOW_SECONDS = 3 * 3600
#: Receipts are kept this long (well past the window) before they may be pruned.
RECEIPT_RETENTION_SECONDS = 24 * 3600

#: Asset kinds: one asset per kind and connection (``xportcn://<conn_id>/<kind>``).
KIND_ORDERS = "orders"
KIND_REFUNDS = "refunds"
KINDS = (KIND_ORDERS, KIND_REFUNDS)

#: ``messagePlatform`` codes (contract §4) and the names the events use.
PLATFORMS: Mapping[int, str] = {0: "taobao", 1: "1688"}

#: Message types the contract names. Others are accepted (the list is "e.g."), as long as they
#: look like a type name: upper-case letters, digits and underscores.
KNOWN_MESSAGE_TYPES = frozenset(
    {
        "ORDER_CREATE",
        "ORDER_CANCEL",
        "ORDER_PAY_SUCCESS",
        "ORDER_BUYER_VIEW_ORDER_PRICE_MODIFY",
        "ORDER_BUYER_VIEW_ORDER_BUYER_REFUND",
    }
)
_MESSAGE_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
#: Plausible push times: 2000-01-01 .. 2100-01-01, in milliseconds.
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000

#: The wire field names (contract §4).
F_TYPE, F_BODY, F_PLATFORM, F_TIMESTAMP = "messageType", "messageBody", "messagePlatform", "timestamp"


class PushMessageError(XportcnValidationError):
    """A push body that is not the contract's shape; ``parameter`` names the field."""


@dataclass(frozen=True)
class PushMessage:
    """One validated, normalised push message."""

    message_type: str
    platform: str
    kind: str
    sent_at_ms: int
    body: Mapping[str, Any]
    raw_body: str
    order_id: str | None = None
    refund_id: str | None = None
    status: str | None = None
    raw_status: str | None = None
    pay_status: str | None = None
    message_key: str = field(default="")

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.sent_at_ms / 1000, UTC)

    @property
    def object_key(self) -> str:
        """The object this message is about, for ordering: ``refunds:1688:<refundId>`` etc."""
        object_id = self.refund_id if self.kind == KIND_REFUNDS and self.refund_id else self.order_id
        return f"{self.kind}:{self.platform}:{object_id}"

    def event_extra(self, *, conn_id: str, stale: bool) -> dict[str, Any]:
        """The asset event's ``extra``: the normalised fields, then the body (parsed and raw)."""
        return {
            "conn_id": conn_id,
            "message_type": self.message_type,
            "platform": self.platform,
            "kind": self.kind,
            "order_id": self.order_id,
            "refund_id": self.refund_id,
            "status": self.status,
            "raw_status": self.raw_status,
            "pay_status": self.pay_status,
            "sent_at": self.sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sent_at_ms": self.sent_at_ms,
            "message_key": self.message_key,
            "stale": stale,
            "body": dict(self.body),
            "raw_body": self.raw_body,
        }


def decode_push_request(raw: bytes, content_type: str | None = None) -> Mapping[str, Any]:
    """The pushed fields from an HTTP body: JSON (the contract), or a urlencoded form.

    The contract does not name a content type; a form body (``messageType=...&messageBody=...``)
    is what some push services send, so it is accepted too rather than losing messages.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise PushMessageError(f"body is larger than {MAX_BODY_BYTES} bytes", parameter="body")
    kind = (content_type or "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PushMessageError("body is not UTF-8 text", parameter="body") from None
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            raise PushMessageError("body is not a valid urlencoded form", parameter="body") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise PushMessageError("body is not valid JSON", parameter="body") from None
    if not isinstance(data, dict):
        raise PushMessageError("body must be a JSON object", parameter="body")
    return data


def _text(value: Any) -> str | None:
    """A scalar id/status as text (``None``, empty and non-scalars are absent)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def _platform(raw: Any) -> str:
    if isinstance(raw, bool):
        raw = None
    try:
        code = int(str(raw).strip()) if raw is not None else None
    except ValueError:
        code = None
    if code is None or code not in PLATFORMS:
        raise PushMessageError(
            f"{F_PLATFORM} must be 0 (Taobao) or 1 (1688), got {raw!r}", parameter=F_PLATFORM
        )
    return PLATFORMS[code]


def _timestamp(raw: Any) -> int:
    text = _text(raw)
    if text is None or not text.isdigit() or not _MIN_MS <= int(text) < _MAX_MS:
        raise PushMessageError(
            f"{F_TIMESTAMP} must be Unix milliseconds as a string of digits, got {raw!r}",
            parameter=F_TIMESTAMP,
        )
    return int(text)


def _body(raw: Any) -> tuple[dict[str, Any], str]:
    """``messageBody``: a JSON string holding an object (an object as such is tolerated)."""
    if isinstance(raw, dict):
        return raw, json.dumps(raw, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if not isinstance(raw, str) or not raw.strip():
        raise PushMessageError(f"{F_BODY} must be a JSON string holding an object", parameter=F_BODY)
    try:
        body = json.loads(raw)
    except ValueError:
        raise PushMessageError(f"{F_BODY} is not valid JSON", parameter=F_BODY) from None
    if not isinstance(body, dict):
        raise PushMessageError(f"{F_BODY} must hold a JSON object", parameter=F_BODY)
    return body, raw


def _id(body: Mapping[str, Any], name: str) -> str | None:
    value = _text(body.get(name))
    if value is not None and not _ID.match(value):
        raise PushMessageError(f"{F_BODY}.{name} is not a valid id: {value!r}", parameter=f"{F_BODY}.{name}")
    return value


def message_kind(message_type: str, body: Mapping[str, Any]) -> str:
    """``refunds`` for refund messages (a ``REFUND`` type or a ``refundId``), else ``orders``."""
    if "REFUND" in message_type or _text(body.get("refundId")) is not None:
        return KIND_REFUNDS
    return KIND_ORDERS


def normalize_status(kind: str, platform: str, raw: str | None) -> str | None:
    """The status through :mod:`.statuses` (1688 or Taobao vocabulary); ``None`` if unknown."""
    if raw is None:
        return None
    if kind == KIND_REFUNDS:
        vocabulary = st.TAOBAO_REFUND_STATUS if platform == "taobao" else st.REFUND_STATUS
    else:
        vocabulary = st.TAOBAO_ORDER_STATUS if platform == "taobao" else st.ORDER_STATUS
    return vocabulary.normalize(raw)


def message_key(platform: str, message_type: str, sent_at_ms: int, body: Mapping[str, Any]) -> str:
    """A digest of what makes a message itself: redeliveries of it share the key.

    The body is canonicalised (sorted keys, no whitespace) so a redelivery that re-serialises
    the same JSON differently is still recognised.
    """
    canonical = json.dumps(
        [platform, message_type, sent_at_ms, body], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_push_message(data: Mapping[str, Any]) -> PushMessage:
    """Validate the pushed fields and normalise them; the error names the first bad field."""
    if not isinstance(data, Mapping):
        raise PushMessageError("body must be a JSON object", parameter="body")
    message_type = _text(data.get(F_TYPE))
    if message_type is None or not _MESSAGE_TYPE.match(message_type):
        raise PushMessageError(
            f"{F_TYPE} must be a message type such as ORDER_CREATE, got {data.get(F_TYPE)!r}",
            parameter=F_TYPE,
        )
    body, raw_body = _body(data.get(F_BODY))
    platform = _platform(data.get(F_PLATFORM))
    sent_at_ms = _timestamp(data.get(F_TIMESTAMP))
    order_id, refund_id = _id(body, "orderId"), _id(body, "refundId")
    kind = message_kind(message_type, body)
    if order_id is None and refund_id is None:
        raise PushMessageError(f"{F_BODY} must carry an orderId or a refundId", parameter=f"{F_BODY}.orderId")
    status_field = "refundStatus" if kind == KIND_REFUNDS else "orderStatus"
    raw_status = _text(body.get(status_field))
    raw_pay = _text(body.get("payStatus"))
    return PushMessage(
        message_type=message_type,
        platform=platform,
        kind=kind,
        sent_at_ms=sent_at_ms,
        body=body,
        raw_body=raw_body,
        order_id=order_id,
        refund_id=refund_id,
        status=normalize_status(kind, platform, raw_status),
        raw_status=raw_status,
        pay_status=st.PAY_STATUS.normalize(raw_pay) if raw_pay is not None else None,
        message_key=message_key(platform, message_type, sent_at_ms, body),
    )


def is_stale(sent_at_ms: int, newest_seen_ms: int | None) -> bool:
    """True when a newer message about the same object was already recorded."""
    return newest_seen_ms is not None and sent_at_ms < newest_seen_ms


def validate_push_token(token: str | None, *, parameter: str = "push_token") -> str | None:
    """A configured token, or ``None``; shorter than :data:`MIN_PUSH_TOKEN_LENGTH` is an error."""
    if token is None or str(token).strip() == "":
        return None
    token = str(token).strip()
    if len(token) < MIN_PUSH_TOKEN_LENGTH:
        raise XportcnValidationError(
            f"{parameter} must be at least {MIN_PUSH_TOKEN_LENGTH} characters "
            f"(it is {len(token)}); generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'",
            parameter=parameter,
        )
    return token


def push_token_matches(configured: str | None, presented: str) -> bool:
    """Constant-time comparison; a missing or too short configured token matches nothing."""
    if not configured or len(configured) < MIN_PUSH_TOKEN_LENGTH:
        hmac.compare_digest(presented.encode(), presented.encode())  # same work either way
        return False
    return hmac.compare_digest(configured.encode("utf-8"), presented.encode("utf-8"))


#: The asset URI scheme registered in the provider info (``asset-uris``).
ASSET_SCHEME = "xportcn"
#: What an Airflow connection id may look like (letters, digits, ``_ . -``), so it fits a URI host.
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


def valid_conn_id(conn_id: str) -> bool:
    return bool(_CONN_ID.match(conn_id))


def asset_uri(conn_id: str, kind: str) -> str:
    """``xportcn://<conn_id>/<kind>``: the asset that one connection's pushed messages update."""
    if not isinstance(conn_id, str) or not valid_conn_id(conn_id):
        raise XportcnValidationError(
            f"conn_id must be an Airflow connection id (letters, digits, _ . -), got {conn_id!r}",
            parameter="conn_id",
        )
    if kind not in KINDS:
        raise XportcnValidationError(
            f"kind must be one of {', '.join(KINDS)}, got {kind!r}", parameter="kind"
        )
    return f"{ASSET_SCHEME}://{conn_id}/{kind}"


def redact_push_path(path: str) -> str:
    """``.../push/<conn_id>/<token>`` with the token replaced, for anything that logs a path."""
    return _PUSH_PATH.sub(r"\1***", path)


_PUSH_PATH = re.compile(r"(/push/[^/]*/)[^/?#]+")
