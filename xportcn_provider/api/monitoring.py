"""What the Xportcn monitoring pages show, decided without Airflow (issue 18).

The plugin's pages (``xportcn_provider.plugins.monitor``) read Airflow's metadata DB in a few
bounded queries and hand plain rows to the functions here, which decide what each row means:
which task instances are Xportcn waits and of which kind (:data:`WAIT_OPERATORS`), which remote
ids and statuses their rendered fields name (:func:`describe_wait`), which XCom keys are objects
the operators created (:data:`CREATED_KEYS`), and how the "In flight" table is filtered and
sorted (:func:`select_waits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Task-instance states of a wait that is not finished.
IN_FLIGHT_STATES = ("deferred", "up_for_reschedule", "running", "queued")

#: Operator class name -> the kind of object it waits on.
WAIT_OPERATORS: Mapping[str, str] = {
    "XportcnRefundStatusSensor": "refund",
    "XportcnOrderStatusSensor": "order",
    "XportcnPackageStatusSensor": "package",
    "XportcnLogisticsStatusSensor": "logistics",
    "XportcnCreateRefundOperator": "refund",  # with wait_for_completion=True
}
KINDS = ("order", "refund", "package", "logistics")

#: Rendered template field -> the id it holds, per kind (the sensors' template fields).
ID_FIELDS: Mapping[str, tuple[str, ...]] = {
    "order": ("order_id",),
    "refund": ("refund_id", "order_id"),
    "package": ("out_order_id", "logistics_tracking_number"),
    "logistics": ("order_id", "out_order_id", "leg"),
}

#: XCom key an operator pushes -> the kind of object it created or names.
CREATED_KEYS: Mapping[str, str] = {
    "order_id": "order",
    "refund_id": "refund",
    "logistics_order_id": "logistics",
    "out_order_id": "package",
}


def _text(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def _statuses(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") or text.startswith("("):  # a rendered list comes back as its repr
            text = text.strip("[]()")
        return [part.strip().strip("'\"") for part in text.split(",") if part.strip().strip("'\"")]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]


@dataclass(frozen=True)
class WaitRow:
    """One unfinished Xportcn wait."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str
    operator: str
    kind: str
    ids: Mapping[str, str]
    conn_id: str
    target: list[str] = field(default_factory=list)
    failure: list[str] = field(default_factory=list)
    since: datetime | None = None
    last_status: str | None = None

    def age_hours(self, now: datetime) -> float | None:
        return None if self.since is None else max(0.0, (now - self.since).total_seconds() / 3600)

    @property
    def console_target(self) -> tuple[str, str] | None:
        """``(console kind, id)`` for the console link: a wait keyed by an order id opens the order."""
        primary = self.primary_id
        if primary is None:
            return None
        name, value = primary
        return ("order", value) if name == "order_id" else (self.kind, value)

    @property
    def primary_id(self) -> tuple[str, str] | None:
        """``(field, id)`` of the object the console link points at."""
        for name in ID_FIELDS.get(self.kind, ()):
            if name in self.ids and name != "leg":
                return name, self.ids[name]
        return None


def describe_wait(
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    state: str,
    operator: str,
    rendered: Mapping[str, Any] | None,
    since: datetime | None,
    last_status: str | None = None,
) -> WaitRow | None:
    """A :class:`WaitRow`, or ``None`` when the task is not an Xportcn wait."""
    kind = WAIT_OPERATORS.get(operator)
    if kind is None:
        return None
    fields = dict(rendered or {})
    ids = {name: text for name in ID_FIELDS[kind] if (text := _text(fields.get(name))) is not None}
    return WaitRow(
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        state=state,
        operator=operator,
        kind=kind,
        ids=ids,
        conn_id=_text(fields.get("xportcn_conn_id")) or "xportcn_default",
        target=_statuses(fields.get("target_statuses")),
        failure=_statuses(fields.get("failure_statuses")),
        since=since,
        last_status=last_status,
    )


def select_waits(
    rows: Iterable[WaitRow],
    *,
    now: datetime,
    dag_id: str | None = None,
    kind: str | None = None,
    older_than_hours: float | None = None,
) -> list[WaitRow]:
    """Filter by DAG, kind and minimum age; oldest first (a wait without a start time last)."""
    chosen = [
        row
        for row in rows
        if (not dag_id or row.dag_id == dag_id)
        and (not kind or row.kind == kind)
        and (older_than_hours is None or (row.age_hours(now) or 0.0) >= older_than_hours)
    ]
    return sorted(chosen, key=lambda r: (r.since is None, r.since or now, r.dag_id, r.task_id))


def parse_hours(raw: str | None) -> float | None:
    """The "waiting longer than N hours" filter: a number >= 0, or ``None`` (ignored when bad)."""
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


@dataclass(frozen=True)
class CreatedRow:
    """An object an operator created (or named), from one XCom row."""

    kind: str
    object_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    at: datetime | None


def describe_created(
    *, key: str, value: Any, dag_id: str, run_id: str, task_id: str, map_index: int, at: datetime | None
) -> CreatedRow | None:
    kind = CREATED_KEYS.get(key)
    object_id = _text(value)
    if kind is None or object_id is None:
        return None
    return CreatedRow(kind, object_id, dag_id, run_id, task_id, map_index, at)


def first_mentions(rows: Iterable[CreatedRow]) -> list[CreatedRow]:
    """One row per object: the earliest task that pushed its id (the creator, not later users).

    ``create_order`` and ``pay_order`` both push ``order_id``; the page lists the order once,
    newest objects first.
    """
    first: dict[tuple[str, str], CreatedRow] = {}
    for row in rows:
        key = (row.kind, row.object_id)
        known = first.get(key)
        if known is None or (row.at is not None and (known.at is None or row.at < known.at)):
            first[key] = row
    return sorted(first.values(), key=lambda r: r.at.timestamp() if r.at else 0.0, reverse=True)
