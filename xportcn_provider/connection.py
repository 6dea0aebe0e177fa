"""How an Airflow connection of type ``xportcn`` becomes client credentials and settings.

Kept apart from the hook so the sync hook and the async trigger read a connection by exactly
the same rules (the trigger fetches the connection with Airflow's async API, then calls here).

Accepted forms (both documented in the README):

* JSON: ``{"conn_type": "xportcn", "host": "https://www.xportcn.com/api", "login": "<key>",
  "password": "<secret>", "extra": {"user_id": "..."}}``
* URI: ``xportcn://<key>:<secret>@www.xportcn.com/api?user_id=...`` (add ``protocol=http``
  for a local sandbox: ``xportcn://k:s@127.0.0.1:8765/api?user_id=1&protocol=http``)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from xportcn_provider.api.client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
    Credentials,
)
from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.messages import validate_push_token
from xportcn_provider.api.signing import DEFAULT_SIGNATURE_RULE
from xportcn_provider.names import CONN_TYPE, DEFAULT_CONN_ID

DEFAULT_CONSOLE_URL = "https://www.xportcn.com"

EXTRA_USER_ID = "user_id"
EXTRA_TIMEOUT = "timeout"
EXTRA_MAX_RETRIES = "max_retries"
#: Sockets per (connection, triggerer event loop) for the async side; polls beyond it queue.
EXTRA_MAX_CONNECTIONS = "max_connections"
EXTRA_OVERRIDES = "endpoint_overrides"
EXTRA_CONSOLE_URL = "console_url"
EXTRA_PROTOCOL = "protocol"
#: The token in the push callback URL (``/xportcn/push/<conn_id>/<push_token>``), >= 32 characters.
EXTRA_PUSH_TOKEN = "push_token"
EXTRA_SIGNATURE_RULE = "signature_rule"


class ConnectionLike(Protocol):
    """The attributes of ``airflow.sdk.Connection`` this module reads."""

    conn_id: str
    host: str | None
    schema: str | None
    login: str | None
    password: str | None
    port: int | None


@dataclass(frozen=True)
class XportcnConnectionConfig:
    """Everything the provider reads from one connection."""

    conn_id: str
    credentials: Credentials
    settings: ClientSettings
    console_url: str


def _extra_value(extra: Mapping[str, Any], key: str) -> Any:
    """A custom field, stored plain (``user_id``) or by the form's prefix (``extra__xportcn__user_id``)."""
    for candidate in (key, f"extra__{CONN_TYPE}__{key}"):
        value = extra.get(candidate)
        if value not in (None, ""):
            return value
    return None


def base_url_of(conn: ConnectionLike, extra: Mapping[str, Any]) -> str:
    """The API base URL: a full URL in ``host``, or host/port/schema with ``protocol`` (https).

    A full URL may come with the form's Port field filled in (the connection-list Test button
    needs a stored port, see ``get_provider_info``): the scheme's default port, or the URL's own
    port, change nothing; another port is put into a URL that names none; a URL naming a
    different port is an error naming ``port``.
    """
    host = (conn.host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" in host:
        return _with_port(host.rstrip("/"), conn.port)
    protocol = str(_extra_value(extra, EXTRA_PROTOCOL) or "https")
    netloc = f"{host}:{conn.port}" if conn.port else host
    path = (conn.schema or "api").strip("/")
    return f"{protocol}://{netloc}/{path}" if path else f"{protocol}://{netloc}"


def _with_port(url: str, port: int | None) -> str:
    """``url`` with the connection's ``port`` applied (see :func:`base_url_of`)."""
    if not port:  # None, or the 0 a form sends for an empty field
        return url
    try:
        parts = urlsplit(url)
        own = parts.port
    except ValueError:
        return url  # ClientSettings refuses a malformed URL, naming host
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if own is not None:
        if own != int(port):
            raise XportcnValidationError(
                f"Connection port {port} differs from the port in its host URL ({own}); "
                "clear one or make them equal.",
                parameter="port",
            )
        return url
    if int(port) == default or parts.hostname is None:
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _number(extra: Mapping[str, Any], key: str, default: float, cast: type) -> Any:
    raw = _extra_value(extra, key)
    if raw is None:
        return default
    kind = "a whole number" if cast is int else "a number"
    try:
        if isinstance(raw, bool):
            raise TypeError  # JSON true/false is not a count or a duration
        # int("2.5") fails but int(2.5) would silently truncate: whole numbers only.
        if cast is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        value = cast(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise XportcnValidationError(
            f"Connection extra {key!r} must be {kind}, got {raw!r}.", parameter=key
        ) from None
    return value


def _overrides(extra: Mapping[str, Any]) -> dict[str, Any]:
    raw = _extra_value(extra, EXTRA_OVERRIDES)
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise XportcnValidationError(
                f"Connection extra {EXTRA_OVERRIDES!r} is not valid JSON.", parameter=EXTRA_OVERRIDES
            ) from None
    if not isinstance(raw, Mapping):
        raise XportcnValidationError(
            f"Connection extra {EXTRA_OVERRIDES!r} must be a JSON object of endpoint name -> path.",
            parameter=EXTRA_OVERRIDES,
        )
    return dict(raw)


def push_token_of(extra: Mapping[str, Any]) -> str | None:
    """The connection's push token, ``None`` when it has none (then it accepts no pushes).

    A token shorter than 32 characters is an error naming the field, so the Test button and
    the receiver refuse it instead of guarding a callback URL with a guessable secret.
    """
    raw = _extra_value(extra, EXTRA_PUSH_TOKEN)
    return validate_push_token(None if raw is None else str(raw), parameter=f"extra.{EXTRA_PUSH_TOKEN}")


def read_connection(conn: ConnectionLike, extra: Mapping[str, Any]) -> XportcnConnectionConfig:
    """Validate a connection and turn it into credentials + settings; errors name the field."""
    conn_id = getattr(conn, "conn_id", None) or DEFAULT_CONN_ID
    missing = [
        label
        for label, value in (
            ("login (Access Key)", conn.login),
            ("password (Access Secret)", conn.password),
            ("extra.user_id (User ID)", _extra_value(extra, EXTRA_USER_ID)),
        )
        if value in (None, "")
    ]
    if missing:
        raise XportcnValidationError(
            f"Connection {conn_id!r} is missing {', '.join(missing)}. "
            "Set them in the Xportcn connection form or in AIRFLOW_CONN_"
            f"{conn_id.upper()} (see the README's Connection section).",
            parameter=missing[0].split(" ")[0],
        )
    credentials = Credentials(
        access_key=str(conn.login),
        access_secret=str(conn.password),
        user_id=str(_extra_value(extra, EXTRA_USER_ID)),
    )
    settings = ClientSettings(
        base_url=base_url_of(conn, extra),
        timeout=_number(extra, EXTRA_TIMEOUT, DEFAULT_TIMEOUT, float),
        max_retries=_number(extra, EXTRA_MAX_RETRIES, DEFAULT_MAX_RETRIES, int),
        max_connections=_number(extra, EXTRA_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS, int),
        endpoint_overrides=_overrides(extra),
        signature_rule=str(_extra_value(extra, EXTRA_SIGNATURE_RULE) or DEFAULT_SIGNATURE_RULE),
    )
    console = str(_extra_value(extra, EXTRA_CONSOLE_URL) or DEFAULT_CONSOLE_URL).rstrip("/")
    return XportcnConnectionConfig(conn_id, credentials, settings, console)
