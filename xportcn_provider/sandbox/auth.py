"""Request authentication, checked the way the real service does (contract §1.1).

Five headers (``access-key``, ``timestamp``, ``nonce-str``, ``user-id``, ``signature``); the
signature is :func:`xportcn_provider.api.signing.sign` over the configured secret; the timestamp
may be at most :data:`MAX_CLOCK_SKEW_SECONDS` off; a nonce may not be reused inside that window.
Each rejection has its own :class:`EnvelopeCode` and a message that says what to check, because
"signature error" alone is what makes users give up on an API.

The signature rule is the contract's by default; ``rule`` (``xportcn-sandbox --signature-rule``,
``POST /_sandbox/signature-rule``) makes the sandbox strict about another one of
:data:`~xportcn_provider.api.signing.SIGNATURE_RULES`, so tests can play a service that signs
differently (only that rule is then accepted).

On ``/open/pp/logistics/*`` the query ``sign`` (and ``timestamp``) is also accepted: it must
equal the header when both are sent, and stands in for the header when the header is absent.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from xportcn_provider.api.errors import EnvelopeCode
from xportcn_provider.api.signing import (
    HEADER_ACCESS_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_USER_ID,
    MAX_CLOCK_SKEW_SECONDS,
    QUERY_SIGN,
    QUERY_TIMESTAMP,
    SIGNED_HEADER_NAMES,
    SignatureRule,
    get_signature_rule,
)
from xportcn_provider.sandbox.defaults import SandboxCredentials

#: Nonces kept before the replay map is first pruned of entries older than twice the window.
NONCE_PRUNE_FLOOR = 10_000


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused: the envelope ``code`` and a helpful ``msg``."""

    code: int
    msg: str


