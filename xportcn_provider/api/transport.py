"""Network failures in words: where the call went and why it failed, with the fix when there is one.

"connection failed or dropped (ConnectionError)" told a user neither which server was tried nor
what went wrong (issue 14 item 3). The sync (``requests``) and async (``aiohttp``) clients both
describe a transport failure here, so the wording is the same on a worker and in the triggerer:

* the base URL the connection resolves to (scheme, host, port, path; never a user-info part or
  a query string, which is where a secret could hide);
* the cause in words: refused, DNS, timeout, TLS, reset;
* for a TLS failure against what answers like a plain-HTTP server, the fix: ``http://`` in the
  host or ``extra.protocol=http``.

Only the words are decided here; whether a failure proves that nothing was sent
(``not_processed``) stays with the clients.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit, urlunsplit

#: OpenSSL's words when the peer's first bytes are not a TLS record: a plain-HTTP server.
_PLAIN_HTTP_MARKERS = (
    "wrong_version_number",
    "wrong version number",
    "record layer failure",
    "unknown protocol",
    "http_request",
    "packet length too long",
)
_DNS_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated",
    "failed to resolve",
    "name resolution",
)


def safe_url(url: str) -> str:
    """``url`` without user-info, query or fragment: safe to show in a log line or an error."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (``reason``, first arg, cause, context)."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack and len(seen) < 20:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        for nxt in (
            reason if isinstance(reason, BaseException) else None,
            getattr(current, "os_error", None),  # aiohttp.ClientConnectorError
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None,
            current.__cause__,
            current.__context__,
        ):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return seen


def _text(chain: list[BaseException]) -> str:
    return " | ".join(f"{type(e).__name__}: {e}" for e in chain).lower()


def is_tls_failure(exc: BaseException) -> bool:
    chain = _chain(exc)
    return any(isinstance(e, ssl.SSLError) or "ssl" in type(e).__name__.lower() for e in chain)


def describe_failure(exc: BaseException, base_url: str) -> str:
    """The cause of a transport failure in words, with the fix when one is known.

    E.g. ``connection refused by 127.0.0.1:8765 (nothing listens there: is the server or the
    sandbox running?)``. ``base_url`` is the connection's base URL; only its host and port appear.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    where = f"{host}:{port}"
    chain = _chain(exc)
    text = _text(chain)
    if is_tls_failure(exc):
        if parts.scheme == "https" and any(m in text for m in _PLAIN_HTTP_MARKERS):
            http_url = urlunsplit(("http", parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
            return (
                f"TLS handshake with {where} failed: it answers like a plain-HTTP server (a local "
                f"sandbox?). Use http:// in the connection's host ({http_url}) or set "
                '"protocol": "http" in its extra'
            )
        if "certificate" in text or "cert" in text:
            return (
                f"TLS certificate of {where} not trusted ({_last_words(chain)}); check the host name "
                "and the CA bundle (REQUESTS_CA_BUNDLE / SSL_CERT_FILE)"
            )
        return f"TLS handshake with {where} failed ({_last_words(chain)})"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return f"connection refused by {where} (nothing listens there: is the server or the sandbox running?)"
    if any(isinstance(e, socket.gaierror) for e in chain) or any(m in text for m in _DNS_MARKERS):
        return f"DNS: the host name {host!r} could not be resolved (check the connection's host)"
    if any(isinstance(e, TimeoutError | socket.timeout) for e in chain) or "timed out" in text:
        return f"timed out talking to {where}"
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in text:
        return f"connection reset by {where}"
    if "remote end closed" in text or "disconnected" in text or "broken pipe" in text:
        return f"{where} closed the connection without answering"
    return f"{type(exc).__name__} talking to {where}"


def _last_words(chain: list[BaseException]) -> str:
    """OpenSSL's reason (or the innermost message), cut short: not requests' wrapper, whose text
    repeats the request URL with its query."""
    ssl_errors = [e for e in chain if isinstance(e, ssl.SSLError)]
    inner = ssl_errors[-1] if ssl_errors else chain[-1]
    words = str(inner) or type(inner).__name__
    return words if len(words) <= 160 else words[:157] + "..."
