"""What the Xportcn monitoring pages show, decided without Airflow (issue 18).

The plugin's pages (``xportcn_provider.plugins.monitor``) read Airflow's metadata DB in a few
bounded queries and hand plain rows to the functions here, which decide what each row means:
which task instances are Xportcn waits and of which kind (:data:`WAIT_OPERATORS`), which remote
ids and statuses their rendered fields name (:func:`describe_wait`), which XCom keys are objects
the operators created (:data:`CREATED_KEYS`), and how the "In flight" table is filtered and
sorted (:func:`select_waits`), and what "last status seen" a wait shows (:class:`LastStatus`).

**Last status seen.** A sensor or waiting operator records every status it reads (on change, and
at least every :data:`LAST_STATUS_REFRESH_SECONDS`) in Airflow's ``task_state_store`` under
:data:`LAST_STATUS_KEY`; a deferrable wait records its check before deferring. Triggers cannot
write there (Airflow 3.3 gives a trigger no task state store), so while a wait is deferred the
page shows that check, or a newer pushed message about the same order or refund when the push
receiver has one (:func:`newest_status`). The page says which of the two it shows and when.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xportcn_provider.api.waits import WaitSpec

#: Task-instance states of a wait that is not finished.
IN_FLIGHT_STATES = ("deferred", "up_for_reschedule", "running", "queued")

#: Operator class name -> the kind of object it waits on.
WAIT_OPERATORS: Mapping[str, str] = {
    "XportcnRefundStatusSensor": "refund",
    "XportcnOrderStatusSensor": "order",
    "XportcnPackageStatusSensor": "package",
    "XportcnLogisticsStatusSensor": "logistics",
    "XportcnCreateRefundOperator": "refund",  # with wait_for_completion=True
    "XportcnCreateOrderOperator": "order",  # with wait_for
}
KINDS = ("order", "refund", "package", "logistics")

#: Rendered template field -> the id it holds, per kind (the sensors' template fields).
ID_FIELDS: Mapping[str, tuple[str, ...]] = {
    "order": ("order_id", "platform"),
    "refund": ("refund_id", "order_id"),
    "package": ("out_order_id", "tracking_number"),
    "logistics": ("order_id", "out_order_id", "tracking_number", "leg"),
}

#: Waiting operators: they create first and wait after, so they are a wait only once deferred or
#: once they recorded a status; the ids they wait on are their XComs (pushed before waiting).
WAITING_OPERATORS = frozenset({"XportcnCreateRefundOperator", "XportcnCreateOrderOperator"})

#: Operators whose ``order_id`` XCom is a Taobao order (read with ``taobao_order_list``).
TAOBAO_CREATORS = frozenset({"XportcnTaobaoCreateOrderOperator"})

#: Rendered fields kept with the ids because they change how the object is read.
NOT_IDS = frozenset({"leg", "platform"})

#: XCom key an operator pushes -> the kind of object it created or names.
CREATED_KEYS: Mapping[str, str] = {
    "order_id": "order",
    "refund_id": "refund",
    "logistics_order_id": "logistics",
    "out_order_id": "package",
}


#: ``task_state_store`` key under which a wait records the last status it read.
LAST_STATUS_KEY = "xportcn_last_status"
#: An unchanged status is written again after this long, so "seen at" stays current in poke mode.
LAST_STATUS_REFRESH_SECONDS = 300.0
#: Where a last status came from (shown on the page).
VIA_POKE = "poke"
VIA_BEFORE_DEFER = "check before deferring"
VIA_PUSH = "push message"
#: Wait kind -> (push message kind, the message field naming the object, the wait's id field).
#: Only orders and refunds are pushed; a logistics or package wait has its own vocabulary.
PUSHED_KINDS: Mapping[str, tuple[str, str, str]] = {
    "order": ("orders", "order_id", "order_id"),
    "refund": ("refunds", "refund_id", "refund_id"),
}


@dataclass(frozen=True)
class LastStatus:
    """The newest status the provider knows of one waited-on object, and how it knows."""

    status: str
    seen_at: datetime | None
    via: str

    def stored(self) -> dict[str, str | None]:
        """The JSON a wait writes to ``task_state_store``."""
        return {
            "status": self.status,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
            "via": self.via,
        }

    def __str__(self) -> str:
        when = self.seen_at.strftime("%Y-%m-%d %H:%M:%S") if self.seen_at else "?"
        return f"{self.status} ({self.via}, {when} UTC)"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_last_status(raw: Any) -> LastStatus | None:
    """A recorded :class:`LastStatus` from the store's value (JSON text or dict); ``None`` if unusable."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict) or _text(raw.get("status")) is None:
        return None
    seen_at = None
    if isinstance(raw.get("seen_at"), str):
        try:
            seen_at = _aware(datetime.fromisoformat(raw["seen_at"]))
        except ValueError:
            seen_at = None
    return LastStatus(str(raw["status"]), seen_at, _text(raw.get("via")) or VIA_POKE)


