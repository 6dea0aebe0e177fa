"""What "wait until X" means, once, for sensors (sync pokes) and triggers (async polls).

A :class:`WaitSpec` names a *read-only* endpoint, its request body, where the status is in the
answer, the vocabulary to normalise it with, and the target and failure sets. ``evaluate``
turns one answer into ``success`` / ``failure`` / ``waiting``. Because sensors and triggers both
call ``evaluate``, a status means the same thing in poke, reschedule and deferrable mode.

The spec is JSON-serialisable (``to_dict``/``from_dict``) so a trigger can carry it across a
triggerer restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from xportcn_provider.api import statuses as st
from xportcn_provider.api.endpoints import get_endpoint
from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.ids import check_body_ids

Outcome = Literal["success", "failure", "waiting"]
StatusInput = Iterable[object] | str | None

_MISSING = object()
#: What :func:`lookup_path` answers for a path that is not there (``None`` can be a real value).
MISSING = _MISSING


@dataclass(frozen=True)
class WaitResult:
    """One evaluation: the outcome, the normalised status and whether the vocabulary knew it."""

    outcome: Outcome
    status: str | None
    raw_status: Any
    known: bool
    reason: str = ""
    #: The answer did not contain the object at all (``data: null``, no matching list row): the
    #: id is wrong, or the object is not readable yet right after its creation. ``PollState``
    #: allows ``WaitSpec.not_found_grace`` such answers before the wait fails.
    missing: bool = False


def lookup_path(data: Any, path: str) -> Any:
    """Follow a dotted path (``a.b``, ``list.0.status``) into JSON; ``_MISSING`` when absent.

    A leading ``data.`` refers to the envelope's data itself, so ``data.status`` and ``status``
    are the same path (the contract's examples use both).
    """
    parts = [p for p in path.split(".") if p]
    if parts and parts[0] == "data" and not (isinstance(data, Mapping) and "data" in data):
        parts = parts[1:]
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


@dataclass(frozen=True)
class WaitSpec:
    """A status wait. ``vocabulary=None`` means *presence*: done once ``status_field`` is non-empty."""

    endpoint: str
    body: Mapping[str, Any]
    status_field: str
    vocabulary: str | None
    targets: frozenset[str] = frozenset()
    failures: frozenset[str] = frozenset()
    failure_field: str | None = None
    failure_vocabulary: str | None = None
    failure_values: frozenset[str] = frozenset()
    description: str = ""
    ids: Mapping[str, Any] = field(default_factory=dict)
    #: When set, the answer is a list page: the record is the row under this path whose fields
    #: equal ``match`` (a service that ignores the filter must not end a wait with another row).
    rows_field: str | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    #: Statuses the vocabulary does not list but the user declares real (lower-cased raw values,
    #: e.g. 1688 ``waitlogisticstakein`` variants, unpublished package statuses): they may be
    #: targets or failures, and otherwise count as "not done yet".
    extra_statuses: frozenset[str] = frozenset()
    #: Reads that may find nothing (``data: null``, not-found, no matching row) before the object
    #: has ever been seen, without failing the wait: read-after-write lag right after a create.
    not_found_grace: int = 0

    def __post_init__(self) -> None:
        endpoint = get_endpoint(self.endpoint)
        if not endpoint.read_only:
            raise XportcnValidationError(
                f"A status wait may only poll read-only endpoints; {self.endpoint!r} changes state on "
                "the server and would be re-sent if the triggerer restarts.",
                parameter="endpoint",
            )
        # Ids of a known format (api/ids.py), here so that sensors, waiting operators and the
        # trigger (rebuilt from its serialized spec) all refuse a malformed one before any poll.
        check_body_ids(self.endpoint, self.body)
        if not isinstance(self.status_field, str) or not self.status_field.strip():
            raise XportcnValidationError(
                "status_field must be a non-empty dotted path.", parameter="status_field"
            )
        if self.vocabulary is not None:
            st.get_vocabulary(self.vocabulary)
            if not self.targets:
                raise XportcnValidationError(
                    "target_statuses must not be empty.", parameter="target_statuses"
                )
            overlap = self.targets & self.failures
            if overlap:
                raise XportcnValidationError(
                    f"failure_statuses: {', '.join(sorted(overlap))} is also in target_statuses; a "
                    "status cannot both end the wait with success and fail it.",
                    parameter="failure_statuses",
                )

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate(self, data: Any) -> WaitResult:
        """Classify one answer of ``endpoint``.

        Fails closed (issue 11 item 8): an answer without the object (``data: null``, an empty
        list, no row with our id) is ``missing``, not "not yet"; an object without the status
        field is a failure naming the field — neither can wait out a 7-day timeout.
        """
        if data is None:
            return WaitResult(
                "waiting", None, None, False, f"{self.endpoint} answered data: null", missing=True
            )
        if self.rows_field is not None:
            rows = lookup_path(data, self.rows_field)
            rows = [] if rows is _MISSING or rows is None else rows
            if not isinstance(rows, list):
                rows = []
            wanted = ", ".join(f"{k}={v}" for k, v in self.match.items())
            found = [
                row
                for row in rows
                if all(str(lookup_path(row, key)) == str(value) for key, value in self.match.items())
            ]
            if not found:
                why = (
                    f"{self.endpoint} listed no row"
                    if not rows
                    else f"{self.endpoint} listed {len(rows)} row(s), none with {wanted} (the service may "
                    "ignore the filter)"
                )
                return WaitResult("waiting", None, None, False, f"{why} for {wanted}", missing=True)
            data = found[0]
        failed = self._secondary_failure(data)
        if failed is not None:
            return failed
        raw = lookup_path(data, self.status_field)
        if self.vocabulary is None:
            present = raw is not _MISSING and raw not in (None, "", [], {})
            return WaitResult(
                "success" if present else "waiting",
                str(raw) if present else None,
                None if raw is _MISSING else raw,
                True,
                "" if present else f"{self.status_field} is not set yet",
            )
        if raw is _MISSING:
            keys = ", ".join(sorted(map(str, data))) if isinstance(data, Mapping) else type(data).__name__
            return WaitResult(
                "failure",
                None,
                None,
                False,
                f"the answer has no status at {self.status_field!r} (its keys: {keys}); set status_field "
                "to where this service puts the status",
            )
        vocab = st.get_vocabulary(self.vocabulary)
        status = vocab.normalize(raw)
        if status is None and raw is not None and str(raw).strip().lower() in self.extra_statuses:
            status = str(raw).strip().lower()
            if status in self.targets:
                return WaitResult("success", status, raw, True)
            if status in self.failures:
                return WaitResult("failure", status, raw, True, f"reached failure status {status!r}")
            return WaitResult("waiting", status, raw, True)
        if status is None:
            return WaitResult("waiting", None, raw, False, f"unknown {vocab.name} status {raw!r}")
        if status in self.targets:
            return WaitResult("success", status, raw, True)
        if status in self.failures:
            return WaitResult("failure", status, raw, True, f"reached failure status {status!r}")
        if status in vocab.terminal:
            return WaitResult(
                "failure",
                status,
                raw,
                True,
                f"reached terminal status {status!r}, from which no target "
                f"({', '.join(sorted(self.targets))}) can follow",
            )
        return WaitResult("waiting", status, raw, True)

    def _secondary_failure(self, data: Any) -> WaitResult | None:
        if not self.failure_field or not self.failure_vocabulary:
            return None
        raw = lookup_path(data, self.failure_field)
        if raw is _MISSING:
            return None
        status = st.get_vocabulary(self.failure_vocabulary).normalize(raw)
        if status is not None and status in self.failure_values:
            return WaitResult("failure", status, raw, True, f"{self.failure_field} is {status!r}")
        return None

    def observed(self, data: Any, result: WaitResult) -> str | None:
        """What one answer showed, in a few words: the monitoring page's "last status seen".

        The status when there is one; for a wait on a field's presence (a tracking number) the
        object's own status with that field (``waitsellersend (no trackingNumber yet)``,
        ``waitbuyerreceive (trackingNumber SF123)``); ``not found yet`` for an answer without the
        object.
        """
        if result.missing:
            return "not found yet"
        if self.vocabulary is not None:
            return result.status
        field = f"{self.status_field} {result.status}" if result.status else f"no {self.status_field} yet"
        if self.failure_field and self.failure_vocabulary and self.rows_field is None:
            raw = lookup_path(data, self.failure_field)
            status = None if raw is _MISSING else st.get_vocabulary(self.failure_vocabulary).normalize(raw)
            if status is not None:
                return f"{status} ({field})"
        return field

    def describe(self) -> str:
        """For log lines and error messages: what is awaited, for which ids."""
        ids = ", ".join(f"{k}={v}" for k, v in self.ids.items())
        what = self.description or self.endpoint
        return f"{what} ({ids})" if ids else what

    # --- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "body": dict(self.body),
            "status_field": self.status_field,
            "vocabulary": self.vocabulary,
            "targets": sorted(self.targets),
            "failures": sorted(self.failures),
            "failure_field": self.failure_field,
            "failure_vocabulary": self.failure_vocabulary,
            "failure_values": sorted(self.failure_values),
            "description": self.description,
            "ids": dict(self.ids),
            "rows_field": self.rows_field,
            "match": dict(self.match),
            "extra_statuses": sorted(self.extra_statuses),
            "not_found_grace": self.not_found_grace,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> WaitSpec:
        return cls(
            endpoint=raw["endpoint"],
            body=dict(raw.get("body") or {}),
            status_field=raw["status_field"],
            vocabulary=raw.get("vocabulary"),
            targets=frozenset(raw.get("targets") or ()),
            failures=frozenset(raw.get("failures") or ()),
            failure_field=raw.get("failure_field"),
            failure_vocabulary=raw.get("failure_vocabulary"),
            failure_values=frozenset(raw.get("failure_values") or ()),
            description=raw.get("description", ""),
            ids=dict(raw.get("ids") or {}),
            rows_field=raw.get("rows_field"),
            match=dict(raw.get("match") or {}),
            extra_statuses=frozenset(raw.get("extra_statuses") or ()),
            not_found_grace=int(raw.get("not_found_grace") or 0),
        )

    def after_write(self, grace: int | None = None) -> WaitSpec:
        """This wait started right after the write that created its object: allow read lag."""
        return replace(
            self, not_found_grace=max(self.not_found_grace, AFTER_WRITE_GRACE if grace is None else grace)
        )


# --- the provider's waits ----------------------------------------------------------------------


#: Reads right after a create that may find nothing before a waiting operator fails (lag).
AFTER_WRITE_GRACE = 3


def extra_status_set(raw: StatusInput) -> frozenset[str]:
    """The user's ``extra_statuses`` (strings), lower-cased; bad input names the parameter."""
    if raw is None:
        return frozenset()
    items = [raw] if isinstance(raw, str) else list(raw)
    result = set()
    for item in items:
        if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip():
            raise XportcnValidationError(
                f"extra_statuses: each status must be a non-empty string, got {item!r}.",
                parameter="extra_statuses",
            )
        result.add(str(item).strip().lower())
    return frozenset(result)


