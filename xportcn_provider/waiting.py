"""Waiting for a status: the rules shared by sensors, the status trigger and waiting operators.

A :class:`~xportcn_provider.api.waits.WaitSpec` says what a status *means*; this module says how
to *wait* for it, once, so a sensor poke, an operator's blocking wait and the async trigger agree
on what a failure, a timeout and a tolerable error are:

* :class:`PollState` is the bookkeeping of one wait (last record and status, consecutive errors,
  unknown statuses already logged). The trigger uses it too; it does no I/O.
* :func:`is_tolerable` says which errors only delay a wait (transient, rate limit, a garbled
  body) and which end it (auth, business, not found).
* :func:`wait_sync` is the blocking wait used by operators with ``wait_for_completion=True``.
* :func:`event_result` turns a trigger event back into the record, or the matching exception.

Imports go one way: :mod:`xportcn_provider.triggers.status` builds on this module (and holds
``status_trigger_for``, which needs the trigger class); nothing here imports the trigger.

Failures raise :class:`XportcnWaitFailure` (an ``AirflowFailException``: retrying cannot undo a
closed refund or a cancelled order); timeouts raise :class:`XportcnWaitTimeout` (an
``AirflowSensorTimeout``: never retried, turned into a skip by ``soft_fail``); giving up on errors
raises :class:`XportcnWaitError` (an ``XportcnError``, so task retries apply).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from xportcn_provider.api import statuses as st
from xportcn_provider.api.errors import (
    XportcnError,
    XportcnNotFoundError,
    XportcnProtocolError,
    XportcnValidationError,
)
from xportcn_provider.api.waits import WaitResult, WaitSpec

DEFAULT_MAX_CONSECUTIVE_ERRORS = 5
DEFAULT_MAX_POLL_INTERVAL = 3600.0
EVENT_STATUSES = ("success", "failure", "timeout", "error")


#: A stdlib ``logging.Logger`` (operators, sensors) or a structlog logger (triggers): both take
#: ``info``/``warning`` with %-style arguments.
_Logger = Any


class _Caller(Protocol):
    def call(self, name: str, payload: Mapping[str, Any] | None = None) -> Any: ...


# --- exceptions ---------------------------------------------------------------------------------


class _WaitOutcomeMixin:
    """What every wait exception carries, so callers can act on it without parsing text."""

    def _set(self, status: str | None, ids: Mapping[str, Any], record: Any) -> None:
        self.status = status
        self.ids = dict(ids)
        self.record = record


class XportcnWaitFailure(_WaitOutcomeMixin, AirflowFailException):
    """The awaited object reached a failure status (e.g. ``refundclose``); never retried."""

    def __init__(self, message: str, *, status: str | None, ids: Mapping[str, Any], record: Any = None):
        super().__init__(message)
        self._set(status, ids, record)


class XportcnWaitTimeout(_WaitOutcomeMixin, AirflowSensorTimeout):
    """The target status was not reached in time; not retried (``soft_fail`` turns it into a skip)."""

    def __init__(self, message: str, *, status: str | None, ids: Mapping[str, Any], record: Any = None):
        super().__init__(message)
        self._set(status, ids, record)


class XportcnWaitError(_WaitOutcomeMixin, XportcnError):
    """The wait could not go on (auth refused, too many transient errors); task retries apply.

    Deliberately not an ``AirflowException``: Airflow's sensor machinery turns those into a skip
    under ``soft_fail`` when resuming from a deferral but not in poke mode; an error that is not an
    Airflow exception fails the task the same way in every mode.
    """

    def __init__(
        self,
        message: str,
        *,
        status: str | None,
        ids: Mapping[str, Any],
        record: Any = None,
        endpoint: str | None = None,
    ):
        self._set(status, ids, record)
        super().__init__(message, endpoint=endpoint)


# --- shared rules -------------------------------------------------------------------------------


def is_tolerable(error: BaseException) -> bool:
    """Whether ``error`` only delays a wait: the status read can simply be repeated later.

    Transient errors and rate limits (already retried inside the client) and protocol errors
    (an HTML error page or a truncated body from a proxy) are tolerated, because a status read is
    idempotent. Auth, clock, business and not-found errors will not heal by waiting.
    """
    if isinstance(error, XportcnValidationError):
        return False
    return isinstance(error, XportcnError) and (error.retryable or isinstance(error, XportcnProtocolError))


def check_max_consecutive_errors(value: object) -> int:
    """Validate ``max_consecutive_errors`` (a whole number >= 1) with a message naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise XportcnValidationError(
            f"max_consecutive_errors must be a whole number >= 1, got {value!r}.",
            parameter="max_consecutive_errors",
        )
    return value


