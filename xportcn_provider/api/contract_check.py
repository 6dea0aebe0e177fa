"""The contract checker behind ``airflow xportcn check``: which endpoints answer where we think.

Most catalogue paths and every response shape are inferred (contract §2), and nobody building the
provider can call the real service. This module lets a user with real credentials check them
without changing anything on the server:

* **Safe probes only.** Each selected endpoint is called once, one call at a time with a short
  delay: a read with :func:`probe_body` (ids that cannot exist, first page of size 1), a write
  only when asked (``include_writes``) and then only with an empty JSON object ``{}`` — every
  write endpoint has required fields (a unit test keeps it so), so the server must refuse it.
  No body that could create, pay, cancel or book anything is ever built here.
* **Classification** (:func:`classify`): ``ok`` (an envelope came back, a validation or
  not-found business answer included: the path exists), ``moved`` (HTTP 404/405 or an envelope
  that says "no such route"), ``auth`` (the run stops there and names the cause), ``error``
  (transport, HTML, timeout, 5xx, rate limit).
* **Moved endpoints** are tried at their recorded :attr:`Endpoint.alternates` (and the
  catalogue path, when a connection override was tried first); the first that answers becomes
  a suggested ``endpoint_overrides`` entry.
* **Signature rules.** When the first answer is a signature mismatch (not an unknown key or user
  id), each alternative rule of :data:`~xportcn_provider.api.signing.SIGNATURE_RULES` is tried
  once on the same endpoint; the one accepted is reported with the connection field to set, and
  the rest of the run uses it. A timestamp refusal tries only the rules with the other timestamp
  unit (seconds/milliseconds) before blaming the clock.
* **Paging** of each list endpoint: a second page of size 1 must hold another item, and a total
  must agree, so a service that ignores our page field is seen before a sync loops on it.
* **Shapes** of every answered ``data`` (:func:`~xportcn_provider.api.shapes.shape_of`: keys and
  types, never a value) for ``--record``; :func:`compare_record` diffs a record with the shapes
  the provider assumes.

Framework-free: the CLI layer (``xportcn_provider.check``) reads the Airflow connection and
prints; everything decided is here, with its own tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from xportcn_provider import __version__
from xportcn_provider.api.client import (
    ClientSettings,
    Credentials,
    XportcnClient,
    page_items,
    page_param_names,
)
from xportcn_provider.api.endpoints import CATALOGUE, ENDPOINT_NAMES, Endpoint
from xportcn_provider.api.envelope import Envelope
from xportcn_provider.api.errors import (
    EnvelopeCode,
    XportcnAuthError,
    XportcnBusinessError,
    XportcnClockSkewError,
    XportcnError,
    XportcnValidationError,
)
from xportcn_provider.api.shapes import ASSUMED_SHAPES, Difference, compare, shape_of
from xportcn_provider.api.signing import SIGNATURE_RULE_NAMES, SIGNATURE_RULES, get_signature_rule

Result = Literal["ok", "moved", "auth", "error"]
AuthCause = Literal["signature", "access_key", "user_id", "clock", "other"]

#: Seconds between two probes (the whole run stays well under a minute).
DEFAULT_DELAY = 0.2
#: No probe waits longer than this, whatever the connection's timeout says.
MAX_PROBE_TIMEOUT = 10.0
#: Consecutive transport errors after which the run stops: the service is unreachable.
MAX_CONSECUTIVE_ERRORS = 3
#: The cheap read probed first: it answers for every account (``test_connection`` uses it too).
FIRST_PROBE = "address_list"
RECORD_FORMAT = "xportcn-check-record/1"

#: Values for required read fields: ids that cannot exist, neutral search words.
PROBE_VALUES: Mapping[str, Any] = {
    "orderId": "0",
    "refundId": "0",
    "offerId": "0",
    "itemId": "0",
    "categoryId": "0",
    "openUid": "xportcn-check",
    "keyword": "xportcn-check",
    "out_order_id": "xportcn-check-0",
    "country": "US",
    "weight": 1,
}

#: Envelope messages that mean "no such route" on gateways the real service may sit behind.
_ROUTE_MISSING_WORDS = (
    "no such route",
    "no route",
    "no handler",
    "path not found",
    "api not found",
    "接口不存在",
    "路由不存在",
    "请求路径不存在",
    "找不到接口",
)

_AUTH_CAUSES: Mapping[int, AuthCause] = {
    EnvelopeCode.SIGNATURE_INVALID: "signature",
    EnvelopeCode.ACCESS_KEY_UNKNOWN: "access_key",
    EnvelopeCode.USER_FORBIDDEN: "user_id",
    EnvelopeCode.TIMESTAMP_EXPIRED: "clock",
}

AUTH_ADVICE: Mapping[AuthCause, str] = {
    "signature": "the signature was refused: check the Access Secret (password); if it is right, the "
    "service signs differently (see the signature rule search)",
    "access_key": "the Access Key (login) is unknown to the service",
    "user_id": "the user id (extra.user_id) is not the one issued with this Access Key",
    "clock": "the timestamp was refused: synchronise this machine's clock (NTP)",
    "other": "the credentials were refused",
}


def probe_body(endpoint: Endpoint) -> dict[str, Any] | None:
    """The one body a probe of ``endpoint`` sends: ``{}`` for a write, minimal arguments for a read.

    ``None`` for a GET without fields (nothing is sent). Reads fill only their *required* fields
    from :data:`PROBE_VALUES` (fields not there are left out, so the server answers with a
    validation error — which still proves the path) and ask for the first page of size 1.
    """
    if not endpoint.read_only:
        return {}
    body: dict[str, Any] = {f: PROBE_VALUES[f] for f in endpoint.required if f in PROBE_VALUES}
    if endpoint.paginated:
        page_field, size_field = page_param_names(endpoint)
        body.update({page_field: 1, size_field: 1})
    if endpoint.method == "GET" and not body:
        return None
    return body


def auth_cause(error: XportcnError) -> AuthCause:
    """Which part of the credentials an auth answer refused (code first, then the message)."""
    if isinstance(error, XportcnClockSkewError):
        return "clock"
    try:
        known = _AUTH_CAUSES.get(int(error.code)) if error.code is not None else None
    except (TypeError, ValueError):
        known = None
    if known is not None:
        return known
    text = (error.msg or "").lower()
    if any(word in text for word in ("signature", "sign error", "签名")):
        return "signature"
    if any(word in text for word in ("access key", "access-key", "accesskey")):
        return "access_key"
    if "user" in text or "用户" in text:
        return "user_id"
    return "other"


def classify(error: XportcnError | None) -> Result:
    """``ok`` / ``moved`` / ``auth`` / ``error`` for one probe's outcome (``None`` = success)."""
    if error is None:
        return "ok"
    if isinstance(error, XportcnAuthError):
        return "auth"
    if error.http_status in (404, 405):
        return "moved"
    text = (error.msg or "").lower()
    if error.code is not None and any(word in text for word in _ROUTE_MISSING_WORDS):
        return "moved"  # an envelope that says "no such route", whatever its code
    return "ok" if isinstance(error, XportcnBusinessError) else "error"