def _parse(
    vocab: st.StatusVocabulary, raw: StatusInput, parameter: str, extras: frozenset[str]
) -> frozenset[str]:
    items: list[object] = [raw] if isinstance(raw, str | int) else list(raw or ())
    known = [i for i in items if not (i is not None and str(i).strip().lower() in extras)]
    parsed = vocab.parse_set(known, parameter=parameter) if known else frozenset()
    return parsed | {
        str(i).strip().lower() for i in items if i is not None and str(i).strip().lower() in extras
    }


def _sets(
    vocabulary: str,
    targets: StatusInput,
    failures: StatusInput,
    default_targets: Iterable[str],
    default_failures: Iterable[str],
    extras: frozenset[str] = frozenset(),
) -> tuple[frozenset[str], frozenset[str]]:
    vocab = st.get_vocabulary(vocabulary)
    target_set = (
        _parse(vocab, targets, "target_statuses", extras)
        if targets is not None
        else frozenset(default_targets)
    )
    failure_set = (
        _parse(vocab, failures, "failure_statuses", extras)
        if failures is not None
        else frozenset(default_failures) - target_set
    )
    return target_set, failure_set


def _require_id(value: object, parameter: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, bool):
        raise XportcnValidationError(f"{parameter} is required.", parameter=parameter)
    if not isinstance(value, str | int):
        raise XportcnValidationError(
            f"{parameter} must be a string or an integer, got {type(value).__name__}.", parameter=parameter
        )
    return str(value)


