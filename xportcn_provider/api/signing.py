"""The Xportcn signature rule and the signed headers of a call.

The rule (contract §1.1) is ``UPPER(HEX(MD5(access_key + timestamp + nonce + access_secret)))``:
no body and no path take part, so every *attempt* must be signed anew with a fresh nonce and the
current time, otherwise a retry would be rejected as a replay.

That rule is evidence from a third-party client, not documentation. If the real service signed
differently, every call would fail and no setting could fix it, so the rule is *data*: a
:class:`SignatureRule` names one way to turn (key, timestamp, nonce, secret) into the signature
header, :data:`SIGNATURE_RULES` lists the default and a few alternatives worth trying, and a
connection picks one by name (``extra.signature_rule``). ``airflow xportcn check`` tries the
alternatives when the default is refused. No rule ever puts the secret itself in a header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

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
    """Return the 32-char upper-case hex signature of one call under the default rule."""
    return _md5_upper(access_key, access_secret, timestamp, nonce)


# --- the rules ----------------------------------------------------------------------------------

SignFunction = Callable[[str, str, str, str], str]
TimestampUnit = Literal["s", "ms"]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _md5_upper(key: str, secret: str, ts: str, nonce: str) -> str:
    return _md5(f"{key}{ts}{nonce}{secret}").upper()


def _md5_lower(key: str, secret: str, ts: str, nonce: str) -> str:
    return _md5(f"{key}{ts}{nonce}{secret}")


def _md5_secret_first(key: str, secret: str, ts: str, nonce: str) -> str:
    return _md5(f"{secret}{key}{ts}{nonce}").upper()


def _md5_nonce_before_timestamp(key: str, secret: str, ts: str, nonce: str) -> str:
    return _md5(f"{key}{nonce}{ts}{secret}").upper()


def _md5_secret_wrapped(key: str, secret: str, ts: str, nonce: str) -> str:
    return _md5(f"{secret}{key}{ts}{nonce}{secret}").upper()


def _hmac(digest: str) -> SignFunction:
    def signer(key: str, secret: str, ts: str, nonce: str) -> str:
        mac = hmac.new(secret.encode(), f"{key}{ts}{nonce}".encode(), digest)
        return mac.hexdigest().upper()

    return signer


def _sha256_upper(key: str, secret: str, ts: str, nonce: str) -> str:
    return hashlib.sha256(f"{key}{ts}{nonce}{secret}".encode()).hexdigest().upper()


@dataclass(frozen=True)
class SignatureRule:
    """One way of computing the ``signature`` header: a name, a formula and a timestamp unit.

    ``function(access_key, access_secret, timestamp, nonce)`` must be pure; ``timestamp_unit``
    says whether the ``timestamp`` header (and so the signed material) is in seconds or
    milliseconds. ``formula`` is what the docs and error messages show.
    """

    name: str
    formula: str
    function: SignFunction
    timestamp_unit: TimestampUnit = "s"

    def sign(self, access_key: str, access_secret: str, timestamp: str, nonce: str) -> str:
        return self.function(access_key, access_secret, timestamp, nonce)

    def timestamp_of(self, seconds: str) -> str:
        """The ``timestamp`` header for a clock reading in whole seconds (``"1775221032"``)."""
        if self.timestamp_unit == "ms":
            return f"{int(seconds) * 1000}"
        return seconds

    def seconds_of(self, timestamp: str) -> float:
        """A received ``timestamp`` header back in seconds (for the server's skew check)."""
        value = int(timestamp)
        return value / 1000 if self.timestamp_unit == "ms" else float(value)


DEFAULT_SIGNATURE_RULE = "md5"

#: The default rule first, then the alternatives ``airflow xportcn check`` tries, in that order.
SIGNATURE_RULES: Mapping[str, SignatureRule] = {
    rule.name: rule
    for rule in (
        SignatureRule("md5", "UPPER(HEX(MD5(access_key + timestamp + nonce + secret)))", _md5_upper),
        SignatureRule("md5-lower", "lower(HEX(MD5(access_key + timestamp + nonce + secret)))", _md5_lower),
        SignatureRule(
            "md5-ms",
            "UPPER(HEX(MD5(access_key + timestamp_ms + nonce + secret))), timestamp in milliseconds",
            _md5_upper,
            "ms",
        ),
        SignatureRule(
            "md5-secret-first", "UPPER(HEX(MD5(secret + access_key + timestamp + nonce)))", _md5_secret_first
        ),
        SignatureRule(
            "md5-nonce-first",
            "UPPER(HEX(MD5(access_key + nonce + timestamp + secret)))",
            _md5_nonce_before_timestamp,
        ),
        SignatureRule(
            "md5-secret-wrapped",
            "UPPER(HEX(MD5(secret + access_key + timestamp + nonce + secret)))",
            _md5_secret_wrapped,
        ),
        SignatureRule(
            "hmac-md5", "UPPER(HEX(HMAC-MD5(key=secret, access_key + timestamp + nonce)))", _hmac("md5")
        ),
        SignatureRule(
            "hmac-sha256",
            "UPPER(HEX(HMAC-SHA256(key=secret, access_key + timestamp + nonce)))",
            _hmac("sha256"),
        ),
        SignatureRule("sha256", "UPPER(HEX(SHA256(access_key + timestamp + nonce + secret)))", _sha256_upper),
    )
}
SIGNATURE_RULE_NAMES: tuple[str, ...] = tuple(SIGNATURE_RULES)


class UnknownSignatureRuleError(ValueError):
    """A rule name that is not in :data:`SIGNATURE_RULES` (the message lists the valid ones)."""


def get_signature_rule(name: str | SignatureRule | None) -> SignatureRule:
    """The rule called ``name`` (``None``/empty = the default); an unknown name lists the valid ones."""
    if isinstance(name, SignatureRule):
        return name
    if name is None or (isinstance(name, str) and not name.strip()):
        return SIGNATURE_RULES[DEFAULT_SIGNATURE_RULE]
    rule = SIGNATURE_RULES.get(name.strip().lower()) if isinstance(name, str) else None
    if rule is None:
        raise UnknownSignatureRuleError(
            f"Unknown signature rule {name!r}. Valid names: {', '.join(SIGNATURE_RULE_NAMES)}."
        )
    return rule


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
    rule: str | SignatureRule | None = None,
) -> dict[str, str]:
    """The five headers of one attempt under ``rule`` (default: the contract's rule).

    ``timestamp`` is the header value as sent; ``clock`` gives whole seconds, which a
    millisecond rule scales. ``timestamp``/``nonce`` (or their factories) are for tests.
    """
    chosen = get_signature_rule(rule)
    ts = timestamp if timestamp is not None else chosen.timestamp_of(clock())
    nc = nonce if nonce is not None else nonce_factory()
    return {
        HEADER_ACCESS_KEY: access_key,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nc,
        HEADER_USER_ID: str(user_id),
        HEADER_SIGNATURE: chosen.sign(access_key, access_secret, ts, nc),
    }


def query_signature_params(headers: Mapping[str, str]) -> dict[str, str]:
    """``?timestamp=&sign=`` for the query-signed logistics paths, copied from the signed headers."""
    return {QUERY_TIMESTAMP: headers[HEADER_TIMESTAMP], QUERY_SIGN: headers[HEADER_SIGNATURE]}