@dataclass
class Attempt:
    """One probe: where it went and what came back (never a response value)."""

    endpoint: str
    path: str
    result: Result
    ms: float
    http_status: int | None = None
    code: int | str | None = None
    msg: str | None = None
    request_id: str | None = None
    rule: str | None = None
    auth_cause: AuthCause | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Paging:
    """What two pages of size 1 showed: ``ok``, ``repeats``, ``ignores_page_size``,
    ``total_disagrees`` or ``unknown`` (fewer than two items to tell)."""

    endpoint: str
    result: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EndpointReport:
    endpoint: str
    confidence: str
    method: str
    expected_path: str
    attempts: list[Attempt] = field(default_factory=list)
    #: Where the endpoint answered (``None``: nowhere tried).
    found_at: str | None = None
    shape: Any = None
    paging: Paging | None = None

    @property
    def result(self) -> Result:
        return self.attempts[0].result if self.attempts else "error"

    @property
    def moved(self) -> bool:
        return self.result == "moved"

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "confidence": self.confidence,
            "method": self.method,
            "path": self.expected_path,
            "result": self.result,
            "found_at": self.found_at,
            "attempts": [a.as_dict() for a in self.attempts],
            "paging": self.paging.as_dict() if self.paging else None,
        }


@dataclass
class CheckReport:
    """Everything one run learnt; :attr:`exit_code` is the command's."""

    base_url: str
    signature_rule: str
    endpoints: list[EndpointReport] = field(default_factory=list)
    #: Set when the run stopped early (auth refused, service unreachable).
    stopped: str | None = None
    auth: Attempt | None = None
    #: The signature rule search: rule -> attempt (only when the default rule was refused).
    rule_search: list[Attempt] = field(default_factory=list)
    accepted_rule: str | None = None
    #: The first probe's refusal under the connection's rule, when another rule was then accepted.
    refused: Attempt | None = None
    current_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def overrides(self) -> dict[str, str]:
        """The complete ``endpoint_overrides`` to paste: current ones updated by what was found."""
        merged = dict(self.current_overrides)
        for report in self.endpoints:
            if report.moved and report.found_at is not None:
                if report.found_at == CATALOGUE[report.endpoint].path:
                    merged.pop(report.endpoint, None)
                else:
                    merged[report.endpoint] = report.found_at
        return merged

    @property
    def missing(self) -> list[str]:
        return [r.endpoint for r in self.endpoints if r.moved and r.found_at is None]

    @property
    def paging_problems(self) -> list[Paging]:
        return [r.paging for r in self.endpoints if r.paging and r.paging.result not in ("ok", "unknown")]

    @property
    def exit_code(self) -> int:
        """0 all answer where expected; 1 something to change (moved, missing, paging, a
        signature rule found); 2 auth or transport failure with nothing found to fix it."""
        if self.stopped is not None and self.accepted_rule is None:
            return 2
        if any(r.result == "error" for r in self.endpoints):
            return 2
        if self.accepted_rule is not None or any(r.moved for r in self.endpoints):
            return 1
        return 1 if self.paging_problems else 0

    def record(self) -> dict[str, Any]:
        """The ``--record`` document: shapes, answering paths and paging results — never a value,
        an id or a ``requestId``."""
        return {
            "format": RECORD_FORMAT,
            "provider_version": __version__,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "signature_rule": self.accepted_rule or self.signature_rule,
            "paths": {r.endpoint: r.found_at for r in self.endpoints if r.found_at is not None},
            "shapes": {r.endpoint: r.shape for r in self.endpoints if r.shape is not None},
            "paging": {r.endpoint: r.paging.result for r in self.endpoints if r.paging is not None},
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "signature_rule": self.signature_rule,
            "accepted_rule": self.accepted_rule,
            "stopped": self.stopped,
            "auth": self.auth.as_dict() if self.auth else None,
            "refused": self.refused.as_dict() if self.refused else None,
            "rule_search": [a.as_dict() for a in self.rule_search],
            "endpoints": [r.as_dict() for r in self.endpoints],
            "endpoint_overrides": self.overrides,
            "missing": self.missing,
            "exit_code": self.exit_code,
        }


