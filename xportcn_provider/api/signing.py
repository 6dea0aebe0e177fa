"""The Xportcn signature rule and the signed headers of a call.

The rule (contract §1.1) is ``UPPER(HEX(MD5(access_key + timestamp + nonce + access_secret)))``:
no body and no path take part, so every *attempt* must be signed anew with a fresh nonce and the
current time, otherwise a retry would be rejected as a replay.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping

HEADER_ACCESS_KEY = "access-key"
HEADER_TIMESTAMP = "timestamp"
HEADER_NONCE = "nonce-str"
HEADER_USER_ID = "user-id"
HEADER_SIGNATURE = "signature"

#: The five headers every call carries, in the contract's order.
SIGNED_HEADER_NAMES: tuple[str, ...] = (
    HEADER_ACCESS_KEY,
    HEADER_TIMESTAMP,
    HEADER_NONCE,
    HEADER_USER_ID,
    HEADER_SIGNATURE,
)

#: Query parameters that ``/open/pp/logistics/*`` paths carry on top of the headers.
QUERY_TIMESTAMP = "timestamp"
QUERY_SIGN = "sign"

NONCE_LENGTH = 32

#: How far the server lets a client's clock drift (contract §1.1, evidence).
MAX_CLOCK_SKEW_SECONDS = 600


def sign(access_key: str, access_secret: str, timestamp: str, nonce: str) -> str:
    """Return the 32-char upper-case hex signature of one call."""
    material = f"{access_key}{timestamp}{nonce}{access_secret}".encode()
    return hashlib.md5(material, usedforsecurity=False).hexdigest().upper()


def new_nonce(length: int = NONCE_LENGTH) -> str:
    """A fresh random nonce of ``[0-9a-f]`` (inside the ``[A-Za-z0-9]`` the server accepts).

    Hex from ``secrets.token_hex`` carries 4 bits per char (128 bits for 32 chars) and costs a
    fraction of drawing each char with ``secrets.choice``; signing happens on every attempt.
    """
    if length < 1:
        raise ValueError(f"nonce length must be >= 1, got {length}")
    return secrets.token_hex((length + 1) // 2)[:length]


def current_timestamp() -> str:
    """Unix time in whole seconds as the 10-digit decimal string the contract expects."""
    return str(int(time.time()))


def signed_headers(
    access_key: str,
    access_secret: str,
    user_id: str,
    *,
    timestamp: str | None = None,
    nonce: str | None = None,
    clock: Callable[[], str] = current_timestamp,
    nonce_factory: Callable[[], str] = new_nonce,
) -> dict[str, str]:
    """The five headers of one attempt; ``timestamp``/``nonce`` (or their factories) are for tests."""
    ts = timestamp if timestamp is not None else clock()
    nc = nonce if nonce is not None else nonce_factory()
    return {
        HEADER_ACCESS_KEY: access_key,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nc,
        HEADER_USER_ID: str(user_id),
        HEADER_SIGNATURE: sign(access_key, access_secret, ts, nc),
    }


def query_signature_params(headers: Mapping[str, str]) -> dict[str, str]:
    """``?timestamp=&sign=`` for the query-signed logistics paths, copied from the signed headers."""
    return {QUERY_TIMESTAMP: headers[HEADER_TIMESTAMP], QUERY_SIGN: headers[HEADER_SIGNATURE]}
