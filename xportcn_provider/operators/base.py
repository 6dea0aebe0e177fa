"""What every Xportcn operator shares: the hook, input checks, XCom, log lines, retry memory.

Each operator is a thin layer over one typed hook method. The shape is always the same, and it
lives here so it is written once:

1. ``execute`` calls :meth:`XportcnBaseOperator.build_request`, which checks the (rendered)
   arguments and returns the hook keyword arguments. Every check happens here, before any HTTP
   call, and a failure is an :class:`~xportcn_provider.api.errors.XportcnValidationError` whose
   ``parameter`` is the operator argument to fix. ``__init__`` checks nothing a template could
   change, and does no I/O: operators are built while DAG files are parsed.
2. The JSON size of the request is checked (``max_payload_bytes``, 1 MiB by default).
3. :meth:`XportcnBaseOperator.perform` does the remote work, pushes ids and console URLs to XCom
   under explicit keys (before any wait), logs one line per remote action with its
   ``requestId``, and returns the XCom return value.

Create operators keep the remote id in ``context["task_state_store"]`` (Airflow 3.3) right
after the create call answers, and read it first on the next try, so a retry reconnects without
even a lookup (:meth:`recall` / :meth:`remember`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

from xportcn_provider.api.endpoints import get_endpoint
from xportcn_provider.api.errors import XportcnError
from xportcn_provider.api.readback import READBACK_DELAY
from xportcn_provider.api.waits import WaitSpec
from xportcn_provider.connection import DEFAULT_CONN_ID
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.links import console_link
from xportcn_provider.operators.validation import (
    MAX_PAYLOAD_BYTES,
    check_payload_size,
    invalid,
    is_blank,
    optional_mapping,
    optional_positive_number,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Longest id the provider derives on its own (``out_order_id``, ``tmall_order_id``).
DERIVED_ID_LENGTH = 32
DERIVED_ID_PREFIX = "af-"
#: Prefix of every key this provider writes into ``task_state_store``.
STATE_PREFIX = "xportcn"
#: Defaults of the operators that wait (same meaning as the sensors' poke_interval/timeout).
DEFAULT_POLL_INTERVAL = 60.0
DEFAULT_WAIT_TIMEOUT = 7 * 24 * 3600.0


def derived_id(context: Context | Mapping[str, Any], *, salt: str = "") -> str:
    """A deterministic caller id for this task instance: same on every retry, new for each run.

    Derived from dag id, task id, run id and map index (each mapped instance gets its own), so
    it is stable across retries of one run and different across runs. ``af-`` + 29 hex chars of
    SHA-256: 32 characters of ``[a-z0-9-]``.
    """
    ti = context["ti"]
    run_id = context.get("run_id") or ti.run_id
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else map_index
    key = "\x1f".join([str(ti.dag_id), str(ti.task_id), str(run_id), str(map_index), salt])
    digest = hashlib.sha256(key.encode()).hexdigest()
    return DERIVED_ID_PREFIX + digest[: DERIVED_ID_LENGTH - len(DERIVED_ID_PREFIX)]


# --- the base operator -----------------------------------------------------------------------


class XportcnBaseOperator(BaseOperator):
    """Common base: the hook, validation before I/O, XCom keys, one log line per remote action.

    :param xportcn_conn_id: the Airflow connection of type ``xportcn`` (templated).
    :param extra: additional request body fields passed through unchanged (templated); a key
        that repeats a keyword argument is an error.
    """

    template_fields: Sequence[str] = ("xportcn_conn_id", "extra")
    template_fields_renderers = {"extra": "json"}
    ui_color = "#fde9d9"
    #: JSON size limit of one request body; subclasses sending files raise it.
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    #: Pause between read-backs of a write that does not show yet (``api.readback``); tests set 0.
    readback_delay: float = READBACK_DELAY
    #: The catalogue endpoint the operator's keyword arguments map to (``extra`` may not repeat them).
    endpoint_name: str | None = None

    def __init__(
        self,
        *,
        xportcn_conn_id: str = DEFAULT_CONN_ID,
        extra: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.xportcn_conn_id = xportcn_conn_id
        self.extra = extra

    @cached_property
    def hook(self) -> XportcnHook:
        """Built on first use (in ``execute``), never while the DAG file is parsed."""
        return XportcnHook(xportcn_conn_id=self.xportcn_conn_id)

    # --- the execute template ---------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        if is_blank(self.xportcn_conn_id) or not isinstance(self.xportcn_conn_id, str):
            raise invalid("xportcn_conn_id", "is required (the id of an Xportcn connection).")
        request = self.build_request()
        self._check_extra_keys(request.get("extra"))
        check_payload_size(request, self.max_payload_bytes)
        return self.perform(context, request)

    def _check_extra_keys(self, extra: Mapping[str, Any] | None) -> None:
        """``extra`` is for fields the operator has no argument for; a known field is refused here
        (before any lookup call), not later by the hook, so a typo never costs a remote call."""
        if not extra or self.endpoint_name is None:
            return
        known = sorted(set(extra) & set(get_endpoint(self.endpoint_name).fields))
        if known:
            raise invalid(
                "extra",
                f"{', '.join(known)} is a known {self.endpoint_name} field; pass it as the operator's "
                "keyword argument instead.",
            )

    def build_request(self) -> dict[str, Any]:
        """Check the rendered arguments and return the hook keyword arguments (no I/O here)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_request()")

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        """Do the remote work with a validated ``request``; return the XCom return value."""
        raise NotImplementedError(f"{type(self).__name__} must implement perform()")

    def extra_body(self) -> dict[str, Any] | None:
        """The validated ``extra`` mapping (or ``None``)."""
        return optional_mapping(self.extra, "extra")

    # --- XCom, links, logs -------------------------------------------------------------------
    def push(self, context: Context | Mapping[str, Any], **values: Any) -> None:
        """Push each non-``None`` value under its own XCom key (ids, URLs) before any wait."""
        ti = context["ti"]
        for key, value in values.items():
            if value is not None:
                ti.xcom_push(key=key, value=value)

    def console_url_of(self, kind: str, object_id: object) -> str:
        """The console URL of one remote object (patterns in :mod:`xportcn_provider.links`)."""
        return console_link(self.hook.console_url, kind, object_id)

    def log_action(self, action: str, ids: Mapping[str, Any], result: str, *, remote: bool = True) -> None:
        """The one line per remote action: what, for which ids, the result and the requestId."""
        id_text = ", ".join(f"{k}={v}" for k, v in ids.items() if v is not None) or "-"
        request_id = self.hook.last_request_id if remote else None
        self.log.info(
            "Xportcn %s [%s]: %s (requestId=%s)",
            action,
            id_text,
            result,
            request_id or "none, no remote call",
        )

    # --- retry memory (task_state_store, Airflow 3.3) ------------------------------------------
    @staticmethod
    def state_key(kind: str, *parts: object) -> str:
        """Key of a remembered remote id; includes the idempotency key so a changed request
        (another ``out_order_id``, other sub-orders) never reconnects to the old object."""
        return ":".join([STATE_PREFIX, kind, *(str(p) for p in parts)])

    def recall(self, context: Context | Mapping[str, Any], key: str) -> Any:
        """The value remembered by an earlier try of this task instance, or ``None``."""
        store = context.get("task_state_store")
        if store is None:
            return None
        try:
            return store.get(key)
        except Exception as exc:
            # The store is an optimisation: without it the operator falls back to the lookup.
            self.log.warning("task_state_store.get(%r) failed (%s); looking the object up instead.", key, exc)
            return None

    def remember(self, context: Context | Mapping[str, Any], key: str, value: Any) -> None:
        """Remember ``value`` for the next try, right after the remote call answered."""
        store = context.get("task_state_store")
        if store is None or value is None:
            return
        try:
            store.set(key, value)
        except Exception as exc:
            self.log.warning(
                "task_state_store.set(%r) failed (%s); a retry will look the object up instead.", key, exc
            )


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: the deployment chooses the default, like every provider."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def wait_settings(poll_interval: Any, timeout: Any) -> tuple[float, float | None]:
    """Validated ``poll_interval`` (> 0 s) and ``timeout`` (>= 0 s, or ``None`` for no limit)."""
    interval = optional_positive_number(poll_interval, "poll_interval")
    if interval is None:
        raise invalid("poll_interval", "is required (seconds > 0).")
    if timeout is None:
        return float(interval), None
    if isinstance(timeout, str):
        try:
            timeout = float(timeout)
        except ValueError:
            raise invalid("timeout", f"must be a number of seconds >= 0, got {timeout!r}.") from None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
        raise invalid("timeout", f"must be a number of seconds >= 0, got {timeout!r}.")
    if timeout < 0:
        raise invalid("timeout", f"must be >= 0, got {timeout}.")
    return float(interval), float(timeout)


