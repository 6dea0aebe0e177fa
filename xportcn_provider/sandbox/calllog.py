"""The call log and connection statistics read through ``/_sandbox/calls`` and ``/_sandbox/stats``.

Every request under ``/api`` is logged when it arrives (auth failures and faulted calls included)
and completed when it is answered, so a test can assert "two 503s then success = three calls"
and a slow (``timeout``) call is visible while it is still sleeping. Distinct client
``(host, port)`` pairs are counted to prove that a client reuses its keep-alive connection.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from typing import Any

#: Entries kept (oldest dropped first), so a sandbox left running for days stays small.
MAX_ENTRIES = 10_000
#: Characters of a request body kept in its entry (bodies with images are long).
MAX_BODY_CHARS = 2_000


class CallLog:
    """Thread-safe list of call entries plus connection counters; ``clear`` starts afresh."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._connections: set[tuple[str, int]] = set()
        self._requests = 0
        self._seq = itertools.count(1)

    def clear(self) -> None:
        with self._lock:
            self._entries = []
            self._connections = set()
            self._requests = 0

    def clear_calls(self) -> None:
        with self._lock:
            self._entries = []

    def start(
        self,
        *,
        endpoint: str | None,
        method: str,
        path: str,
        client: tuple[str, int] | None,
        fault: str | None,
    ) -> dict[str, Any]:
        """Record an arriving call; the returned entry is completed by :meth:`finish`."""
        now = time.time()
        entry: dict[str, Any] = {
            "seq": next(self._seq),
            "endpoint": endpoint,
            "method": method,
            "path": path,
            "http_status": None,
            "code": None,
            "msg": None,
            "request_id": None,
            "time": datetime.fromtimestamp(now, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "unix_time": now,
            "duration_ms": None,
            "fault": fault,
            "body": None,
            "query": None,
            "client_host": client[0] if client else None,
            "client_port": client[1] if client else None,
        }
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self.max_entries:
                del self._entries[: len(self._entries) - self.max_entries]
            self._requests += 1
            if client is not None:
                self._connections.add((client[0], client[1]))
        return entry

    def attach_request(self, entry: dict[str, Any], body: bytes, query: str = "") -> None:
        """Keep what the client sent: ``body`` (text, cut at :data:`MAX_BODY_CHARS`) and ``query``.

        Tests assert the exact bodies a caller sent (e.g. that ``airflow xportcn check`` only ever
        sends empty or read-only bodies); the signed headers are never kept.
        """
        text = body.decode("utf-8", errors="replace")
        with self._lock:
            entry["body"] = text[:MAX_BODY_CHARS]
            entry["query"] = query

    def finish(
        self,
        entry: dict[str, Any],
        *,
        http_status: int | None,
        code: int | None = None,
        msg: str | None = None,
        request_id: str | None = None,
    ) -> None:
        with self._lock:
            entry.update(
                http_status=http_status,
                code=code,
                msg=msg,
                request_id=request_id,
                duration_ms=round((time.time() - entry["unix_time"]) * 1000, 1),
            )

    def entries(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if endpoint is None or e["endpoint"] == endpoint]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"connections": len(self._connections), "requests": self._requests}