def pushed_statuses(events: Iterable[tuple[datetime | None, Any]]) -> dict[tuple[str, str], LastStatus]:
    """``(wait kind, object id) -> newest pushed status`` from asset-event ``(timestamp, extra)`` rows.

    A message marked ``stale`` (older than one already received for the object) never counts.
    """
    by_message_kind = {push_kind: (kind, field) for kind, (push_kind, field, _) in PUSHED_KINDS.items()}
    newest: dict[tuple[str, str], LastStatus] = {}
    for at, extra in events:
        if not isinstance(extra, dict) or extra.get("stale"):
            continue
        target = by_message_kind.get(str(extra.get("kind")))
        status = _text(extra.get("status")) or _text(extra.get("raw_status"))
        if target is None or status is None:
            continue
        object_id = _text(extra.get(target[1]))
        if object_id is None:
            continue
        seen = LastStatus(status, _aware(at), VIA_PUSH)
        known = newest.get((target[0], object_id))
        if known is None or _later(seen.seen_at, known.seen_at):
            newest[(target[0], object_id)] = seen
    return newest


def _later(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


def newest_status(recorded: LastStatus | None, pushed: LastStatus | None) -> LastStatus | None:
    """The newer of what the wait recorded and what was pushed (the recorded one on a tie)."""
    if pushed is None:
        return recorded
    if recorded is None or _later(pushed.seen_at, recorded.seen_at):
        return pushed
    return recorded


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
    last_status: LastStatus | None = None
    #: ``target``/``failure`` are the sensor's defaults (none given in the DAG), shown as such.
    target_is_default: bool = False
    failure_is_default: bool = False

    def age_hours(self, now: datetime) -> float | None:
        return None if self.since is None else max(0.0, (now - self.since).total_seconds() / 3600)

    @property
    def console_target(self) -> tuple[str, str] | None:
        """``(console kind, id)`` for the console link: a wait keyed by an order id opens the order."""
        primary = self.primary_id
        if primary is None:
            return None
        name, value = primary
        if name == "tracking_number":  # the console finds a package by its out_order_id only
            return None
        return ("order", value) if name == "order_id" else (self.kind, value)

    @property
    def pushed_key(self) -> tuple[str, str] | None:
        """The key of :func:`pushed_statuses` whose messages are about this wait's object."""
        spec = PUSHED_KINDS.get(self.kind)
        if spec is None or spec[2] not in self.ids:
            return None
        return self.kind, self.ids[spec[2]]

    @property
    def primary_id(self) -> tuple[str, str] | None:
        """``(field, id)`` of the object the console link points at."""
        for name in ID_FIELDS.get(self.kind, ()):
            if name in self.ids and name not in NOT_IDS:
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
    last_status: LastStatus | None = None,
    xcom_ids: Mapping[str, Any] | None = None,
) -> WaitRow | None:
    """A :class:`WaitRow`, or ``None`` when the task is not an Xportcn wait (yet).

    ``xcom_ids``: the task's own XComs named in :data:`CREATED_KEYS`, which name what a waiting
    operator waits on (its refund id is known only once it has created the refund).
    """
    kind = WAIT_OPERATORS.get(operator)
    if kind is None:
        return None
    if operator in WAITING_OPERATORS and state != "deferred" and last_status is None:
        return None  # still creating, or not configured to wait
    fields = {**dict(rendered or {}), **{k: v for k, v in dict(xcom_ids or {}).items() if v is not None}}
    ids = {name: text for name in ID_FIELDS[kind] if (text := _text(fields.get(name))) is not None}
    target = _statuses(fields.get("target_statuses"))
    failure = _statuses(fields.get("failure_statuses"))
    target_default = failure_default = False
    if operator not in WAITING_OPERATORS and (not target or not failure):
        # A sensor's statuses are template fields: none rendered means its defaults, which are
        # the ones its WaitSpec carries (a waiting operator's are not rendered: not guessed).
        defaults = _default_statuses(kind, ids)
        if defaults is not None:
            if not target:
                target, target_default = defaults[0], True
            if not failure:
                failure, failure_default = defaults[1], True
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
        target=target,
        failure=failure,
        since=since,
        last_status=last_status,
        target_is_default=target_default,
        failure_is_default=failure_default,
    )


def _default_statuses(kind: str, ids: Mapping[str, str]) -> tuple[list[str], list[str]] | None:
    """What a sensor of ``kind`` on ``ids`` waits for and fails on when the DAG sets neither."""
    from xportcn_provider.api.errors import XportcnValidationError

    if kind == "refund" and "refund_id" not in ids:
        return None
    try:
        found = _read_spec(kind, ids)
    except XportcnValidationError:
        return None
    if found is None:
        return None
    spec = found[3]
    target = sorted(spec.targets) or [f"{spec.status_field} present"]
    return target, sorted(spec.failures | spec.failure_values)


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


