"""``XportcnStatusTrigger``: the one async status poll behind every deferrable sensor and operator.

It carries a :class:`~xportcn_provider.api.waits.WaitSpec` as a dict (so it survives a triggerer
restart), reads the connection with Airflow's async API, polls with the loop's shared pooled
``aiohttp.ClientSession`` and the same signing, envelope and retry rules as the sync hook, and
yields exactly one event: ``success``, ``failure``, ``timeout`` or ``error``.

:func:`status_trigger_for` builds the trigger for a sensor or operator that defers. This module
imports :mod:`xportcn_provider.waiting` (the shared wait rules), never the other way round.

Safety: it only ever polls read-only endpoints. ``WaitSpec`` refuses anything else, and
``__init__`` rebuilds the spec, so a trigger for a write endpoint cannot even be constructed —
a restarted or duplicated trigger can never re-send a create or a cancel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from xportcn_provider.api.client import AsyncXportcnClient
from xportcn_provider.api.errors import XportcnError, XportcnValidationError
from xportcn_provider.api.waits import WaitSpec
from xportcn_provider.connection import DEFAULT_CONN_ID
from xportcn_provider.waiting import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_POLL_INTERVAL,
    PollState,
    check_interval,
    check_max_consecutive_errors,
    next_interval,
)

# Looked up at call time, so tests can drive the poll loop with a fake clock and sleep.
_now = time.time
_sleep = asyncio.sleep


class XportcnStatusTrigger(BaseTrigger):
    """Poll a read-only Xportcn endpoint until a :class:`WaitSpec` succeeds, fails or times out.

    :param wait: ``WaitSpec.to_dict()`` — endpoint, body, status path, vocabulary, targets.
    :param conn_id: the Xportcn connection; fetched asynchronously when the trigger runs.
    :param poll_interval: seconds between polls (the first poll is immediate, which also makes a
        rebuilt trigger catch up at once after a triggerer restart).
    :param deadline: absolute epoch seconds after which the trigger yields ``timeout``; ``None``
        waits for ever. Absolute, so a restart does not restart the clock.
    :param exponential_backoff: double the interval after every waiting poll.
    :param max_poll_interval: cap of the growing interval.
    :param max_consecutive_errors: tolerable errors in a row before the trigger yields ``error``:
        transient errors and rate limits (each already retried by the client) and garbled bodies
        (protocol errors: not retried by the client, but a status read is safe to repeat).
    :param consecutive_errors: errors in a row already seen before deferring (a sensor's first
        poke), so the bound counts the same as in poke mode.
    """

    def __init__(
        self,
        wait: Mapping[str, Any],
        conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 60.0,
        deadline: float | None = None,
        exponential_backoff: bool = False,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        consecutive_errors: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(wait, Mapping):
            raise XportcnValidationError("wait must be a WaitSpec.to_dict() mapping.", parameter="wait")
        # Rebuilding the spec validates it, and refuses write endpoints.
        self.spec = WaitSpec.from_dict(wait)
        self.wait = self.spec.to_dict()
        if not isinstance(conn_id, str) or not conn_id:
            raise XportcnValidationError("conn_id must be a non-empty string.", parameter="conn_id")
        self.conn_id = conn_id
        self.poll_interval = check_interval(poll_interval, "poll_interval")
        if deadline is not None and (not isinstance(deadline, int | float) or isinstance(deadline, bool)):
            raise XportcnValidationError(
                f"deadline must be epoch seconds or None, got {deadline!r}.", parameter="deadline"
            )
        self.deadline = None if deadline is None else float(deadline)
        self.exponential_backoff = bool(exponential_backoff)
        self.max_poll_interval = check_interval(max_poll_interval, "max_poll_interval")
        self.max_consecutive_errors = check_max_consecutive_errors(max_consecutive_errors)
        if (
            not isinstance(consecutive_errors, int)
            or isinstance(consecutive_errors, bool)
            or not 0 <= consecutive_errors < self.max_consecutive_errors
        ):
            raise XportcnValidationError(
                "consecutive_errors must be a whole number from 0 to max_consecutive_errors - 1, "
                f"got {consecutive_errors!r}.",
                parameter="consecutive_errors",
            )
        self.consecutive_errors = consecutive_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "wait": self.wait,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "exponential_backoff": self.exponential_backoff,
                "max_poll_interval": self.max_poll_interval,
                "max_consecutive_errors": self.max_consecutive_errors,
                "consecutive_errors": self.consecutive_errors,
            },
        )

    def _event(self, status: str, state: PollState, message: str, value: str | None = None) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "value": value if value is not None else state.last_status,
                "record": state.last_record,
                "message": message,
                "ids": dict(self.spec.ids),
                "wait": self.spec.describe(),
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done; yield exactly one event.

        The event is computed inside the borrowed client's scope but yielded after it is given
        back, so a finished trigger never holds a pooled client while Airflow processes its event.
        """
        state = PollState(self.spec, self.max_consecutive_errors, consecutive_errors=self.consecutive_errors)
        try:
            # Imported here: the hook pulls in the sync client stack, which the triggerer only
            # needs once a trigger actually runs.
            from xportcn_provider.hooks.xportcn import XportcnHook

            hook = XportcnHook(xportcn_conn_id=self.conn_id)
            async with hook.async_client() as client:
                event = await self._poll(client, state)
        except Exception as err:  # connection missing/invalid, or a bug: one clear error event
            self.log.exception("Xportcn status trigger for %s failed", self.spec.describe())
            event = self._event("error", state, state.error_message(err))
        yield event

    async def _poll(self, client: AsyncXportcnClient, state: PollState) -> TriggerEvent:
        spec = self.spec
        interval = self.poll_interval
        self.log.info(
            "Waiting for Xportcn %s: polling %s every %gs%s.",
            spec.describe(),
            spec.endpoint,
            interval,
            "" if self.deadline is None else f" until {_iso(self.deadline)}",
        )
        while True:
            try:
                data = await client.call(spec.endpoint, dict(spec.body))
            except XportcnError as err:
                if not state.tolerate(err, self.log):
                    self.log.error("%s", state.error_message(err))
                    return self._event("error", state, state.error_message(err))
            else:
                result = state.observe(data, self.log)
                if result.outcome == "success":
                    return self._event(
                        "success", state, f"Xportcn {spec.describe()} reached {result.status}.", result.status
                    )
                if result.outcome == "failure":
                    return self._event("failure", state, state.failure_message(result), result.status)
            now = _now()
            if self.deadline is not None and now >= self.deadline:
                return self._event("timeout", state, state.timeout_message(None))
            delay = interval if self.deadline is None else min(interval, self.deadline - now)
            await _sleep(delay)
            interval = next_interval(
                interval, exponential_backoff=self.exponential_backoff, maximum=self.max_poll_interval
            )