class XportcnWaitingOperatorMixin:
    """Submit on the worker, then wait for a :class:`WaitSpec` in the worker or in the triggerer.

    The submit (a POST) always happens in ``execute`` on the worker; only read-only status polls
    ever run in a trigger, so a triggerer restart cannot re-send a create. Before deferring, the
    status is read once: an object that is already done never costs a deferral.
    """

    xportcn_conn_id: str
    deferrable: bool
    hook: XportcnHook
    #: The id in the trigger event's ``ids`` that ``execute_complete`` returns.
    wait_result_key: str = ""

    def wait_for_spec(
        self,
        context: Context,
        spec: WaitSpec,
        *,
        result: Any,
        poll_interval: float,
        timeout: float | None,
    ) -> Any:
        """Wait until ``spec`` succeeds, then return ``result`` (raise on failure or timeout)."""
        from xportcn_provider.last_status import LastStatusRecorder
        from xportcn_provider.triggers.status import status_trigger_for
        from xportcn_provider.waiting import (
            PollState,
            XportcnWaitError,
            XportcnWaitFailure,
            wait_sync,
        )

        log = self.log  # type: ignore[attr-defined]
        recorder = LastStatusRecorder(context, log)
        # Every waiting operator waits on what it has just written: its first reads may find
        # nothing yet (read-after-write lag) without failing the task (issue 11 item 11).
        spec = spec.after_write()
        if not self.deferrable:
            wait_sync(
                self.hook,
                spec,
                poll_interval=poll_interval,
                timeout=timeout,
                log=log,
                on_status=recorder.seen,
            )
            return result
        started = time.time()
        state = PollState(spec)
        try:
            data = self.hook.call(spec.endpoint, dict(spec.body))
        except XportcnError as err:
            if not state.tolerate(err, log):
                raise XportcnWaitError(
                    state.error_message(err), status=None, ids=spec.ids, record=None
                ) from err
        else:
            outcome = state.observe(data, log)
            recorder.seen(spec.observed(data, outcome), deferring=True)
            if outcome.outcome == "success":
                log.info("Xportcn %s: already %s, no need to defer.", spec.describe(), outcome.status)
                return result
            if outcome.outcome == "failure":
                raise XportcnWaitFailure(
                    state.failure_message(outcome), status=outcome.status, ids=spec.ids, record=data
                )
        trigger, defer_timeout = status_trigger_for(
            spec,
            conn_id=self.xportcn_conn_id,
            poll_interval=poll_interval,
            timeout=timeout,
            started_at=started,
        )
        log.info("Xportcn %s: deferring to the triggerer (poll every %gs).", spec.describe(), poll_interval)
        self.defer(  # type: ignore[attr-defined]
            trigger=trigger,
            method_name="execute_complete",
            kwargs={"result": result},
            timeout=defer_timeout,
        )
        raise AssertionError("unreachable: defer() raises TaskDeferred")  # pragma: no cover

    def execute_complete(
        self, context: Context, event: Mapping[str, Any] | None = None, result: Any = None
    ) -> Any:
        """Resume after the trigger: raise unless it reached the target; return the id."""
        from xportcn_provider.waiting import event_result

        event_result(event)
        self.log.info(  # type: ignore[attr-defined]
            "Xportcn wait finished: %s", (event or {}).get("message", "target reached")
        )
        if result is None and self.wait_result_key:
            # ``dag.test()`` resumes with the event only (the real triggerer also passes the
            # defer kwargs); the id is in the event's ``ids`` either way.
            result = dict((event or {}).get("ids") or {}).get(self.wait_result_key)
        return result
