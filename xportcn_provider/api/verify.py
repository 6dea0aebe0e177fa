"""Look-ups that tell whether a write whose answer was lost took effect.

No Xportcn page says the service deduplicates ``outOrderId``, refuses a second refund or ignores
a second payment (contract §5). So after a failure whose outcome is unknown (a timeout or a
dropped connection after sending, a bare 5xx), a write with the ``verify`` rule of
:data:`~xportcn_provider.api.endpoints.RETRY_RULES` is not resent blindly: its lookup here runs
first, and the object it finds becomes the call's answer. Operators use the same look-ups before
creating on a task retry, so the two paths cannot disagree.

A look-up is a generator: it *yields* the reads it needs as ``(endpoint name, body)`` and gets each
read's ``data`` back, then *returns* the object found or ``None`` ("not there: safe to send").
That keeps the logic free of I/O, so the sync client, the async client and the operators drive
the same code (:func:`run_lookup`, :func:`arun_lookup`). A look-up that cannot decide — the
service ignored our filter, a field it needs is missing, a status it cannot read — raises
:class:`CannotVerify` rather than guess: "not found" must mean not found, or money is spent twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from datetime import UTC, datetime
from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.api.errors import (
    XportcnError,
    XportcnNotFoundError,
    XportcnProtocolError,
    XportcnValidationError,
)

#: One read a look-up asks for: ``(endpoint name, request body)``.
Read = tuple[str, dict[str, Any]]
#: A look-up: yields reads, receives their ``data``, returns the object found or ``None``.
Lookup = Generator[Read, Any, Any]
#: Builds the look-up of a write from its request body and the time its first attempt was sent.
Verifier = Callable[[Mapping[str, Any], float], Lookup]

#: Rows a caller-key look-up reads: a service that honours the filter answers one or none.
LOOKUP_PAGE_SIZE = 20
#: Keys under which a sub-order (``productItems[]``) may carry its refund id. 1688 itself uses
#: ``refundId`` and, for after-sale refunds, ``refundIdForAs``; both are read.
SUB_ORDER_REFUND_KEYS = ("refundId", "refundIdForAs")
#: A refund that already *succeeded* is ours only if created after our first attempt was sent,
#: less this margin for the two clocks (the server accepts 600 s of skew; refunds are not
#: created that often on one sub-order).
CREATED_AFTER_MARGIN_S = 300.0
#: Keys a refund's creation time may sit under (ISO-8601 text, or Unix seconds / milliseconds).
CREATED_KEYS = ("createTime", "gmtCreate", "created")


class CannotVerify(XportcnProtocolError):
    """A look-up could not tell whether the object exists (a filter ignored, a field missing)."""


def run_lookup(lookup: Lookup, read: Callable[[str, dict[str, Any]], Any]) -> Any:
    """Drive ``lookup`` with a blocking ``read(name, body) -> data`` (a read's error is thrown in)."""
    try:
        request = next(lookup)
        while True:
            try:
                data = read(*request)
            except XportcnError as err:
                request = lookup.throw(err)
            else:
                request = lookup.send(data)
    except StopIteration as done:
        return done.value


async def arun_lookup(lookup: Lookup, read: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> Any:
    """Drive ``lookup`` with an async ``read(name, body) -> data`` (a read's error is thrown in)."""
    try:
        request = next(lookup)
        while True:
            try:
                data = await read(*request)
            except XportcnError as err:
                request = lookup.throw(err)
            else:
                request = lookup.send(data)
    except StopIteration as done:
        return done.value


# --- small readers -----------------------------------------------------------------------------


def _rows(data: Any, endpoint: str) -> list[Mapping[str, Any]]:
    """The rows of one list page; ``list: null`` or no data at all is an empty page."""
    rows: Any
    if data is None:
        return []
    if isinstance(data, list):
        rows = data
    elif isinstance(data, Mapping):
        key = next((k for k in ("list", "records", "items", "rows") if k in data), None)
        rows = data[key] if key is not None else None
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise CannotVerify(f"{endpoint} answered a page whose list is not a list.", endpoint=endpoint)
    else:
        raise CannotVerify(f"{endpoint} answered {type(data).__name__} instead of a page.", endpoint=endpoint)
    return [r for r in rows if isinstance(r, Mapping)]


def _field(row: Mapping[str, Any], name: str) -> Any:
    """``name`` at the top of ``row`` or under ``baseInfo`` (1688's own list nests the summary)."""
    if row.get(name) is not None:
        return row[name]
    base = row.get("baseInfo")
    if isinstance(base, Mapping):
        if base.get(name) is not None:
            return base[name]
        if name == "orderId" and base.get("id") is not None:
            return base["id"]
    return None


def order_id_of(row: Mapping[str, Any]) -> str | None:
    """An order row's id: ``orderId``, or 1688's nested ``baseInfo.id``."""
    value = _field(row, "orderId")
    return None if value in (None, "") else str(value)


def find_by_out_order_id(data: Any, out_order_id: str, endpoint: str) -> dict[str, Any] | None:
    """The row of a page filtered by ``outOrderId`` that is ours, ``None`` when the page is empty.

    A page with rows but none of them ours means the service ignored the filter: nothing can be
    concluded from it, so that raises :class:`CannotVerify` instead of answering "not found".
    """
    rows = _rows(data, endpoint)
    ours = [r for r in rows if str(_field(r, "outOrderId")) == out_order_id]
    if ours:
        row = ours[0]
        order_id = order_id_of(row)
        if order_id is None:
            raise CannotVerify(
                f"{endpoint}: the order with outOrderId {out_order_id} has no orderId (nor baseInfo.id).",
                endpoint=endpoint,
            )
        return {**row, "orderId": order_id, "outOrderId": out_order_id}
    if rows:
        raise CannotVerify(
            f"{endpoint} was asked for outOrderId {out_order_id} and answered {len(rows)} other order(s): "
            "the service ignores the outOrderId filter, so the order cannot be looked up.",
            endpoint=endpoint,
        )
    return None


def created_at(record: Mapping[str, Any]) -> float | None:
    """A record's creation time in Unix seconds, from the first of :data:`CREATED_KEYS` present."""
    for key in CREATED_KEYS:
        value = record.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) / 1000.0 if value > 1e11 else float(value)
        text = str(value).strip()
        if text.isdigit():
            number = float(text)
            return number / 1000.0 if number > 1e11 else number
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return None


# --- the look-ups ------------------------------------------------------------------------------


def order_by_out_order_id(list_endpoint: str, out_order_id: str) -> Lookup:
    """The order whose ``outOrderId`` is ours (1688: ``order_list``; Taobao: ``taobao_order_list``)."""
    data = yield (list_endpoint, {"outOrderId": out_order_id, "pageNo": 1, "pageSize": LOOKUP_PAGE_SIZE})
    return find_by_out_order_id(data, out_order_id, list_endpoint)


def paid_order(order_id: str) -> Lookup:
    """The order when it is already paid; ``None`` while it waits for payment."""
    detail = yield ("order_detail", {"orderId": order_id})
    if not isinstance(detail, Mapping):
        raise CannotVerify(f"order_detail answered no order for {order_id}.", endpoint="order_detail")
    status = st.ORDER_STATUS.normalize(detail.get("status"))
    pay_status = st.PAY_STATUS.normalize(detail.get("payStatus"))
    if status is None and pay_status is None:
        raise CannotVerify(
            f"order_detail of {order_id} has neither a known status ({detail.get('status')!r}) nor a "
            "payStatus: cannot tell whether it is paid.",
            endpoint="order_detail",
        )
    if pay_status == "paid" or status in st.ORDER_STATUS.groups["paid"]:
        return {"orderId": order_id, "payUrl": None, "alreadyPaid": True, "status": status}
    return None


def _sub_orders(detail: Any, order_id: str) -> list[Mapping[str, Any]]:
    items = detail.get("productItems") if isinstance(detail, Mapping) else None
    if not isinstance(items, list) or not items:
        raise CannotVerify(
            f"order_detail of {order_id} lists no productItems: its sub-orders' refunds cannot be read.",
            endpoint="order_detail",
        )
    return [i for i in items if isinstance(i, Mapping)]


def refunds_on_entries(items: list[Mapping[str, Any]], entries: set[str]) -> list[str]:
    """Refund ids shown by the sub-orders ``entries`` (under any of :data:`SUB_ORDER_REFUND_KEYS`)."""
    found: set[str] = set()
    for item in items:
        if str(item.get("subItemID")) not in entries:
            continue
        for key in SUB_ORDER_REFUND_KEYS:
            if item.get(key) not in (None, ""):
                found.add(str(item[key]))
    return sorted(found)


def refund_status(refund: Any, refund_id: str) -> str:
    """A refund's status, or :class:`CannotVerify` when the answer has no status we know."""
    status = st.REFUND_STATUS.normalize(refund.get("status") if isinstance(refund, Mapping) else None)
    if status is None:
        shown = refund.get("status") if isinstance(refund, Mapping) else refund
        raise CannotVerify(
            f"refund_detail of {refund_id} has no known status ({shown!r}): cannot tell open from closed.",
            endpoint="refund_detail",
        )
    return status


def refund_covering(
    order_id: str, entries: set[str], *, succeeded_since: float | None
) -> Generator[Read, Any, tuple[str, str, Mapping[str, Any]] | None]:
    """A refund on exactly ``entries`` that is open — or succeeded after ``succeeded_since``.

    Answers ``(refund_id, status, refund)``. A closed refund never counts (a new one is
    legitimate); a refund that succeeded before ``succeeded_since`` (or when that is ``None``) is
    an earlier, finished refund, not ours. A refund on some of ``entries`` but not exactly them
    raises :class:`CannotVerify`: reusing or creating would both be wrong.
    """
    detail = yield ("order_detail", {"orderId": order_id})
    items = _sub_orders(detail, order_id)
    known = {str(i.get("subItemID")) for i in items}
    unknown = sorted(entries - known)
    if unknown:
        raise XportcnValidationError(
            f"order_entry_ids: {', '.join(unknown)} is not a sub-order of order {order_id} "
            f"(its sub-orders: {', '.join(sorted(known))}).",
            parameter="order_entry_ids",
        )
    for refund_id in refunds_on_entries(items, entries):
        refund = yield ("refund_detail", {"refundId": refund_id})
        status = refund_status(refund, refund_id)
        if status == st.REFUNDCLOSE:
            continue
        if status == st.REFUNDSUCCESS:
            created = created_at(refund)
            if succeeded_since is None:
                continue
            if created is None:
                raise CannotVerify(
                    f"refund {refund_id} on the requested sub-orders succeeded and shows no creation time: "
                    "cannot tell whether it is the one just requested.",
                    endpoint="refund_detail",
                )
            if created < succeeded_since - CREATED_AFTER_MARGIN_S:
                continue
        covered = {str(e) for e in (refund.get("orderEntryIds") or [])}
        if not covered:
            covered = {
                str(i.get("subItemID"))
                for i in items
                if any(str(i.get(k)) == refund_id for k in SUB_ORDER_REFUND_KEYS)
            }
        if covered != entries:
            raise XportcnValidationError(
                f"order_entry_ids: sub-order(s) {', '.join(sorted(covered & entries))} already have "
                f"refund {refund_id} ({status}) covering {', '.join(sorted(covered))}; cancel it first "
                "or request exactly those sub-orders.",
                parameter="order_entry_ids",
            )
        return refund_id, status, refund
    return None


def _refund_create(body: Mapping[str, Any], sent_at: float) -> Lookup:
    entries = {str(e) for e in body.get("orderEntryIds") or []}
    found = yield from refund_covering(str(body.get("orderId")), entries, succeeded_since=sent_at)
    if found is None:
        return None
    refund_id, status, refund = found
    return {**refund, "refundId": refund_id, "status": status}


def _refund_cancel(body: Mapping[str, Any], sent_at: float) -> Lookup:
    refund_id = str(body.get("refundId"))
    refund = yield ("refund_detail", {"refundId": refund_id})
    if refund_status(refund, refund_id) == st.REFUNDCLOSE:
        return f"refund {refund_id} is closed (verified after a lost answer)"
    return None


def _refund_return_submit(body: Mapping[str, Any], sent_at: float) -> Lookup:
    refund_id = str(body.get("refundId"))
    refund = yield ("refund_detail", {"refundId": refund_id})
    recorded = refund.get("returnLogistics") if isinstance(refund, Mapping) else None
    if isinstance(recorded, Mapping) and str(recorded.get("freightBill")) == str(body.get("freightBill")):
        return f"waybill {body.get('freightBill')} is recorded on refund {refund_id} (verified)"
    return None


def _package(body: Mapping[str, Any]) -> Generator[Read, Any, Mapping[str, Any] | None]:
    """The package of ``out_order_id``, ``None`` when the warehouse does not know it."""
    out_order_id = str(body.get("out_order_id"))
    try:
        package = yield ("package_detail", {"out_order_id": out_order_id})
    except XportcnNotFoundError as err:
        if err.http_status == 404:  # the *path* is wrong, not the package missing
            raise
        return None
    return package if isinstance(package, Mapping) and package else None


def _package_forecast(body: Mapping[str, Any], sent_at: float) -> Lookup:
    return (yield from _package(body))


def _package_inbound(body: Mapping[str, Any], sent_at: float) -> Lookup:
    package = yield from _package(body)
    if package is None:
        return None
    status = st.PACKAGE_STATUS.normalize(package.get("status"))
    if status is None:
        raise CannotVerify(
            f"package_detail of {body.get('out_order_id')} has no known status ({package.get('status')!r}).",
            endpoint="package_detail",
        )
    return package if status != st.FORECASTED else None


def _package_update(body: Mapping[str, Any], sent_at: float) -> Lookup:
    package = yield from _package(body)
    if package is None:
        return None
    tracking = body.get("logistics_tracking_number")
    if tracking is not None and str(package.get("logistics_tracking_number")) != str(tracking):
        return None
    if body.get("items") is not None and package.get("items") != body.get("items"):
        return None
    return package


def _address_save(body: Mapping[str, Any], sent_at: float) -> Lookup:
    data = yield ("address_list", {})
    rows = _rows(data, "address_list")
    keys = ("name", "phone", "province", "city", "address")
    for row in rows:
        if body.get("id") not in (None, "") and str(row.get("id")) != str(body["id"]):
            continue
        if all(str(row.get(k)) == str(body.get(k)) for k in keys):
            return {"id": row.get("id")}
    return None


def _order_create(body: Mapping[str, Any], sent_at: float) -> Lookup:
    found = yield from order_by_out_order_id("order_list", str(body.get("outOrderId")))
    return None if found is None else {**found, "duplicate": True}


def _taobao_order_create(body: Mapping[str, Any], sent_at: float) -> Lookup:
    found = yield from order_by_out_order_id("taobao_order_list", str(body.get("outOrderId")))
    return None if found is None else {**found, "duplicate": True}


def _order_pay(body: Mapping[str, Any], sent_at: float) -> Lookup:
    return (yield from paid_order(str(body.get("orderId"))))


#: The look-up of every ``verify`` endpoint (a test checks this matches ``RETRY_RULES``).
VERIFIERS: Mapping[str, Verifier] = {
    "order_create": _order_create,
    "taobao_order_create": _taobao_order_create,
    "order_pay": _order_pay,
    "refund_create": _refund_create,
    "refund_cancel": _refund_cancel,
    "refund_return_submit": _refund_return_submit,
    "package_forecast": _package_forecast,
    "package_inbound": _package_inbound,
    "package_update": _package_update,
    "address_save": _address_save,
}

#: The caller key(s) of each write, named in ``XportcnOutcomeUnknownError`` so a person can look.
CALLER_KEYS: Mapping[str, tuple[str, ...]] = {
    "order_create": ("outOrderId",),
    "taobao_order_create": ("outOrderId",),
    "order_pay": ("orderId",),
    "refund_create": ("orderId", "orderEntryIds"),
    "refund_cancel": ("refundId",),
    "refund_return_submit": ("refundId", "freightBill"),
    "package_forecast": ("out_order_id", "logistics_tracking_number"),
    "package_inbound": ("out_order_id",),
    "package_update": ("out_order_id",),
    "address_save": ("id", "name"),
    "intl_logistics_create": ("tmallOrderId",),
    "domestic_logistics_update": ("orderId", "tmallOrderId"),
    "refund_voucher_upload": ("fileName",),
}


def caller_key(name: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller key(s) of write ``name`` in ``body`` (never the body itself: it may be large)."""
    body = dict(body or {})
    info = body.get("tmallOrderInfo")
    if isinstance(info, Mapping) and "tmallOrderId" not in body:
        body["tmallOrderId"] = info.get("tmallOrderId")  # the booking's key sits one level down
    return {k: body.get(k) for k in CALLER_KEYS.get(name, ()) if body.get(k) is not None}
