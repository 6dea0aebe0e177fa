"""A plain Xportcn client, sync (``requests``) and async (``aiohttp``), with no Airflow in it.

The hook turns an Airflow connection into a :class:`XportcnClient`; the status trigger uses
:class:`AsyncXportcnClient`; benchmarks and the sandbox's own tests use either directly. Both
share :func:`prepare_call` (signing, path resolution, query signature), :func:`interpret_response`
(the envelope rules) and :func:`retry_kwargs` (one tenacity policy), so sync and async behave
the same by construction.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
import tenacity
import urllib3

from xportcn_provider import __version__
from xportcn_provider.api import readback
from xportcn_provider.api.endpoints import RETRY_RULES, Endpoint, resolve, validate_overrides
from xportcn_provider.api.envelope import Envelope, interpret_response, retry_after_of
from xportcn_provider.api.errors import (
    SUCCESS_CODE,
    XportcnError,
    XportcnOutcomeUnknownError,
    XportcnProtocolError,
    XportcnTimeoutError,
    XportcnTransientError,
    XportcnValidationError,
)
from xportcn_provider.api.signing import (
    DEFAULT_SIGNATURE_RULE,
    UnknownSignatureRuleError,
    current_timestamp,
    get_signature_rule,
    new_nonce,
    query_signature_params,
    signed_headers,
)
from xportcn_provider.api.transport import describe_failure, is_tls_failure, safe_url
from xportcn_provider.api.verify import VERIFIERS, Lookup, arun_lookup, caller_key, run_lookup

if TYPE_CHECKING:  # imported where used: DAG files import this module, and aiohttp costs ~60 ms
    import aiohttp

DEFAULT_BASE_URL = "https://www.xportcn.com/api"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
#: Ten keep-alive sockets serve thousands of waits polling every few seconds (``make bench``) and
#: keep the load on Xportcn polite; ``MAX_CONNECTIONS_LIMIT`` stops a typo from opening thousands.
DEFAULT_MAX_CONNECTIONS = 10
MAX_CONNECTIONS_LIMIT = 100
USER_AGENT = f"airflow-provider-xportcn/{__version__}"
#: ``msg`` of an answer that a look-up produced after the real answer was lost (defined beside
#: the read-back rules, which skip reading back what such a look-up already read).
VERIFIED_MSG = readback.VERIFIED_MSG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credentials:
    """Access key, secret and user id; the secret is kept out of ``repr``."""

    access_key: str
    access_secret: str = field(repr=False)
    user_id: str

    def __post_init__(self) -> None:
        for name in ("access_key", "access_secret", "user_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise XportcnValidationError(
                    f"Xportcn credentials: {name} is missing or empty.", parameter=name
                )


@dataclass(frozen=True)
class ClientSettings:
    """Everything about *how* calls are made; the hook fills it from the connection extra."""

    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    endpoint_overrides: Mapping[str, str] = field(default_factory=dict)
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0
    #: Sockets the async side keeps to the server per (connection, event loop); requests beyond
    #: it wait, unsigned, for a free one (see ``AsyncXportcnClient``).
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: How the ``signature`` header is computed (a name in ``signing.SIGNATURE_RULES``).
    signature_rule: str = DEFAULT_SIGNATURE_RULE
    #: After a write's answer is lost and its look-up finds nothing, wait this long and look once
    #: more before sending again (a service may show a new object a moment late).
    verify_settle: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise XportcnValidationError(
                "base_url (the connection's host) must start with http:// or https://, "
                f"got {self.base_url!r}.",
                parameter="host",
            )
        if not _positive_number(self.timeout):
            raise XportcnValidationError(
                f"timeout must be a positive number of seconds, got {self.timeout!r}.", parameter="timeout"
            )
        if (
            not isinstance(self.max_retries, int)
            or isinstance(self.max_retries, bool)
            or self.max_retries < 0
        ):
            raise XportcnValidationError(
                f"max_retries must be a whole number >= 0, got {self.max_retries!r}.", parameter="max_retries"
            )
        if (
            not isinstance(self.max_connections, int)
            or isinstance(self.max_connections, bool)
            or not 1 <= self.max_connections <= MAX_CONNECTIONS_LIMIT
        ):
            raise XportcnValidationError(
                f"max_connections must be a whole number from 1 to {MAX_CONNECTIONS_LIMIT}, "
                f"got {self.max_connections!r}.",
                parameter="max_connections",
            )
        object.__setattr__(self, "endpoint_overrides", validate_overrides(self.endpoint_overrides))
        try:
            rule = get_signature_rule(self.signature_rule)
        except UnknownSignatureRuleError as err:
            raise XportcnValidationError(str(err), parameter="signature_rule") from None
        object.__setattr__(self, "signature_rule", rule.name)
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))


def _positive_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class PreparedCall:
    """One signed attempt, ready for any HTTP library."""

    endpoint: Endpoint
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes | None


def prepare_call(
    credentials: Credentials,
    settings: ClientSettings,
    name: str,
    payload: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    clock: Callable[[], str] = current_timestamp,
    nonce_factory: Callable[[], str] = new_nonce,
) -> PreparedCall:
    """Sign and address one attempt of ``name`` (a fresh nonce and timestamp every time)."""
    endpoint = resolve(name, settings.endpoint_overrides)
    if payload is not None and not isinstance(payload, Mapping):
        raise XportcnValidationError(
            f"payload for {name} must be a mapping (JSON object), got {type(payload).__name__}.",
            parameter="payload",
            endpoint=name,
        )
    headers = signed_headers(
        credentials.access_key,
        credentials.access_secret,
        credentials.user_id,
        clock=clock,
        nonce_factory=nonce_factory,
        rule=settings.signature_rule,
    )
    headers["User-Agent"] = USER_AGENT
    query: dict[str, str] = {str(k): str(v) for k, v in (params or {}).items()}
    if endpoint.query_signed:
        query.update(query_signature_params(headers))
    body: bytes | None = None
    if endpoint.method == "POST":
        headers["Content-Type"] = "application/json"
        try:
            body = json.dumps(dict(payload or {}), ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise XportcnValidationError(
                f"payload for {name} is not JSON-serialisable: {exc}", parameter="payload", endpoint=name
            ) from None
    elif payload:
        query.update({str(k): str(v) for k, v in payload.items()})
    return PreparedCall(endpoint, endpoint.method, settings.base_url + endpoint.path, headers, query, body)


# --- retries ----------------------------------------------------------------------------------


def is_retryable(error: BaseException) -> bool:
    """Transient failures only: connection errors, timeouts, 5xx, 429 (HTTP or envelope)."""
    return isinstance(error, XportcnError) and error.retryable


class _BackoffWithRetryAfter(tenacity.wait.wait_base):
    """Exponential backoff with full jitter and a cap; a server's ``Retry-After`` wins."""

    def __init__(self, initial: float, maximum: float, retry_after_max: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.retry_after_max = retry_after_max

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        hint = retry_after_of(error) if error is not None else None
        if hint is not None:
            return min(hint, self.retry_after_max)
        ceiling = min(self.maximum, self.initial * (2 ** (retry_state.attempt_number - 1)))
        return random.uniform(ceiling / 2, ceiling)


def retry_kwargs(
    settings: ClientSettings,
    name: str,
    logger: logging.Logger | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> dict[str, Any]:
    """One tenacity policy for sync and async calls (pass to ``Retrying``/``AsyncRetrying``)."""
    logger = logger or log
    attempts = settings.max_retries + 1

    def _log_retry(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "Xportcn %s: attempt %d/%d failed (%s); retrying in %.2fs. %s",
            name,
            state.attempt_number,
            attempts,
            type(error).__name__,
            wait,
            error,
        )

    kwargs: dict[str, Any] = {
        "stop": tenacity.stop_after_attempt(attempts),
        "wait": _BackoffWithRetryAfter(
            settings.backoff_initial, settings.backoff_max, settings.retry_after_max
        ),
        "retry": tenacity.retry_if_exception(is_retryable),
        "before_sleep": _log_retry,
        "reraise": True,
    }
    if sleep is not None:
        kwargs["sleep"] = sleep
    return kwargs


# --- reading a body within a deadline -------------------------------------------------------------

#: Bytes read at a time while checking an attempt's total deadline.
_BODY_CHUNK = 64 * 1024


def read_body_within(response: requests.Response, deadline: float, name: str, timeout: float) -> bytes:
    """The whole body, or :class:`XportcnTimeoutError` once ``deadline`` (monotonic) has passed.

    ``requests``' ``timeout`` bounds each socket read, not the answer: a server that trickles a
    few bytes a second would hold the call for ever. Reading in pieces and checking the clock
    between them makes ``timeout`` a deadline for the whole attempt (give or take one read).
    The connection is closed when the deadline cuts the body short.
    """
    pieces: list[bytes] = []
    raw = response.raw
    try:
        while True:
            # ``read1`` returns what has arrived (``iter_content`` would wait for a full chunk).
            piece = raw.read1(_BODY_CHUNK, decode_content=True)
            if not piece:
                break
            pieces.append(piece)
            if time.monotonic() > deadline:
                raise XportcnTimeoutError(
                    f"Xportcn {name}: the answer did not arrive completely within {timeout:g}s "
                    "(the server sent its body too slowly).",
                    endpoint=name,
                )
    except urllib3.exceptions.ReadTimeoutError:
        response.close()
        raise XportcnTimeoutError(
            f"Xportcn {name} did not answer within {timeout:g}s.", endpoint=name
        ) from None
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError) as exc:
        response.close()
        raise XportcnTransientError(
            f"Xportcn {name}: connection dropped while the answer was read ({type(exc).__name__}).",
            endpoint=name,
        ) from None
    except BaseException:
        response.close()
        raise
    body = b"".join(pieces)
    # Hand the body to requests as if it had read it, so the connection goes back to the pool.
    response._content = body
    setattr(response, "_content_consumed", True)  # noqa: B010 - no public way to say "read"
    raw.release_conn()
    return body


# --- pagination -------------------------------------------------------------------------------

_LIST_KEYS = ("list", "records", "items", "result", "rows", "data")


_TOTAL_KEYS = ("total", "totalCount", "totalRecord")


def page_items(data: Any, *, endpoint: str | None = None) -> tuple[list[Any], int | None]:
    """The items of one page and the total when the server gives it (list shapes vary).

    An empty page comes in several spellings and all mean "no rows": ``data: null``, ``[]``,
    ``{"list": null, "total": 0}`` or an object without any list key. A ``total`` that is not a
    whole number is ``None`` (unknown). Anything else (a string, a number) is not a list page: an
    :class:`XportcnProtocolError` naming ``endpoint``.
    """
    if data is None:
        return [], 0
    if isinstance(data, list):
        return data, None
    if isinstance(data, Mapping):
        total = next((data[key] for key in _TOTAL_KEYS if key in data), None)
        count = int(total) if isinstance(total, int | str) and str(total).strip().isdigit() else None
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                return list(data[key]), count
        if all(data.get(key) is None for key in _LIST_KEYS) and not count:
            return [], count  # {"list": null, "total": 0}: an empty page
        raise XportcnProtocolError(
            f"Xportcn {endpoint or 'list'}: the page says total {total!r} but has no list of rows "
            f"under any of {', '.join(_LIST_KEYS)} (keys: {', '.join(sorted(map(str, data)))}).",
            endpoint=endpoint,
        )
    raise XportcnProtocolError(
        f"Xportcn {endpoint or 'list'}: expected a list page, got {type(data).__name__} data.",
        endpoint=endpoint,
    )


def page_param_names(endpoint: Endpoint) -> tuple[str, str]:
    """The page-number and page-size field names of a paginated endpoint."""
    if "beginPage" in endpoint.fields:
        return "beginPage", "pageSize"
    return "pageNo", "pageSize"


# --- writes whose outcome is unknown ------------------------------------------------------------


def outcome_unknown(error: XportcnError) -> bool:
    """Whether a failed write may have been processed: a transient failure that does not prove
    otherwise, or a 2xx answer whose body could not be read (the server may have acted on it)."""
    return (error.retryable or isinstance(error, XportcnProtocolError)) and not error.not_processed


def _connect_failed(exc: BaseException) -> bool:
    """Whether a ``requests`` connection error happened before the request left (nothing sent)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return False


def _connect_reason(exc: BaseException, base_url: str) -> str:
    """Where and why, in words (``api/transport.py``): the URL, refused/DNS/timeout/TLS, the fix."""
    return f"{safe_url(base_url)}: {describe_failure(exc, base_url)}"


class SettlePlan:
    """What a client does with one write whose answer was lost (shared by sync and async)."""

    def __init__(
        self,
        client: _ClientBase,
        name: str,
        payload: Mapping[str, Any] | None,
        lost: XportcnError,
        sent_at: float,
    ) -> None:
        self.client = client
        self.name = name
        self.body: Mapping[str, Any] = payload or {}
        self.lost = lost
        self.sent_at = sent_at
        self.rule, self.why = RETRY_RULES[name]
        self.key = caller_key(name, self.body)

    def _unknown(self, detail: str) -> XportcnOutcomeUnknownError:
        keys = ", ".join(f"{k}={v}" for k, v in self.key.items()) or "no caller key"
        return XportcnOutcomeUnknownError(
            f"Xportcn {self.name}: the request was sent but its answer was lost "
            f"[{self.lost.message.rstrip('.')}]. {detail} It was NOT sent again, so nothing is done "
            f"twice. Check {keys}: {self.why}.",
            key=self.key,
            check=self.why,
            cause=self.lost.message,
            endpoint=self.name,
            http_status=self.lost.http_status,
            code=self.lost.code,
            request_id=self.lost.request_id,
        )

    def lookup(self) -> Lookup:
        if self.rule != "verify":
            raise self._unknown("This endpoint has no look-up to tell whether it was processed.")
        return VERIFIERS[self.name](self.body, self.sent_at)

    def cannot_verify(self, err: XportcnError) -> XportcnOutcomeUnknownError:
        return self._unknown(f"The look-up that would tell could not decide: {err.message}")

    def found(self, data: Any) -> Envelope:
        self.client.log.warning(
            "Xportcn %s: the answer was lost (%s); the look-up found the result, so it is not sent again.",
            self.name,
            self.lost.message,
        )
        return Envelope(code=SUCCESS_CODE, msg=VERIFIED_MSG, data=data, request_id=None, develop_id=None)

    def not_there(self) -> XportcnError:
        """The look-up proved the write was not processed: the error becomes safe to resend.

        A broken answer (protocol error) is raised as it is: it is never retried, reads included.
        """
        if not self.lost.retryable:
            return self.lost
        self.client.log.warning(
            "Xportcn %s: the answer was lost (%s) and the look-up finds nothing; sending it again.",
            self.name,
            self.lost.message,
        )
        return XportcnTransientError(
            f"{self.lost.message} (the look-up found nothing: not processed)",
            not_processed=True,
            endpoint=self.name,
            http_status=self.lost.http_status,
            code=self.lost.code,
            request_id=self.lost.request_id,
        )


# --- the clients ------------------------------------------------------------------------------


class _ClientBase:
    """What both clients share: credentials, settings, logging and the test seams."""

    def __init__(
        self,
        credentials: Credentials,
        settings: ClientSettings | None,
        logger: logging.Logger | None,
        clock: Callable[[], str],
        nonce_factory: Callable[[], str],
        sleep: Callable[[float], Any] | None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings or ClientSettings()
        self.log = logger or log
        self.clock = clock
        self.nonce_factory = nonce_factory
        self.sleep = sleep

    def __repr__(self) -> str:
        base, key = self.settings.base_url, self.credentials.access_key
        return f"{type(self).__name__}(base_url={base!r}, access_key={key!r})"

    def _prepare(
        self, name: str, payload: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> PreparedCall:
        """One freshly signed attempt (a new nonce and timestamp every time)."""
        return prepare_call(
            self.credentials,
            self.settings,
            name,
            payload,
            params,
            clock=self.clock,
            nonce_factory=self.nonce_factory,
        )


class XportcnClient(_ClientBase):
    """Blocking client: one keep-alive ``requests.Session``, every attempt freshly signed."""

    def __init__(
        self,
        credentials: Credentials,
        settings: ClientSettings | None = None,
        *,
        session: requests.Session | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], str] = current_timestamp,
        nonce_factory: Callable[[], str] = new_nonce,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        super().__init__(credentials, settings, logger, clock, nonce_factory, sleep)
        self.session = session or requests.Session()
        self.last_envelope: Envelope | None = None

    def close(self) -> None:
        self.session.close()

    def call_envelope(
        self, name: str, payload: Mapping[str, Any] | None = None, *, params: Mapping[str, Any] | None = None
    ) -> Envelope:
        """Call ``name`` with retries and return the whole successful envelope.

        Reads are resent after any transient failure. A write is resent only after a failure that
        proves it was not processed; after one whose outcome is unknown, its rule decides
        (``endpoints.RETRY_RULES``): look the object up and answer with it, or raise
        :class:`XportcnOutcomeUnknownError` — never a blind resend.
        """
        endpoint = resolve(name, self.settings.endpoint_overrides)  # unknown names fail before any I/O
        sent_at = time.time()

        def one_attempt() -> Envelope:
            if endpoint.retry == "always":
                return self._attempt(name, payload, params)
            try:
                return self._attempt(name, payload, params)
            except XportcnError as err:
                if err.not_processed or not outcome_unknown(err):
                    raise
                return self._settle(name, payload, err, sent_at)

        try:  # the first attempt outside tenacity: most calls succeed and pay nothing for retries
            envelope = one_attempt()
        except XportcnError as first:
            if not is_retryable(first) or self.settings.max_retries == 0:
                raise
            pending = [first]

            def attempt() -> Envelope:
                if pending:  # replay the first failure so tenacity counts, logs and waits for it
                    raise pending.pop()
                return one_attempt()

            envelope = tenacity.Retrying(**retry_kwargs(self.settings, name, self.log, self.sleep))(attempt)
        self.last_envelope = envelope
        return envelope

    def _settle(
        self, name: str, payload: Mapping[str, Any] | None, lost: XportcnError, sent_at: float
    ) -> Envelope:
        """A write's answer was lost: find out what happened before anything is sent again."""
        plan = SettlePlan(self, name, payload, lost, sent_at)
        for look in range(2):
            lookup = plan.lookup()
            try:
                found = run_lookup(lookup, self.call)
            except XportcnError as err:
                raise plan.cannot_verify(err) from None
            if found is not None:
                return plan.found(found)
            if look == 0 and self.settings.verify_settle > 0:
                (self.sleep or time.sleep)(self.settings.verify_settle)
        raise plan.not_there()

    def call(
        self, name: str, payload: Mapping[str, Any] | None = None, *, params: Mapping[str, Any] | None = None
    ) -> Any:
        """Call ``name`` and return the envelope's ``data`` (or raise a typed error)."""
        return self.call_envelope(name, payload, params=params).data

    def _attempt(
        self, name: str, payload: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> Envelope:
        call = self._prepare(name, payload, params)
        deadline = time.monotonic() + self.settings.timeout
        try:
            response = self.session.request(
                call.method,
                call.url,
                headers=call.headers,
                params=call.params or None,
                data=call.body,
                timeout=self.settings.timeout,
                stream=True,
            )
            body = read_body_within(response, deadline, name, self.settings.timeout)
        except requests.ConnectTimeout:  # before ``requests.Timeout``: nothing was sent
            raise XportcnTimeoutError(
                f"Xportcn {name}: could not connect within {self.settings.timeout:g}s to "
                f"{safe_url(self.settings.base_url)} (nothing was sent).",
                endpoint=name,
                not_processed=True,
            ) from None
        except requests.Timeout:
            raise XportcnTimeoutError(
                f"Xportcn {name} at {safe_url(self.settings.base_url)} did not answer within "
                f"{self.settings.timeout:g}s.",
                endpoint=name,
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            if _connect_failed(exc):
                raise XportcnTransientError(
                    f"Xportcn {name}: could not connect to {_connect_reason(exc, self.settings.base_url)} "
                    "(nothing was sent).",
                    endpoint=name,
                    not_processed=True,
                ) from None
            if is_tls_failure(exc):  # the handshake failed: name the cause and the fix
                raise XportcnTransientError(
                    f"Xportcn {name}: could not connect to {_connect_reason(exc, self.settings.base_url)}.",
                    endpoint=name,
                ) from None
            raise XportcnTransientError(
                f"Xportcn {name}: connection dropped after the request was sent "
                f"({_connect_reason(exc, self.settings.base_url)}; {type(exc).__name__}).",
                endpoint=name,
            ) from None
        return interpret_response(
            endpoint=name,
            http_status=response.status_code,
            body=body,
            retry_after=response.headers.get("Retry-After"),
        )

    def paginate(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        page_size: int = 50,
        start_page: int = 1,
        max_pages: int | None = None,
    ) -> Iterator[Any]:
        """Yield every item of a list endpoint, one page in memory at a time.

        Fails closed against a service that pages differently from what we assume (issue 11):

        * a page shorter than asked is only the end when the ``total`` agrees. A first page
          shorter than ``page_size`` while more rows exist (the server caps ``pageSize``) switches
          to that size, so page numbers keep meaning the same rows; without a total, a short first
          page is confirmed by reading the next page (one extra call);
        * ``total: 0`` next to rows is ignored (an unreliable total, not "no rows");
        * a page identical to the one before (the server ignores our page field) raises
          :class:`XportcnProtocolError` naming the page field and the endpoint — never a loop, never
          the same rows twice;
        * paging that ends before the server's ``total`` raises :class:`XportcnProtocolError`
          (rows would be missing). Rows added while paging (``total`` grows) are fine.
        """
        endpoint = resolve(name, self.settings.endpoint_overrides)
        if not endpoint.paginated:
            raise XportcnValidationError(f"{name} is not a paginated list endpoint.", parameter="endpoint")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise XportcnValidationError(
                f"page_size must be a whole number >= 1, got {page_size!r}.", parameter="page_size"
            )
        page_field, size_field = page_param_names(endpoint)
        page, seen, size = start_page, 0, page_size
        declared: int | None = None
        previous: list[Any] | None = None
        while max_pages is None or page - start_page < max_pages:
            body = {**(payload or {}), page_field: page, size_field: size}
            items, total = page_items(self.call(name, body), endpoint=name)
            if items and previous is not None and items == previous:
                raise XportcnProtocolError(
                    f"Xportcn {name}: page {page} repeats page {page - 1} item for item; the service "
                    f"seems to ignore the page field {page_field!r}. Stopped instead of looping or "
                    "writing the same rows twice.",
                    endpoint=name,
                )
            if total is not None and (total > 0 or not items):
                declared = total
            yield from items
            seen += len(items)
            if not items:
                break
            if declared is not None and seen >= declared:
                return
            if len(items) < size:
                if page != start_page:
                    break  # a short later page: the end (checked against the total below)
                # A short first page: the end, or a server that serves fewer rows than asked.
                size = len(items)
            previous = items
            page += 1
        if declared is not None and seen < declared and (max_pages is None or page - start_page < max_pages):
            raise XportcnProtocolError(
                f"Xportcn {name}: paging ended after {seen} row(s) but the service said total "
                f"{declared}; rows would be missing (page field {page_field!r}, size field "
                f"{size_field!r}, last page {page}).",
                endpoint=name,
            )


class AsyncXportcnClient(_ClientBase):
    """Non-blocking client on a pooled ``aiohttp.ClientSession``; share one session across callers.

    ``session`` is borrowed, never closed here (the hook lends the loop's shared session, see
    :mod:`xportcn_provider.hooks.async_client`); without one the client opens its own on first use
    and :meth:`aclose` closes it. ``gate`` bounds the requests in flight at once and must be the
    same object for every client of one session, sized to its connection limit: a request waits
    on the gate *unsigned* and is signed only once it holds a slot, so however long it queued its
    timestamp is fresh when it leaves (the server rejects one more than 600 s old).
    """

    def __init__(
        self,
        credentials: Credentials,
        settings: ClientSettings | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], str] = current_timestamp,
        nonce_factory: Callable[[], str] = new_nonce,
        sleep: Callable[[float], Any] | None = None,
        gate: asyncio.Semaphore | None = None,
    ) -> None:
        super().__init__(credentials, settings, logger, clock, nonce_factory, sleep)
        self._owns_session = session is None
        self._session = session
        #: At most this many requests between signing and their answer (see the class docstring).
        self.gate = gate if gate is not None else asyncio.Semaphore(self.settings.max_connections)
        self.timeout = attempt_timeout(self.settings)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through (opened on first use when none was lent)."""
        if self._session is None:
            self._session = new_session(self.settings)
        return self._session

    async def aclose(self) -> None:
        """Close the session if this client opened it; a lent session stays with its owner."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def call_envelope(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> Envelope:
        """Call ``name`` (with the shared retry policy unless ``retry=False``).

        The same rules as :meth:`XportcnClient.call_envelope`: a write whose outcome is unknown is
        looked up (the same look-ups, driven asynchronously) or refused, never resent blindly.
        """
        endpoint = resolve(name, self.settings.endpoint_overrides)
        sent_at = time.time()

        async def one_attempt() -> Envelope:
            if endpoint.retry == "always":
                return await self._attempt(name, payload, params)
            try:
                return await self._attempt(name, payload, params)
            except XportcnError as err:
                if err.not_processed or not outcome_unknown(err):
                    raise
                return await self._settle(name, payload, err, sent_at)

        if not retry:
            return await one_attempt()
        try:  # the first attempt outside tenacity, as in the sync client
            return await one_attempt()
        except XportcnError as first:
            if not is_retryable(first) or self.settings.max_retries == 0:
                raise
            pending: list[XportcnError] = [first]
        kwargs = retry_kwargs(
            self.settings, name, self.log, self._async_sleep if self.sleep is not None else None
        )
        async for attempt in tenacity.AsyncRetrying(**kwargs):
            with attempt:
                if pending:  # replay the first failure so tenacity counts, logs and waits for it
                    raise pending.pop()
                return await one_attempt()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _settle(
        self, name: str, payload: Mapping[str, Any] | None, lost: XportcnError, sent_at: float
    ) -> Envelope:
        """The async twin of :meth:`XportcnClient._settle` (same plan, same look-ups)."""
        plan = SettlePlan(self, name, payload, lost, sent_at)
        for look in range(2):
            lookup = plan.lookup()
            try:
                found = await arun_lookup(lookup, self.call)
            except XportcnError as err:
                raise plan.cannot_verify(err) from None
            if found is not None:
                return plan.found(found)
            if look == 0 and self.settings.verify_settle > 0:
                if self.sleep is not None:
                    await self._async_sleep(self.settings.verify_settle)
                else:
                    await asyncio.sleep(self.settings.verify_settle)
        raise plan.not_there()

    async def _async_sleep(self, seconds: float) -> None:
        # tenacity awaits whatever ``sleep`` returns: accept a plain function as well as a coroutine
        # function, like the sync client does.
        assert self.sleep is not None
        result = self.sleep(seconds)
        if inspect.isawaitable(result):
            await result

    async def call(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> Any:
        return (await self.call_envelope(name, payload, params=params, retry=retry)).data

    async def _attempt(
        self, name: str, payload: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> Envelope:
        import aiohttp  # loaded once the async side is used (see the module's imports)

        session = self.session
        async with self.gate:
            # Signed here, after any wait for a slot, so the timestamp is as fresh as the request.
            call = self._prepare(name, payload, params)
            try:
                async with session.request(
                    call.method,
                    call.url,
                    headers=call.headers,
                    params=call.params or None,
                    data=call.body,
                    timeout=self.timeout,
                ) as response:
                    body = await response.read()
                    http_status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise transport_error(name, exc, self.settings.timeout, self.settings.base_url) from None
        return interpret_response(endpoint=name, http_status=http_status, body=body, retry_after=retry_after)


def new_session(settings: ClientSettings) -> aiohttp.ClientSession:
    """A pooled session for one server: ``max_connections`` keep-alive sockets, DNS cached.

    Every attempt passes its own timeout, so the session's own is only a backstop. Must be called
    with the event loop running (aiohttp binds the session to it).
    """
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=settings.max_connections,
        limit_per_host=settings.max_connections,
        use_dns_cache=True,
        ttl_dns_cache=300,
        keepalive_timeout=30.0,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=attempt_timeout(settings),
        headers={"User-Agent": USER_AGENT},
        # Every call is signed on its own: no cookie carried from one unrelated call to the next.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def attempt_timeout(settings: ClientSettings) -> aiohttp.ClientTimeout:
    """One attempt's limits: ``timeout`` to connect, and about ``timeout`` for the whole attempt.

    The connect has its own limit so that a connect that times out is told apart (it proves
    nothing was sent: ``not_processed``); ``total`` (10 % above it, so it never pre-empts the
    connect limit) bounds everything else, body included, so a trickling answer cannot hold a
    call for ever. No per-read timer: re-arming one on every chunk costs CPU on every poll.
    """
    import aiohttp

    return aiohttp.ClientTimeout(total=settings.timeout * 1.1, sock_connect=settings.timeout)


def transport_error(
    name: str, exc: BaseException, timeout: float, base_url: str = ""
) -> XportcnTransientError:
    """The typed error for an aiohttp failure; aiohttp's own exceptions never leave the client.

    ``not_processed=True`` only where the failure proves nothing was sent: the connection could not
    be made (refused, DNS, TLS handshake) or its connect timed out. Anything later — a read
    timeout, a disconnect, a cut body — may have reached the server, so it stays ``False``.
    """
    import aiohttp

    kind = type(exc).__name__
    # Where and why in words (api/transport.py), the same as the sync client's.
    where = f" to {safe_url(base_url)}" if base_url else ""
    why = f"{safe_url(base_url)}: {describe_failure(exc, base_url)}" if base_url else kind
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return XportcnTimeoutError(
            f"Xportcn {name}: could not connect within {timeout:g}s{where} (nothing was sent).",
            endpoint=name,
            not_processed=True,
        )
    if isinstance(exc, TimeoutError):  # aiohttp.ServerTimeoutError (a read) is one too
        at = f" at {safe_url(base_url)}" if base_url else ""
        return XportcnTimeoutError(f"Xportcn {name}{at} did not answer within {timeout:g}s.", endpoint=name)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return XportcnTransientError(
            f"Xportcn {name}: could not connect ({why}; nothing was sent).",
            endpoint=name,
            not_processed=True,
        )
    return XportcnTransientError(f"Xportcn {name}: connection failed or dropped ({why}).", endpoint=name)
