"""The one base of every Xportcn status sensor: poke, reschedule and deferrable mode alike.

Subclasses only say *what* to wait for (:meth:`XportcnStatusSensorBase.build_spec` returns a
:class:`~xportcn_provider.api.waits.WaitSpec`); this base owns *how*, so the three modes agree:

* ``poke``/``reschedule``: Airflow's ``BaseSensorOperator.execute`` loop calls :meth:`poke`.
* ``deferrable``: :meth:`execute` pokes once, and only if not done defers to
  :class:`~xportcn_provider.triggers.status.XportcnStatusTrigger` with the absolute deadline
  ``first poke + timeout`` (so ``timeout`` is wall time since the first poke in every mode) and
  ``exponential_backoff``/``max_wait``/``poke_interval`` carried over.
* A failure status raises ``AirflowFailException`` (no retry), a timeout ``AirflowSensorTimeout``;
  ``soft_fail`` turns either into a skip, in every mode, exactly as Airflow does for poke mode.
* Transient errors (and garbled bodies), after the hook's own retries, keep the sensor waiting up
  to ``max_consecutive_errors`` in a row (persisted across reschedules in the task state store);
  auth and business errors fail the task at once.
* The final record is the sensor's XCom ``return_value``.
* Every status read is recorded for the monitoring page (:mod:`xportcn_provider.last_status`).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
)

from xportcn_provider.api.errors import XportcnError, XportcnValidationError
from xportcn_provider.api.waits import StatusInput, WaitSpec
from xportcn_provider.connection import DEFAULT_CONN_ID
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.last_status import LastStatusRecorder
from xportcn_provider.waiting import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_POLL_INTERVAL,
    PollState,
    XportcnWaitError,
    XportcnWaitFailure,
    XportcnWaitTimeout,
    check_max_consecutive_errors,
    event_result,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: task_state_store key holding ``{"try": n, "errors": k}`` across reschedules.
ERROR_COUNT_KEY = "xportcn_sensor_consecutive_errors"

#: Shortest wait between two pokes in ``reschedule`` mode (seconds). Airflow 3.3 keeps the same
#: try number across reschedules, so the executor's "success" for one poke's process carries the
#: same key as the next poke. When that event reaches the scheduler *after* it has queued the next
#: poke (the reschedule date has passed), the scheduler takes it for a task killed externally
#: ("finished with state success, but the task instance's state attribute is queued") and puts the
#: sensor up for retry (apache/airflow#71172). On a busy 2-core machine the event came 5 s after the
#: poke; with ``poke_interval=5`` that lost two runs of two. 30 s leaves that window a wide margin.
#: See docs/e2e.md, "Reschedule mode and short intervals". ``[xportcn] min_reschedule_interval``
#: (``AIRFLOW__XPORTCN__MIN_RESCHEDULE_INTERVAL``) changes it: ``0`` where no scheduler runs the
#: pokes (``dag.test()``) or once an Airflow release has fixed the race.
MIN_RESCHEDULE_INTERVAL = 30.0


def min_reschedule_interval() -> float:
    """The floor in force: ``[xportcn] min_reschedule_interval``, default 30 s."""
    return conf.getfloat("xportcn", "min_reschedule_interval", fallback=MIN_RESCHEDULE_INTERVAL)


class XportcnStatusSensorBase(BaseSensorOperator):
    """Wait until an Xportcn object reaches a target status; return its final record.

    :param xportcn_conn_id: the Xportcn connection. Templated.
    :param target_statuses: statuses (or group names, e.g. ``"shipped"``) that end the wait with
        success; matched after normalisation, so ``WAITING_FOR_SENT`` equals ``waitsellersend``.
        Templated. Default: per sensor.
    :param failure_statuses: statuses that fail the task at once (``AirflowFailException``).
        Templated. Default: per sensor; a terminal status from which no target can follow fails too.
    :param status_field: dotted path of the status in the answer's ``data`` (``status``,
        ``data.state``; for a Taobao order, in the listed row of that order). Templated. Default:
        from the contract, per endpoint. An answer without it fails the task naming the path.
    :param extra_statuses: real statuses the provider's vocabulary does not list (e.g. 1688
        ``waitlogisticstakein``, an unpublished package status): they may then be used in
        ``target_statuses``/``failure_statuses`` and otherwise count as "not done yet". Templated.
    :param not_found_grace: reads that may find nothing (not found, ``data: null``, no row for the
        id) before the task fails, as long as the object has never been seen. Default ``0``: a
        wrong id fails at the first read. Set e.g. ``3`` when the sensor starts right after the
        task that created the object (the service may show it a moment late).
    :param deferrable: free the worker slot and wait in the triggerer. Default from
        ``[operators] default_deferrable``.
    :param max_consecutive_errors: transient errors in a row (each already retried by the hook)
        tolerated before the task fails.

    Every other argument is ``BaseSensorOperator``'s: ``poke_interval``, ``timeout``, ``mode``,
    ``soft_fail``, ``exponential_backoff``, ``max_wait`` mean the same in all three modes.
    """

    template_fields: Sequence[str] = (
        "xportcn_conn_id",
        "target_statuses",
        "failure_statuses",
        "status_field",
        "extra_statuses",
    )
    ui_color = "#fde9d9"

    def __init__(
        self,
        *,
        xportcn_conn_id: str = DEFAULT_CONN_ID,
        target_statuses: StatusInput = None,
        failure_statuses: StatusInput = None,
        status_field: str | None = None,
        extra_statuses: StatusInput = None,
        not_found_grace: int = 0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if self.poke_interval <= 0:
            raise ValueError(
                "poke_interval must be > 0 for Xportcn sensors: every poke is a signed API call."
            )
        self.xportcn_conn_id = xportcn_conn_id
        self.target_statuses = target_statuses
        self.failure_statuses = failure_statuses
        self.status_field = status_field
        self.extra_statuses = extra_statuses
        if isinstance(not_found_grace, bool) or not isinstance(not_found_grace, int) or not_found_grace < 0:
            raise XportcnValidationError(
                f"not_found_grace must be a whole number >= 0, got {not_found_grace!r}.",
                parameter="not_found_grace",
            )
        self.not_found_grace = not_found_grace
        self.deferrable = deferrable
        self.max_consecutive_errors = check_max_consecutive_errors(max_consecutive_errors)
        #: The poke_interval asked for, when reschedule mode raised it (logged again on execute).
        self.requested_poke_interval: float | None = None
        if not deferrable:  # a deferred wait never reschedules: its poke_interval is the trigger's
            self._keep_reschedule_safe()
        self._spec: WaitSpec | None = None
        self._state: PollState | None = None
        self._recorder: LastStatusRecorder | None = None

    def _keep_reschedule_safe(self) -> None:
        """In ``reschedule`` mode, raise a ``poke_interval``/``max_wait`` below 30 s, with a warning.

        A shorter interval races the scheduler (see :data:`MIN_RESCHEDULE_INTERVAL`): the sensor is
        failed and retried although nothing went wrong. Raising it (rather than refusing the DAG)
        keeps a DAG written for ``poke`` mode working when someone switches it to reschedule.
        """
        if self.mode != "reschedule":
            return
        floor = min_reschedule_interval()
        if self.max_wait is not None and self.max_wait.total_seconds() < floor:
            self.max_wait = timedelta(seconds=floor)
        if self.poke_interval >= floor:
            return
        self.requested_poke_interval = float(self.poke_interval)
        self.poke_interval = floor
        warnings.warn(self._reschedule_message(), UserWarning, stacklevel=3)

    def _reschedule_message(self) -> str:
        return (
            f"Xportcn sensor {self.task_id!r}: poke_interval={self.requested_poke_interval:g}s in "
            f"reschedule mode is raised to {self.poke_interval:g}s. Airflow 3.3 can mistake the "
            "end of one poke for a task killed externally when the next poke is queued first "
            "(apache/airflow#71172), and fails the sensor into a retry. For short intervals use "
            "deferrable=True (or mode='poke'); see docs/e2e.md, 'Reschedule mode and short intervals'."
        )

    # --- what to wait for (subclasses) ----------------------------------------------------------
    def build_spec(self) -> WaitSpec:
        """The wait, from the *rendered* fields; raise ``XportcnValidationError`` naming the parameter."""
        raise NotImplementedError

    def _full_spec(self) -> WaitSpec:
        """``build_spec()`` plus the options every sensor has (``not_found_grace``)."""
        spec = self.build_spec()
        if self.not_found_grace:
            spec = dataclasses.replace(spec, not_found_grace=self.not_found_grace)
        return spec

    def _status_kwargs(self) -> dict[str, Any]:
        """target/failure/status_field as keyword arguments, leaving out what the user did not set."""
        kwargs: dict[str, Any] = {}
        if self.target_statuses is not None:
            kwargs["target_statuses"] = self.target_statuses
        if self.failure_statuses is not None:
            kwargs["failure_statuses"] = self.failure_statuses
        if self.status_field is not None:
            kwargs["status_field"] = self.status_field
        if self.extra_statuses is not None:
            kwargs["extra_statuses"] = self.extra_statuses
        return kwargs

    # --- shared machinery -----------------------------------------------------------------------
    @cached_property
    def hook(self) -> XportcnHook:
        return XportcnHook(xportcn_conn_id=self.xportcn_conn_id)

    @property
    def spec(self) -> WaitSpec:
        if self._spec is None:
            self._spec = self._full_spec()
        return self._spec

    @property
    def state(self) -> PollState:
        if self._state is None:
            self._state = PollState(self.spec, self.max_consecutive_errors)
        return self._state

    def execute(self, context: Context) -> Any:
        if self.requested_poke_interval is not None:  # said at parse time; say it in the task log too
            self.log.warning("%s", self._reschedule_message())
        # Validate ids and statuses (rendered by now) before any HTTP call, in every mode.
        self._spec = self._full_spec()
        self._state = PollState(self._spec, self.max_consecutive_errors)
        self._recorder = LastStatusRecorder(context, self.log)  # this run's store, never a previous one
        self._restore_error_count(context)
        if not self.deferrable:
            return super().execute(context)
        return self._execute_deferrable(context)

    def poke(self, context: Context) -> PokeReturnValue:
        spec, state = self.spec, self.state
        try:
            data = self.hook.call(spec.endpoint, dict(spec.body))
        except XportcnError as err:
            before = state.consecutive_errors
            tolerated = state.tolerate(err, self.log)
            if state.consecutive_errors != before:
                self._persist_error_count(context)
            if tolerated:
                return PokeReturnValue(is_done=False)
            raise XportcnWaitError(
                state.error_message(err),
                status=state.last_status,
                ids=spec.ids,
                record=state.last_record,
                endpoint=spec.endpoint,
            ) from err
        had_errors = state.consecutive_errors > 0
        result = state.observe(data, self.log)
        self._last_status_recorder(context).seen(spec.observed(data, result), deferring=self.deferrable)
        if had_errors:
            self._persist_error_count(context)
        if result.outcome == "success":
            self.log.info("Xportcn %s reached %s.", spec.describe(), result.status)
            return PokeReturnValue(is_done=True, xcom_value=data)
        if result.outcome == "failure":
            raise XportcnWaitFailure(
                state.failure_message(result), status=result.status, ids=spec.ids, record=data
            )
        return PokeReturnValue(is_done=False)

    def _execute_deferrable(self, context: Context) -> Any:
        started = time.time()
        try:
            first = self.poke(context)
        except (AirflowSensorTimeout, AirflowTaskTimeout, AirflowFailException) as err:
            # The same mapping BaseSensorOperator.execute applies to a poke in the other modes.
            if self.soft_fail:
                raise AirflowSkipException("Skipping due to soft_fail is set to True.") from err
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from err
            raise
        except AirflowSkipException:
            raise
        except Exception as err:
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from err
            if not self.silent_fail:
                raise
            self.log.exception("Sensor poke failed; silent_fail is set, so waiting on.")
            first = PokeReturnValue(is_done=False)
        if first.is_done:
            return first.xcom_value
        elapsed = time.time() - started
        if elapsed >= self.timeout:
            message = self.state.timeout_message(self.timeout)
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise XportcnWaitTimeout(
                message, status=self.state.last_status, ids=self.spec.ids, record=self.state.last_record
            )
        # Imported here: DAG files import sensors, and only a deferring sensor needs the trigger.
        from xportcn_provider.triggers.status import status_trigger_for

        trigger, defer_timeout = status_trigger_for(
            self.spec,
            conn_id=self.xportcn_conn_id,
            poll_interval=self.poke_interval,
            timeout=self.timeout,
            started_at=started,
            exponential_backoff=self.exponential_backoff,
            max_poll_interval=self.max_wait.total_seconds() if self.max_wait else DEFAULT_MAX_POLL_INTERVAL,
            max_consecutive_errors=self.max_consecutive_errors,
            consecutive_errors=self.state.consecutive_errors,
        )
        self.log.info(
            "Xportcn %s not reached yet; deferring (poll every %gs, deadline in %.0fs).",
            self.spec.describe(),
            self.poke_interval,
            self.timeout - elapsed,
        )
        self.defer(trigger=trigger, method_name="execute_complete", timeout=defer_timeout)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: the final record, or the failure/timeout/error it reported.

        ``BaseSensorOperator.resume_execution`` turns a failure or timeout into a skip when
        ``soft_fail`` is set, as in the other modes.
        """
        record = event_result(event)
        self.log.info("%s", (event or {}).get("message"))
        return record

    def _last_status_recorder(self, context: Context) -> LastStatusRecorder:
        """One recorder per task process (reschedule mode starts a new one each poke)."""
        if self._recorder is None:
            self._recorder = LastStatusRecorder(context, self.log)
        return self._recorder

    # --- error count across reschedules ---------------------------------------------------------
    def _restore_error_count(self, context: Context) -> None:
        """In reschedule mode each poke is a new process; read the consecutive-error count back."""
        if not self.reschedule or self._state is None:
            return
        store = context.get("task_state_store")
        if store is None:
            return
        try:
            saved = store.get(ERROR_COUNT_KEY)
        except Exception as err:  # the store is optional; without it the count restarts per poke
            self.log.debug("task_state_store unavailable (%s); error count restarts per poke.", err)
            return
        if isinstance(saved, dict) and saved.get("try") == context["ti"].try_number:
            errors = saved.get("errors")
            self._state.consecutive_errors = errors if isinstance(errors, int) else 0

    def _persist_error_count(self, context: Context) -> None:
        if not self.reschedule or self._state is None:
            return
        store = context.get("task_state_store")
        if store is None:
            return
        try:
            store.set(
                ERROR_COUNT_KEY,
                {"try": context["ti"].try_number, "errors": self._state.consecutive_errors},
            )
        except Exception as err:
            self.log.debug("Could not save the error count in task_state_store (%s).", err)