def refund_wait(
    refund_id: object,
    *,
    target_statuses: StatusInput = None,
    failure_statuses: StatusInput = None,
    status_field: str = "status",
    extra_statuses: StatusInput = None,
) -> WaitSpec:
    """Refund: success ``refundsuccess``, failure ``refundclose`` by default."""
    rid = _require_id(refund_id, "refund_id")
    extras = extra_status_set(extra_statuses)
    targets, failures = _sets(
        "refund",
        target_statuses,
        failure_statuses,
        st.REFUND_STATUS.success,
        st.REFUND_STATUS.failure,
        extras,
    )
    return WaitSpec(
        "refund_detail",
        {"refundId": rid},
        status_field,
        "refund",
        targets,
        failures,
        description="refund status",
        ids={"refund_id": rid},
        extra_statuses=extras,
    )


def order_wait(
    order_id: object,
    *,
    target_statuses: StatusInput = "shipped",
    failure_statuses: StatusInput = None,
    status_field: str = "status",
    extra_statuses: StatusInput = None,
) -> WaitSpec:
    """1688 order: success "shipped" (``waitbuyerreceive``, ``confirm_goods``, ``success``)."""
    oid = _require_id(order_id, "order_id")
    extras = extra_status_set(extra_statuses)
    targets, failures = _sets(
        "order",
        target_statuses,
        failure_statuses,
        st.ORDER_STATUS.groups["shipped"],
        st.ORDER_STATUS.failure,
        extras,
    )
    return WaitSpec(
        "order_detail",
        {"orderId": oid},
        status_field,
        "order",
        targets,
        failures,
        description="order status",
        ids={"order_id": oid},
        extra_statuses=extras,
    )


