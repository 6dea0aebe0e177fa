"""Write one interval's orders to a JSON Lines partition, streaming and rerunnable.

Used by the ``xportcn_order_sync`` example DAG and its benchmark. Orders are fetched page by page
(``XportcnHook.iter_orders``) and written as they arrive, so memory does not grow with the number
of orders. The partition is written to a temporary file in the same directory and renamed over
the old one at the end: a rerun *replaces* its partition (never appends duplicates), and a crash
half-way leaves the previous partition intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


class OrderSource(Protocol):
    """What the writer needs from a hook (``XportcnHook`` satisfies it)."""

    def iter_orders(
        self,
        *,
        status: str | None = None,
        create_start_time: str | None = None,
        create_end_time: str | None = None,
        out_order_id: str | None = None,
        page_size: int = 50,
        extra: Mapping[str, Any] | None = None,
    ) -> Iterable[Any]: ...


def iso_utc(moment: datetime) -> str:
    """``2026-11-25T00:00:00Z``: the time format the order-list filters take."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def partition_path(root: str | os.PathLike[str], interval_start: datetime) -> Path:
    """``<root>/orders/dt=YYYY-MM-DD.jsonl``: one file per daily interval."""
    return Path(root) / "orders" / f"dt={interval_start.astimezone(UTC):%Y-%m-%d}.jsonl"


def write_order_partition(
    source: OrderSource,
    interval_start: datetime,
    interval_end: datetime,
    path: str | os.PathLike[str],
    *,
    page_size: int = 100,
) -> dict[str, Any]:
    """Fetch the orders created in ``[interval_start, interval_end)`` and replace ``path`` with them.

    Returns counts: ``{"orders": n, "by_status": {...}, "path": str, "interval": [start, end]}``.
    """
    if interval_end <= interval_start:
        raise ValueError(f"interval_end ({interval_end}) must be after interval_start ({interval_start}).")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    by_status: Counter[str] = Counter()
    seen: set[str] = set()
    start, end = iso_utc(interval_start), iso_utc(interval_end)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for order in source.iter_orders(
                create_start_time=start, create_end_time=end, page_size=page_size
            ):
                order_id = str(order.get("orderId"))
                if order_id in seen:  # a page boundary shifted under us: never write a row twice
                    continue
                seen.add(order_id)
                by_status[str(order.get("status"))] += 1
                out.write(json.dumps(order, ensure_ascii=False, sort_keys=True))
                out.write("\n")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return {
        "orders": len(seen),
        "by_status": dict(sorted(by_status.items())),
        "path": str(target),
        "interval": [start, end],
    }