def select_endpoints(names: Iterable[str] | None, *, include_writes: bool) -> list[Endpoint]:
    """The endpoints to probe, :data:`FIRST_PROBE` first; unknown names fail before any call."""
    if names:
        chosen = []
        for name in names:
            if name not in CATALOGUE:
                raise XportcnValidationError(
                    f"Unknown endpoint {name!r} in --endpoints. Valid names: {', '.join(ENDPOINT_NAMES)}.",
                    parameter="endpoints",
                )
            chosen.append(CATALOGUE[name])
        writes = [e.name for e in chosen if not e.read_only]
        if writes and not include_writes:
            raise XportcnValidationError(
                f"{', '.join(writes)} change(s) data on the server: probing them needs "
                "--include-writes (each then gets only an empty body that the server must refuse).",
                parameter="endpoints",
            )
    else:
        chosen = [e for e in CATALOGUE.values() if e.read_only or include_writes]
    chosen.sort(key=lambda e: (e.name != FIRST_PROBE, not e.read_only))
    return chosen


class ContractChecker:
    """Runs the probes through a real :class:`XportcnClient` (no retries, short timeout)."""

    def __init__(
        self,
        credentials: Credentials,
        settings: ClientSettings,
        *,
        delay: float = DEFAULT_DELAY,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise XportcnValidationError(f"delay must be a number of seconds >= 0, got {delay!r}.")
        self.credentials = credentials
        self.settings = replace(settings, max_retries=0, timeout=min(settings.timeout, MAX_PROBE_TIMEOUT))
        self.delay = float(delay)
        self.sleep = sleep
        self.clock = clock
        self._calls = 0

    # --- one call ----------------------------------------------------------------------------
    def _call(
        self, endpoint: Endpoint, path: str, body: Mapping[str, Any] | None, *, rule: str | None = None
    ) -> tuple[Attempt, Envelope | None]:
        if self._calls:
            self.sleep(self.delay)
        self._calls += 1
        overrides = {**self.settings.endpoint_overrides, endpoint.name: path}
        settings = replace(
            self.settings,
            endpoint_overrides=overrides,
            signature_rule=rule or self.settings.signature_rule,
        )
        client = XportcnClient(self.credentials, settings)
        started = self.clock()
        error: XportcnError | None = None
        envelope: Envelope | None = None
        try:
            envelope = client.call_envelope(endpoint.name, body)
        except XportcnValidationError:
            raise
        except XportcnError as err:
            error = err
        finally:
            client.close()
        ms = round((self.clock() - started) * 1000, 1)
        result = classify(error)
        attempt = Attempt(
            endpoint=endpoint.name,
            path=path,
            result=result,
            ms=ms,
            http_status=error.http_status if error else 200,
            code=error.code if error else envelope.code if envelope else None,
            msg=(error.msg or error.message) if error else None,
            request_id=error.request_id if error else envelope.request_id if envelope else None,
            rule=rule,
            auth_cause=auth_cause(error) if error is not None and result == "auth" else None,
        )
        return attempt, envelope

    # --- the run -------------------------------------------------------------------------------
    def run(self, endpoints: Sequence[Endpoint]) -> CheckReport:
        report = CheckReport(
            base_url=self.settings.base_url,
            signature_rule=self.settings.signature_rule,
            current_overrides=dict(self.settings.endpoint_overrides),
        )
        errors_in_a_row = 0
        for endpoint in endpoints:
            entry = self._probe(endpoint, report)
            if report.stopped is not None:
                break
            errors_in_a_row = errors_in_a_row + 1 if entry.result == "error" else 0
            if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                report.stopped = (
                    f"{errors_in_a_row} probes in a row failed in transport (last: "
                    f"{entry.attempts[0].msg}); the service looks unreachable from here"
                )
                break
        return report

    def _probe(self, endpoint: Endpoint, report: CheckReport) -> EndpointReport:
        overrides = self.settings.endpoint_overrides
        expected = overrides.get(endpoint.name, endpoint.path)
        entry = EndpointReport(endpoint.name, endpoint.confidence, endpoint.method, expected)
        report.endpoints.append(entry)
        body = probe_body(endpoint)
        rule = report.accepted_rule
        attempt, envelope = self._call(endpoint, expected, body, rule=rule)
        entry.attempts.append(attempt)
        if attempt.result == "auth":
            searchable = attempt.auth_cause in ("signature", "clock")
            if searchable and report.accepted_rule is None and not report.rule_search:
                found = self._search_rule(
                    endpoint, expected, body, report, clock=attempt.auth_cause == "clock"
                )
                if found is not None:
                    report.refused = attempt
                    attempt, envelope = found
                    entry.attempts[:] = [attempt]
            if attempt.result == "auth":
                report.auth = attempt
                report.stopped = f"authentication refused ({AUTH_ADVICE[attempt.auth_cause or 'other']})"
                return entry
        if attempt.result == "ok":
            entry.found_at = expected
        elif attempt.result == "moved":
            candidates = [p for p in (endpoint.path, *endpoint.alternates) if p != expected]
            for path in dict.fromkeys(candidates):
                alt, alt_envelope = self._call(endpoint, path, body, rule=report.accepted_rule)
                entry.attempts.append(alt)
                if alt.result == "ok":
                    entry.found_at, envelope = path, alt_envelope
                    break
        if envelope is not None and envelope.ok:
            entry.shape = shape_of(envelope.data)
            if endpoint.paginated and entry.found_at is not None:
                entry.paging = self._paging(endpoint, entry.found_at, body or {}, envelope, report)
        return entry

    def _search_rule(
        self,
        endpoint: Endpoint,
        path: str,
        body: Mapping[str, Any] | None,
        report: CheckReport,
        *,
        clock: bool = False,
    ) -> tuple[Attempt, Envelope | None] | None:
        """Try each other signature rule once on this endpoint; the first not refused wins.

        After a timestamp refusal (``clock``) only the rules with the other timestamp unit are
        tried (a service that wants milliseconds refuses seconds as a bad timestamp); if none is
        accepted, the clock really is the problem.
        """
        current = get_signature_rule(self.settings.signature_rule)
        for rule in SIGNATURE_RULE_NAMES:
            if rule == current.name:
                continue
            if clock and SIGNATURE_RULES[rule].timestamp_unit == current.timestamp_unit:
                continue
            attempt, envelope = self._call(endpoint, path, body, rule=rule)
            report.rule_search.append(attempt)
            if attempt.result != "auth":
                report.accepted_rule = rule
                return attempt, envelope
        return None

    def _paging(
        self,
        endpoint: Endpoint,
        path: str,
        body: Mapping[str, Any],
        first: Envelope,
        report: CheckReport,
    ) -> Paging:
        page_field, _ = page_param_names(endpoint)
        name = endpoint.name
        try:
            items1, total1 = page_items(first.data)
        except XportcnError as err:
            return Paging(name, "unknown", f"cannot find the items of a page: {err.message}")
        if len(items1) > 1:
            return Paging(name, "ignores_page_size", f"page 1 of size 1 held {len(items1)} items")
        if not items1:
            return Paging(name, "unknown", "page 1 is empty: nothing to page through")
        attempt, second = self._call(endpoint, path, {**body, page_field: 2}, rule=report.accepted_rule)
        if second is None or not second.ok:
            return Paging(name, "unknown", f"page 2 did not answer ({attempt.result}: {attempt.msg})")
        try:
            items2, total2 = page_items(second.data)
        except XportcnError as err:
            return Paging(name, "unknown", f"cannot find the items of page 2: {err.message}")
        if items2 and _same(items1, items2):
            return Paging(
                name,
                "repeats",
                f"page 2 repeats page 1: the service ignores {page_field!r}; paging would loop",
            )
        if total1 is not None and total2 is not None and total1 != total2:
            return Paging(name, "total_disagrees", f"total {total1} on page 1, {total2} on page 2")
        if total1 is not None and total1 >= 2 and not items2:
            return Paging(name, "total_disagrees", f"total {total1} but page 2 is empty")
        if total1 is not None and total1 <= 1 and items2:
            return Paging(name, "total_disagrees", f"total {total1} but page 2 has items")
        if not items2:
            return Paging(name, "unknown", "only one item: a second page cannot be told apart")
        return Paging(name, "ok", "page 2 holds another item" + (f"; total {total1}" if total1 else ""))


def _same(a: list[Any], b: list[Any]) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


# --- records -------------------------------------------------------------------------------------


def load_record(text: str) -> dict[str, Any]:
    """A ``--record`` document, checked enough to compare it."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise XportcnValidationError(f"the record is not JSON: {err}", parameter="compare") from None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != RECORD_FORMAT
        or not isinstance(doc.get("shapes"), dict)
    ):
        raise XportcnValidationError(
            f"not an `airflow xportcn check --record` file (format {RECORD_FORMAT!r} with 'shapes')",
            parameter="compare",
        )
    return doc


def compare_record(record: Mapping[str, Any]) -> dict[str, list[Difference]]:
    """Per recorded endpoint, how its real shape differs from the assumed one (only differing ones)."""
    out: dict[str, list[Difference]] = {}
    for name, shape in sorted(record["shapes"].items()):
        if name not in ASSUMED_SHAPES:
            continue
        differences = compare(ASSUMED_SHAPES[name], shape)
        if differences:
            out[name] = differences
    return out
