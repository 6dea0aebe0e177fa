"""A wait's "last status seen", kept where the monitoring page can read it (issue 18).

Sensors and waiting operators read a status on every poke, but that knowledge used to die with
the poke. :class:`LastStatusRecorder` writes it to Airflow's ``task_state_store`` (a row per task
instance in the metadata DB, kept across reschedules and retries), which the "Xportcn" nav page
joins in the same query as the waits themselves. It writes when the status changes and at most
every :data:`~xportcn_provider.api.monitoring.LAST_STATUS_REFRESH_SECONDS` otherwise, so a poke
every few seconds does not become a DB write every few seconds.

Recording is best effort: ``dag.test()`` and older Airflow versions may have no store, and a
store that fails must never fail the wait itself (the error is logged at debug level).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from xportcn_provider.api.monitoring import (
    LAST_STATUS_KEY,
    LAST_STATUS_REFRESH_SECONDS,
    VIA_BEFORE_DEFER,
    VIA_POKE,
    LastStatus,
)

#: A stdlib or structlog logger (Airflow 3 operators log through structlog).
_Logger = Any


class LastStatusRecorder:
    """Write a wait's statuses to its ``task_state_store``: on change, and now and then when unchanged."""

    def __init__(
        self,
        context: Mapping[str, Any],
        log: _Logger,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = context.get("task_state_store")
        self._log = log
        self._clock = clock
        self._written: tuple[str, str] | None = None
        self._written_at = 0.0

    def seen(self, status: str | None, *, deferring: bool = False) -> None:
        """Record ``status`` (``None``: nothing read, nothing written)."""
        if status is None or self._store is None:
            return
        via = VIA_BEFORE_DEFER if deferring else VIA_POKE
        now = self._clock()
        if self._written == (status, via) and now - self._written_at < LAST_STATUS_REFRESH_SECONDS:
            return
        value = LastStatus(status, datetime.now(UTC), via).stored()
        try:
            self._store.set(LAST_STATUS_KEY, value)
        except Exception as err:  # the page loses a detail; the wait goes on
            self._log.debug("Could not record the last status in task_state_store (%s).", err)
            return
        self._written = (status, via)
        self._written_at = now