# --- the task tab: which objects to read live, and how --------------------------------------------

#: Why an object has no live read.
NO_READ_LOGISTICS = (
    "The service has no read endpoint for international logistics orders; open it in the console."
)


@dataclass(frozen=True)
class LiveObject:
    """One object on a task's tab and the read that shows its status now.

    ``spec`` is the same :class:`~xportcn_provider.api.waits.WaitSpec` a sensor on that object
    would poll (one source of truth for endpoint, body and where the status is), or ``None``
    with ``no_read`` saying why.
    """

    kind: str
    object_id: str
    source: str
    #: a key of ``CONSOLE_PATHS``, or ``None`` when the console cannot open it by this id
    console_kind: str | None
    spec: WaitSpec | None
    no_read: str | None = None


def _read_spec(kind: str, ids: Mapping[str, str]) -> tuple[str, str, str | None, WaitSpec] | None:
    """``(kind, id, console kind, spec)`` of the object a wait's ids name, read as its sensor does."""
    from xportcn_provider.api import waits

    if kind == "order" and "order_id" in ids:
        if str(ids.get("platform", "")).strip().lower() == "taobao":
            oid = ids["order_id"]
            return "order", oid, "taobao_order", waits.taobao_order_wait(oid)
        return "order", ids["order_id"], "order", waits.order_wait(ids["order_id"])
    if kind == "refund" and "refund_id" in ids:
        return "refund", ids["refund_id"], "refund", waits.refund_wait(ids["refund_id"])
    if kind == "refund" and "order_id" in ids:  # a refund not created yet: the order it is about
        return "order", ids["order_id"], "order", waits.order_wait(ids["order_id"])
    if kind == "package" and ("out_order_id" in ids or "tracking_number" in ids):
        spec = waits.package_wait(
            out_order_id=ids.get("out_order_id"), tracking_number=ids.get("tracking_number")
        )
        if "out_order_id" in ids:
            return "package", ids["out_order_id"], "package", spec
        return "package", ids["tracking_number"], None, spec
    if kind == "logistics":
        international = str(ids.get("leg", "domestic")).strip().lower() == "international"
        if international and ("out_order_id" in ids or "tracking_number" in ids):
            spec = waits.international_wait(
                out_order_id=ids.get("out_order_id"), tracking_number=ids.get("tracking_number")
            )
            if "out_order_id" in ids:
                return "package", ids["out_order_id"], "package", spec
            return "package", ids["tracking_number"], None, spec
        if not international and "order_id" in ids:
            return "order", ids["order_id"], "order", waits.domestic_tracking_wait(ids["order_id"])
    return None


def live_objects(wait: WaitRow | None, xcom_ids: Mapping[str, Any], *, operator: str) -> list[LiveObject]:
    """What a task's tab reads: the object it waits on, then the objects it created (its XComs)."""
    from xportcn_provider.api.errors import XportcnValidationError

    objects: list[LiveObject] = []
    seen: set[tuple[str, str]] = set()

    def add(
        kind: str,
        object_id: str,
        source: str,
        console_kind: str | None,
        spec: WaitSpec | None,
        why: str | None,
    ) -> None:
        if (kind, object_id) not in seen:
            seen.add((kind, object_id))
            objects.append(LiveObject(kind, object_id, source, console_kind, spec, why))

    if wait is not None and wait.primary_id is not None:
        try:
            found = _read_spec(wait.kind, wait.ids)
        except XportcnValidationError as err:
            name, value = wait.primary_id
            add(wait.kind, value, f"waits on ({name})", wait.kind, None, f"Cannot read it: {err.message}")
        else:
            if found is not None:
                kind, object_id, console_kind, spec = found
                add(kind, object_id, f"waits on ({wait.primary_id[0]})", console_kind, spec, None)
    taobao = operator in TAOBAO_CREATORS
    for key, value in xcom_ids.items():
        created_kind = CREATED_KEYS.get(key)
        created_id = _text(value)
        if created_kind is None or created_id is None:
            continue
        source = f"XCom {key}"
        if created_kind == "logistics":
            add(created_kind, created_id, source, "logistics", None, NO_READ_LOGISTICS)
            continue
        ids = {key: created_id, **({"platform": "taobao"} if taobao else {})}
        try:
            found = _read_spec(created_kind, ids)
        except XportcnValidationError as err:
            add(created_kind, created_id, source, created_kind, None, f"Cannot read it: {err.message}")
            continue
        if found is not None:
            add(found[0], found[1], source, found[2], found[3], None)
    return objects
