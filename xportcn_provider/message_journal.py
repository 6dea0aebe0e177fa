"""A day-partitioned JSON Lines journal of pushed messages, deduplicated by ``message_key``.

Used by the example DAG ``xportcn_on_order_message``: each asset event the push receiver
recorded (its ``extra``, see ``PushMessage.event_extra``) becomes one line in
``<root>/messages/dt=<UTC day of sent_at>.jsonl``. A message already in its day's file is not
written again, so a task retry, an overlapping run or a redelivery that slipped through never
duplicates a line. Free of Airflow so it can be tested (and reused) on its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Messages after which a consumer should look at the current record (a cancel, any refund).
FOLLOW_UP_TYPES = frozenset({"ORDER_CANCEL"})


def journal_path(root: str | os.PathLike[str], sent_at: str) -> Path:
    """``<root>/messages/dt=YYYY-MM-DD.jsonl`` for an ISO ``sent_at`` (``2026-12-02T02:35:05.973Z``)."""
    return Path(root) / "messages" / f"dt={sent_at[:10]}.jsonl"


def _keys_in(path: Path) -> set[str]:
    if not path.exists():
        return set()
    keys = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                keys.add(str(json.loads(line).get("message_key")))
    return keys


def needs_follow_up(message: Mapping[str, Any]) -> bool:
    """A cancel or a refund message that is not stale: worth reading the record's current state."""
    if message.get("stale"):
        return False
    return message.get("message_type") in FOLLOW_UP_TYPES or message.get("kind") == "refunds"


def append_messages(root: str | os.PathLike[str], messages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Append new messages to their day's file; returns counts, files and the follow-ups.

    Every message must carry ``message_key`` and ``sent_at`` (the receiver's event extra); one
    without them is counted as ``skipped`` and not written.
    """
    by_path: dict[Path, list[Mapping[str, Any]]] = {}
    skipped = 0
    for message in messages:
        if not message.get("message_key") or not isinstance(message.get("sent_at"), str):
            skipped += 1
            continue
        by_path.setdefault(journal_path(root, message["sent_at"]), []).append(message)
    appended = duplicates = 0
    follow_up: list[dict[str, Any]] = []
    for path, batch in sorted(by_path.items()):
        seen = _keys_in(path)
        lines = []
        for message in sorted(batch, key=lambda m: (m.get("sent_at_ms") or 0, m["message_key"])):
            key = str(message["message_key"])
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            lines.append(json.dumps(dict(message), ensure_ascii=False, sort_keys=True))
            if needs_follow_up(message):
                follow_up.append(
                    {k: message.get(k) for k in ("kind", "platform", "order_id", "refund_id", "status")}
                )
        if lines:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            appended += len(lines)
    return {
        "appended": appended,
        "duplicates": duplicates,
        "skipped": skipped,
        "stale": sum(1 for batch in by_path.values() for m in batch if m.get("stale")),
        "files": sorted(str(p) for p in by_path),
        "follow_up": follow_up,
    }
