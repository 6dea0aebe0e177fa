"""Write one interval's orders to a JSON Lines partition, streaming and rerunnable.

Used by the ``xportcn_order_sync`` example DAG and its benchmark. Orders are fetched page by page
(``XportcnHook.iter_orders``) and written as they arrive, so memory does not grow with the number
of orders. The partition is written to a temporary file in the same directory and renamed over
the old one at the end: a rerun *replaces* its partition (never appends duplicates), and a crash
half-way leaves the previous partition intact.

Nothing the server answers is trusted blindly (issue 11): each row must carry its id and its
creation time where :class:`OrderShape` says (a row without them fails the task, naming the
field); a row created outside the interval is left out and counted, whatever the server's time
filter did (an inclusive end, or a filter it could not parse and ignored); paging itself is
checked by the client (``XportcnClient.paginate``). ``docs/data-shapes.md`` lists these rules.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xportcn_provider.api.errors import XportcnProtocolError, XportcnValidationError
from xportcn_provider.api.waits import MISSING, lookup_path

log = logging.getLogger(__name__)

#: ``time_format`` values that are not ``strftime`` patterns.
TIME_FORMATS = ("iso", "unix", "unix_ms")


@dataclass(frozen=True)
class OrderShape:
    """Where a list row keeps its id and creation time, and how the time filter is spelled.

    The defaults are the contract's assumed shape (``docs/data-shapes.md``); each is a setting
    because the real service's is unknown. 1688's own list, for instance, nests the id as
    ``baseInfo.id`` and its time as ``baseInfo.createTime``.

    :param id_field: dotted path of the order id in a row (rows are keyed on it).
    :param time_field: dotted path of the creation time in a row (checked against the window).
    :param time_format: how the filter's times are sent: ``iso`` (``2026-11-25T00:00:00Z``),
        ``unix`` (seconds), ``unix_ms``, or a ``strftime`` pattern such as ``%Y-%m-%d %H:%M:%S``
        (then in ``time_zone``). Row times are read in any of these spellings.
    :param time_zone: the zone of pattern-formatted and offset-less times: ``UTC``, an IANA name
        (``Asia/Shanghai``) or an offset (``+08:00``).
    """

    id_field: str = "orderId"
    time_field: str = "createTime"
    time_format: str = "iso"
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        for name in ("id_field", "time_field", "time_format", "time_zone"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise XportcnValidationError(
                    f"{name} must be a non-empty string, got {value!r}.", parameter=name
                )
        if self.time_format not in TIME_FORMATS and "%" not in self.time_format:
            raise XportcnValidationError(
                f"time_format must be one of {', '.join(TIME_FORMATS)} or a strftime pattern "
                f"(e.g. '%Y-%m-%d %H:%M:%S'), got {self.time_format!r}.",
                parameter="time_format",
            )
        self.zone()  # an unknown zone fails here, before any call

    def zone(self) -> tzinfo:
        raw = self.time_zone.strip()
        if raw.upper() in ("UTC", "Z"):
            return UTC
        if raw[:1] in "+-" and ":" in raw:
            sign = -1 if raw[0] == "-" else 1
            hours, _, minutes = raw[1:].partition(":")
            if hours.isdigit() and minutes.isdigit():
                return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        try:
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            raise XportcnValidationError(
                f"time_zone must be UTC, an IANA zone (Asia/Shanghai) or an offset (+08:00), got {raw!r}.",
                parameter="time_zone",
            ) from None

    def format_time(self, moment: datetime) -> str:
        """``moment`` spelled for the server's time filter."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if self.time_format == "iso":
            return iso_utc(moment)
        if self.time_format == "unix":
            return str(int(moment.timestamp()))
        if self.time_format == "unix_ms":
            return str(int(moment.timestamp() * 1000))
        return moment.astimezone(self.zone()).strftime(self.time_format)

    def parse_time(self, value: Any) -> datetime | None:
        """A row's time in any spelling this shape knows; ``None`` when it cannot be read."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value) / 1000 if value > 1e11 else float(value)
            return datetime.fromtimestamp(seconds, UTC)
        if not isinstance(value, str) or not value.strip():
            return None
        raw = value.strip()
        if raw.isdigit():
            return self.parse_time(int(raw))
        if self.time_format not in TIME_FORMATS:
            try:
                return datetime.strptime(raw, self.time_format).replace(tzinfo=self.zone())
            except ValueError:
                pass
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=self.zone())


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
    shape: OrderShape | None = None,
) -> dict[str, Any]:
    """Fetch the orders created in ``[interval_start, interval_end)`` and replace ``path`` with them.

    Returns counts: ``{"orders": n, "by_status": {...}, "path": str, "interval": [start, end],
    "outside_window": m}`` (``m`` rows the server returned but created outside the interval,
    left out). Raises :class:`XportcnProtocolError` when a row has no id or no readable creation
    time at the paths of ``shape``; the previous partition then stays as it was.
    """
    shape = shape or OrderShape()
    if interval_end <= interval_start:
        raise ValueError(f"interval_end ({interval_end}) must be after interval_start ({interval_start}).")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    by_status: Counter[str] = Counter()
    seen: set[str] = set()
    outside = 0
    start, end = iso_utc(interval_start), iso_utc(interval_end)
    window_start, window_end = _aware(interval_start), _aware(interval_end)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for order in source.iter_orders(
                create_start_time=shape.format_time(interval_start),
                create_end_time=shape.format_time(interval_end),
                page_size=page_size,
            ):
                order_id = _row_id(order, shape)
                created = _row_time(order, shape, order_id)
                if not window_start <= created < window_end:  # the server's filter is not trusted
                    outside += 1
                    continue
                if order_id in seen:  # a page boundary shifted under us: never write a row twice
                    continue
                seen.add(order_id)
                status = lookup_path(order, "status")
                if status is MISSING and "." in shape.id_field:  # nested rows: status beside the id
                    status = lookup_path(order, shape.id_field.rsplit(".", 1)[0] + ".status")
                by_status[str(None if status is MISSING else status)] += 1
                out.write(json.dumps(order, ensure_ascii=False, sort_keys=True))
                out.write("\n")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    if outside:
        log.warning(
            "Xportcn order sync %s..%s: the server returned %d order(s) created outside this interval "
            "(its time filter is inclusive, or it ignored a format it could not parse: check "
            "time_format/time_zone); they were left out of this partition.",
            start,
            end,
            outside,
        )
    return {
        "orders": len(seen),
        "by_status": dict(sorted(by_status.items())),
        "path": str(target),
        "interval": [start, end],
        "outside_window": outside,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _keys(row: Any) -> str:
    return ", ".join(sorted(map(str, row))) if isinstance(row, Mapping) else type(row).__name__


def _row_id(row: Any, shape: OrderShape) -> str:
    """The row's id at ``shape.id_field``; a row without one fails loudly (never keyed ``"None"``)."""
    value = lookup_path(row, shape.id_field)
    if value is MISSING or value in (None, "") or isinstance(value, Mapping | list | bool):
        raise XportcnProtocolError(
            f"Xportcn order list: a row has no order id at {shape.id_field!r} (its keys: {_keys(row)}). "
            "Set id_field to the row's id path (e.g. 'baseInfo.id'); rows cannot be keyed without it.",
            endpoint="order_list",
        )
    return str(value)


def _row_time(row: Any, shape: OrderShape, order_id: str) -> datetime:
    """The row's creation time at ``shape.time_field``; missing or unreadable fails loudly."""
    value = lookup_path(row, shape.time_field)
    parsed = None if value is MISSING else shape.parse_time(value)
    if parsed is None:
        shown = "nothing" if value is MISSING else repr(value)
        raise XportcnProtocolError(
            f"Xportcn order list: order {order_id} has {shown} at {shape.time_field!r} (its keys: "
            f"{_keys(row)}); cannot check it against the interval. Set time_field (and time_format, "
            "time_zone) to where and how the rows carry their creation time.",
            endpoint="order_list",
        )
    return parsed