class Authenticator:
    """Checks one request's headers; remembers nonces for the replay window. Thread-safe."""

    def __init__(
        self,
        credentials: SandboxCredentials,
        *,
        clock: Callable[[], float] = time.time,
        window: int = MAX_CLOCK_SKEW_SECONDS,
        rule: str | SignatureRule | None = None,
    ) -> None:
        self.credentials = credentials
        #: The one signature rule accepted (``set_rule`` changes it; unknown names raise ValueError).
        self.rule = get_signature_rule(rule)
        self.clock = clock
        self.window = window
        self._nonces: dict[tuple[str, str], float] = {}
        #: Prune when the map reaches this size; after a prune it is twice what is left, so a
        #: burst of more than 10,000 live nonces costs one prune per doubling, not one per request.
        self._prune_at = NONCE_PRUNE_FLOOR
        self._lock = threading.Lock()

    def set_rule(self, rule: str | SignatureRule | None) -> SignatureRule:
        """Accept only ``rule`` from now on (``None`` = the contract's default rule)."""
        self.rule = get_signature_rule(rule)
        return self.rule

    def clear(self) -> None:
        with self._lock:
            self._nonces.clear()

    def check(
        self, headers: Mapping[str, str], query: Mapping[str, str], *, query_signed: bool
    ) -> AuthFailure | None:
        """``None`` when the request is authentic, else the reason it is not."""
        values = {name: (headers.get(name) or "").strip() for name in SIGNED_HEADER_NAMES}
        if query_signed:
            failure = self._merge_query(values, query)
            if failure is not None:
                return failure
        missing = [name for name in SIGNED_HEADER_NAMES if not values[name]]
        if missing:
            return AuthFailure(
                EnvelopeCode.MISSING_AUTH_HEADER,
                f"Missing authentication header(s): {', '.join(missing)}. Every call must carry "
                f"{', '.join(SIGNED_HEADER_NAMES)}. (缺少鉴权请求头)",
            )
        key = values[HEADER_ACCESS_KEY]
        if key != self.credentials.access_key:
            return AuthFailure(
                EnvelopeCode.ACCESS_KEY_UNKNOWN,
                f"Unknown access-key {key!r}: no developer has this Access Key. Check the connection's "
                "login. (AccessKey 不存在)",
            )
        failure = self._check_timestamp(values[HEADER_TIMESTAMP])
        if failure is not None:
            return failure
        rule = self.rule
        expected = rule.sign(
            key, self.credentials.access_secret, values[HEADER_TIMESTAMP], values[HEADER_NONCE]
        )
        if not hmac.compare_digest(expected, values[HEADER_SIGNATURE]):
            return AuthFailure(
                EnvelopeCode.SIGNATURE_INVALID,
                f"Signature mismatch: the signature must be {rule.formula} with the Access Secret of "
                "this access-key. Check the connection's password (Access Secret). (签名错误)",
            )
        user = values[HEADER_USER_ID]
        if user != self.credentials.user_id:
            return AuthFailure(
                EnvelopeCode.USER_FORBIDDEN,
                f"user-id {user!r} is not authorised for access-key {key!r}. Check the connection's "
                "extra.user_id (the Xport user id issued with this key). (用户无权限)",
            )
        return self._use_nonce(key, values[HEADER_NONCE])

    def _merge_query(self, values: dict[str, str], query: Mapping[str, str]) -> AuthFailure | None:
        """Fold ``?timestamp=&sign=`` into the header values (warehouse-logistics paths)."""
        for header, param in ((HEADER_SIGNATURE, QUERY_SIGN), (HEADER_TIMESTAMP, QUERY_TIMESTAMP)):
            given = (query.get(param) or "").strip()
            if not given:
                continue
            if not values[header]:
                values[header] = given
            elif given.upper() != values[header].upper():
                return AuthFailure(
                    EnvelopeCode.SIGNATURE_INVALID
                    if header == HEADER_SIGNATURE
                    else EnvelopeCode.TIMESTAMP_EXPIRED,
                    f"Query parameter {param!r} does not match the {header!r} header; send the same value "
                    "in both (or only the header). (签名参数不一致)",
                )
        return None

    def _check_timestamp(self, raw: str) -> AuthFailure | None:
        millis = self.rule.timestamp_unit == "ms"
        unit = "milliseconds (13 digits)" if millis else "whole seconds (10 digits)"
        if not raw.isdigit():
            return AuthFailure(
                EnvelopeCode.TIMESTAMP_EXPIRED,
                f"Invalid timestamp {raw!r}: expected Unix time in {unit}. (时间戳无效)",
            )
        if (len(raw) >= 13) != millis:
            looks = "milliseconds" if len(raw) >= 13 else "seconds"
            return AuthFailure(
                EnvelopeCode.TIMESTAMP_EXPIRED,
                f"Invalid timestamp {raw!r}: it looks like {looks}; send Unix time in {unit}. (时间戳无效)",
            )
        skew = self.rule.seconds_of(raw) - self.clock()
        if abs(skew) > self.window:
            direction = "ahead of" if skew > 0 else "behind"
            return AuthFailure(
                EnvelopeCode.TIMESTAMP_EXPIRED,
                f"Timestamp {raw} is {abs(skew):.0f} s {direction} server time; at most "
                f"{self.window} s of clock skew is accepted. Synchronise this machine's clock (NTP). "
                "(时间戳已过期)",
            )
        return None

    def _use_nonce(self, key: str, nonce: str) -> AuthFailure | None:
        now = self.clock()
        with self._lock:
            if len(self._nonces) > self._prune_at:
                horizon = now - 2 * self.window
                self._nonces = {k: t for k, t in self._nonces.items() if t >= horizon}
                self._prune_at = max(NONCE_PRUNE_FLOOR, 2 * len(self._nonces))
            seen = self._nonces.get((key, nonce))
            if seen is not None and now - seen <= 2 * self.window:
                return AuthFailure(
                    EnvelopeCode.NONCE_REUSED,
                    f"nonce-str {nonce!r} was already used within the last {self.window} s: a replayed "
                    "request is refused. Send a fresh random nonce-str (and signature) on every "
                    "request, retries included. (nonce 重复)",
                )
            self._nonces[(key, nonce)] = now
        return None