def taobao_order_wait(
    order_id: object,
    *,
    target_statuses: StatusInput = "shipped",
    failure_statuses: StatusInput = None,
    status_field: str = "status",
    extra_statuses: StatusInput = None,
    id_field: str = "orderId",
) -> WaitSpec:
    """Taobao order (numeric statuses), read through ``taobao_order_list`` filtered by id.

    The filter is not trusted: the status is read from the listed row whose ``id_field`` is
    ``order_id`` (``status_field`` is relative to that row), never from whatever row comes first.
    """
    oid = _require_id(order_id, "order_id")
    vocab = st.TAOBAO_ORDER_STATUS
    extras = extra_status_set(extra_statuses)
    targets, failures = _sets(
        "taobao_order", target_statuses, failure_statuses, vocab.groups["shipped"], vocab.failure, extras
    )
    if isinstance(status_field, str) and status_field.startswith(f"{TAOBAO_ROWS}.0."):
        status_field = status_field.removeprefix(f"{TAOBAO_ROWS}.0.")  # the old spelling, row 0
    if not isinstance(id_field, str) or not id_field.strip():
        raise XportcnValidationError("id_field must be a non-empty dotted path.", parameter="id_field")
    return WaitSpec(
        "taobao_order_list",
        {"orderId": oid, "pageNo": 1, "pageSize": TAOBAO_WAIT_PAGE},
        status_field,
        "taobao_order",
        targets,
        failures,
        description="Taobao order status",
        ids={"order_id": oid},
        rows_field=TAOBAO_ROWS,
        match={id_field: oid},
        extra_statuses=extras,
    )


#: Where ``taobao_order_list`` keeps its rows, and how many a status read asks for (a service
#: ignoring the ``orderId`` filter still has a chance to list ours among the newest).
TAOBAO_ROWS = "list"
TAOBAO_WAIT_PAGE = 20


def package_wait(
    *,
    out_order_id: object = None,
    tracking_number: object = None,
    target_statuses: StatusInput = None,
    failure_statuses: StatusInput = None,
    status_field: str = "status",
    extra_statuses: StatusInput = None,
) -> WaitSpec:
    """Warehouse package by ``out_order_id`` or tracking number; default target ``QC_PASSED``."""
    if out_order_id in (None, "") and tracking_number in (None, ""):
        raise XportcnValidationError(
            "Give out_order_id or tracking_number to identify the package.", parameter="out_order_id"
        )
    body: dict[str, Any] = {}
    ids: dict[str, Any] = {}
    if out_order_id not in (None, ""):
        body["out_order_id"] = ids["out_order_id"] = _require_id(out_order_id, "out_order_id")
    if tracking_number not in (None, ""):
        body["logistics_tracking_number"] = ids["tracking_number"] = _require_id(
            tracking_number, "tracking_number"
        )
    extras = extra_status_set(extra_statuses)
    targets, failures = _sets(
        "package", target_statuses, failure_statuses, {st.QC_PASSED}, st.PACKAGE_STATUS.failure, extras
    )
    return WaitSpec(
        "package_detail",
        body,
        status_field,
        "package",
        targets,
        failures,
        description="package status",
        ids=ids,
        extra_statuses=extras,
    )


#: International leg: done once the warehouse has booked the shipment abroad (or it arrived).
INTERNATIONAL_DEFAULT_TARGETS = (st.SHIPPED, st.DELIVERED)


def international_wait(
    *,
    out_order_id: object = None,
    tracking_number: object = None,
    target_statuses: StatusInput = None,
    failure_statuses: StatusInput = None,
    status_field: str = "status",
    extra_statuses: StatusInput = None,
) -> WaitSpec:
    """The international leg: the warehouse package until it ships (``SHIPPED``/``DELIVERED``)."""
    return package_wait(
        out_order_id=out_order_id,
        tracking_number=tracking_number,
        target_statuses=INTERNATIONAL_DEFAULT_TARGETS if target_statuses is None else target_statuses,
        failure_statuses=failure_statuses,
        status_field=status_field,
        extra_statuses=extra_statuses,
    )


def domestic_tracking_wait(order_id: object, *, tracking_field: str = "trackingNumber") -> WaitSpec:
    """Order logistics: done once the seller's domestic tracking number exists; a cancelled order fails."""
    oid = _require_id(order_id, "order_id")
    return WaitSpec(
        "order_logistics",
        {"orderId": oid},
        tracking_field,
        None,
        failure_field="status",
        failure_vocabulary="order",
        failure_values=st.ORDER_STATUS.failure,
        description="domestic tracking number",
        ids={"order_id": oid},
    )