def status_trigger_for(
    spec: WaitSpec,
    *,
    conn_id: str,
    poll_interval: float,
    timeout: float | None,
    started_at: float | None = None,
    exponential_backoff: bool = False,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    consecutive_errors: int = 0,
    grace: float = 60.0,
) -> tuple[XportcnStatusTrigger, timedelta | None]:
    """The trigger and the ``defer(timeout=...)`` for a wait that began at ``started_at`` (epoch s).

    The trigger carries the absolute deadline ``started_at + timeout`` so a triggerer restart does
    not restart the clock. The deferral timeout is the time left plus ``grace``: the trigger's own
    timeout event (with the last status in its message) normally comes first, and the deferral
    timeout is the backstop for a triggerer that stops running it. ``consecutive_errors`` carries
    the errors already seen in a row (e.g. by a first poke) into the trigger's bound.
    """
    start = time.time() if started_at is None else started_at
    deadline = None if timeout is None else start + timeout
    trigger = XportcnStatusTrigger(
        wait=spec.to_dict(),
        conn_id=conn_id,
        poll_interval=poll_interval,
        deadline=deadline,
        exponential_backoff=exponential_backoff,
        max_poll_interval=max_poll_interval,
        max_consecutive_errors=max_consecutive_errors,
        consecutive_errors=consecutive_errors,
    )
    defer_timeout = None
    if deadline is not None:
        defer_timeout = timedelta(seconds=max(deadline - time.time(), 0.0) + grace)
    return trigger, defer_timeout


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