def check_interval(value: object, parameter: str) -> float:
    """Validate a poll interval (seconds > 0)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise XportcnValidationError(
            f"{parameter} must be a positive number of seconds, got {value!r}.", parameter=parameter
        )
    return float(value)


def next_interval(current: float, *, exponential_backoff: bool, maximum: float) -> float:
    """The interval after a waiting poll: doubled with backoff, never above ``maximum``."""
    if not exponential_backoff:
        return current
    return min(current * 2, max(maximum, current))


@dataclass
class PollState:
    """Bookkeeping of one wait; fed with answers and errors, it decides what they mean."""

    spec: WaitSpec
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS
    consecutive_errors: int = 0
    polls: int = 0
    last_record: Any = None
    last_status: str | None = None
    last_error: str | None = None
    #: Reads that found nothing (not-found error, ``data: null``, no matching row).
    missing_reads: int = 0
    _unknown_logged: set[str] = field(default_factory=set)
    _logged_waiting: str | None = None

    def __post_init__(self) -> None:
        check_max_consecutive_errors(self.max_consecutive_errors)

    def observe(self, data: Any, log: _Logger) -> WaitResult:
        """Classify one answer; an unknown status is logged once per value, then waited through."""
        self.polls += 1
        self.consecutive_errors = 0
        self.last_error = None
        self.last_record = data
        result = self.spec.evaluate(data)
        if result.missing:
            return self._missing(result, log)
        if result.status is not None:
            self.last_status = result.status
        if result.outcome == "waiting":
            if not result.known:
                key = repr(result.raw_status)
                if key not in self._unknown_logged:
                    self._unknown_logged.add(key)
                    log.warning(
                        "Xportcn %s: %s; treating it as not done yet and waiting (logged once).",
                        self.spec.describe(),
                        result.reason,
                    )
            else:
                seen = result.status or result.reason
                if seen != self._logged_waiting:  # a line per change, not per poll: waits are long
                    self._logged_waiting = seen
                    log.info(
                        "Xportcn %s: %s, waiting for %s.",
                        self.spec.describe(),
                        seen,
                        self.targets_text(),
                    )
        return result

    def _in_grace(self) -> bool:
        """Whether one more "found nothing" may still be read lag (the object was never seen)."""
        return self.last_status is None and self.missing_reads <= self.spec.not_found_grace

    def _missing(self, result: WaitResult, log: _Logger) -> WaitResult:
        """An answer without the object: read lag within the grace, else a failure (wrong id)."""
        self.missing_reads += 1
        if self._in_grace():
            log.warning(
                "Xportcn %s: %s; it may not be readable yet right after its creation (read %d of at "
                "most %d allowed to find nothing), still waiting.",
                self.spec.describe(),
                result.reason,
                self.missing_reads,
                self.spec.not_found_grace,
            )
            return result
        return WaitResult(
            "failure",
            None,
            None,
            False,
            f"{result.reason}: no such object (wrong id?) after {self.missing_reads} read(s)",
        )

    def tolerate(self, error: BaseException, log: _Logger) -> bool:
        """Count an error; ``True`` to keep waiting, ``False`` when the wait must end with it."""
        self.polls += 1
        self.last_error = f"{type(error).__name__}: {error}"
        if isinstance(error, XportcnNotFoundError):
            self.missing_reads += 1
            if self._in_grace():
                log.warning(
                    "Xportcn %s: not found yet (%s); right after its creation it may not be readable "
                    "yet (read %d of at most %d allowed to find nothing), still waiting.",
                    self.spec.describe(),
                    error,
                    self.missing_reads,
                    self.spec.not_found_grace,
                )
                return True
            return False
        if not is_tolerable(error):
            return False
        self.consecutive_errors += 1
        if self.consecutive_errors >= self.max_consecutive_errors:
            return False
        log.warning(
            "Xportcn %s: status read failed (%s); error %d of at most %d in a row, still waiting.",
            self.spec.describe(),
            self.last_error,
            self.consecutive_errors,
            self.max_consecutive_errors,
        )
        return True

    def targets_text(self) -> str:
        if self.spec.vocabulary is None:
            return f"{self.spec.status_field} to be set"
        # "shipped (waitbuyerreceive, …, success)": the group name and life-cycle order, as users
        # wrote them, not an alphabetical list (issue 14 item 8).
        vocabulary = st.get_vocabulary(self.spec.vocabulary)
        return vocabulary.describe_set(self.spec.targets)

    # --- messages (same words from sensors, operators and the trigger) ---------------------------
    def failure_message(self, result: WaitResult) -> str:
        return f"Xportcn {self.spec.describe()} failed: {result.reason} (raw status {result.raw_status!r})."

    def error_message(self, error: BaseException) -> str:
        if is_tolerable(error):
            return (
                f"Xportcn {self.spec.describe()}: gave up after {self.consecutive_errors} consecutive "
                f"failed status reads; last error {type(error).__name__}: {error}"
            )
        return f"Xportcn {self.spec.describe()}: status read failed with {type(error).__name__}: {error}"

    def timeout_message(self, timeout: float | None) -> str:
        within = f" within {timeout:g}s" if timeout is not None else ""
        last = self.last_status or ("no status yet" if self.last_error is None else self.last_error)
        return (
            f"Xportcn {self.spec.describe()}: {self.targets_text()} not reached{within} "
            f"after {self.polls} poll(s); last seen: {last}."
        )


# --- blocking wait --------------------------------------------------------------------------------


def wait_sync(
    hook: _Caller,
    spec: WaitSpec,
    *,
    poll_interval: float,
    timeout: float | None,
    log: _Logger,
    exponential_backoff: bool = False,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_status: Callable[[str | None], Any] | None = None,
) -> Any:
    """Poll ``spec`` through ``hook.call`` until success; return the final record.

    ``on_status`` is told what every answer showed (:meth:`WaitSpec.observed`: the monitoring
    page's "last status seen").

    Polls at once, then every ``poll_interval`` seconds (doubling with ``exponential_backoff``,
    capped at ``max_poll_interval``, never sleeping past the deadline). ``timeout=None`` waits
    for ever. Raises :class:`XportcnWaitFailure`, :class:`XportcnWaitTimeout` or
    :class:`XportcnWaitError` (see the module docstring).
    """
    interval = check_interval(poll_interval, "poll_interval")
    cap = check_interval(max_poll_interval, "max_poll_interval")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
        raise XportcnValidationError(
            f"timeout must be a number of seconds >= 0 or None, got {timeout!r}.", parameter="timeout"
        )
    state = PollState(spec, max_consecutive_errors)
    started = clock()
    while True:
        try:
            data = hook.call(spec.endpoint, dict(spec.body))
        except XportcnError as err:
            if not state.tolerate(err, log):
                raise XportcnWaitError(
                    state.error_message(err),
                    status=state.last_status,
                    ids=spec.ids,
                    record=state.last_record,
                    endpoint=spec.endpoint,
                ) from err
        else:
            result = state.observe(data, log)
            if on_status is not None:
                on_status(spec.observed(data, result))
            if result.outcome == "success":
                log.info("Xportcn %s: reached %s.", spec.describe(), result.status)
                return data
            if result.outcome == "failure":
                raise XportcnWaitFailure(
                    state.failure_message(result), status=result.status, ids=spec.ids, record=data
                )
        elapsed = clock() - started
        if timeout is not None and elapsed >= timeout:
            raise XportcnWaitTimeout(
                state.timeout_message(timeout),
                status=state.last_status,
                ids=spec.ids,
                record=state.last_record,
            )
        delay = interval if timeout is None else min(interval, max(timeout - elapsed, 0.0))
        sleep(delay)
        interval = next_interval(interval, exponential_backoff=exponential_backoff, maximum=cap)


# --- deferral helpers -------------------------------------------------------------------------------


def event_result(event: Mapping[str, Any] | None) -> Any:
    """The record of a ``success`` event; the matching exception for any other event."""
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise XportcnWaitError(
            f"Unexpected event from the Xportcn status trigger: {event!r}", status=None, ids={}
        )
    status = event["status"]
    ids = dict(event.get("ids") or {})
    value = event.get("value")
    record = event.get("record")
    if status == "success":
        return record
    message = str(event.get("message") or f"Xportcn {event.get('wait') or 'wait'} ended with {status}.")
    id_text = ", ".join(f"{k}={v}" for k, v in ids.items())
    if id_text and id_text not in message:
        message = f"{message} [{id_text}]"
    if value is not None and str(value) not in message:
        message = f"{message} [status={value}]"
    if status == "failure":
        raise XportcnWaitFailure(message, status=value, ids=ids, record=record)
    if status == "timeout":
        raise XportcnWaitTimeout(message, status=value, ids=ids, record=record)
    raise XportcnWaitError(message, status=value, ids=ids, record=record)
