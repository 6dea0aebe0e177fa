"""Status vocabularies (contract §3) with their terminal sets and one normaliser per vocabulary.

A status from the API, a push message or a user's ``target_statuses`` goes through
:meth:`StatusVocabulary.normalize` before it is compared, so ``WAITING_FOR_SENT``,
``waitsellersend`` and ``WaitSellerSend`` are one value, and Taobao's ``10``/``"10"`` is
``wait_seller_send``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from xportcn_provider.api.errors import XportcnValidationError


@dataclass(frozen=True)
class StatusVocabulary:
    """Canonical values, aliases (other spellings, numeric codes) and the terminal sets."""

    name: str
    values: tuple[str, ...]
    success: frozenset[str]
    failure: frozenset[str]
    aliases: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: One word per status for messages, so every module says the same thing (``refundsuccess``
    #: is "succeeded", ``refundclose`` "closed"). Statuses without one are shown bare.
    labels: Mapping[str, str] = field(default_factory=dict)

    def describe(self, value: str | None) -> str:
        """``refundsuccess (succeeded)``: the status and its one word, for logs and errors."""
        if value is None:
            return "an unknown status"
        label = self.labels.get(value)
        return f"{value} ({label})" if label else value

    def describe_set(self, statuses: Iterable[str]) -> str:
        """A target set the way a user thinks of it: ``shipped (waitbuyerreceive, …, success)``.

        Statuses in life-cycle order (the order of :attr:`values`), not alphabetical; a set that
        is exactly one group is named by the group. Values outside the vocabulary come last.
        """
        wanted = frozenset(statuses)
        order = {v: i for i, v in enumerate(self.values)}
        listed = ", ".join(sorted(wanted, key=lambda v: (order.get(v, len(order)), v)))
        for name, members in self.groups.items():
            if members == wanted:
                return f"{name} ({listed})"
        return listed

    def normalize(self, raw: object) -> str | None:
        """The canonical value for ``raw``, or ``None`` when it is not in this vocabulary."""
        if raw is None or isinstance(raw, bool):
            return None
        key = str(raw).strip().lower()
        if key in self._lookup:
            return self._lookup[key]
        return None

    @cached_property
    def _lookup(self) -> dict[str, str]:
        table = {v.lower(): v for v in self.values}
        table.update({k.lower(): v for k, v in self.aliases.items()})
        return table

    @property
    def terminal(self) -> frozenset[str]:
        return self.success | self.failure

    def parse_set(self, raw: Iterable[object] | str, *, parameter: str) -> frozenset[str]:
        """Normalise a user's list of statuses or group names; an unknown one is a validation error."""
        items: Iterable[object] = [raw] if isinstance(raw, str | int) else raw
        result: set[str] = set()
        for item in items:
            group = self.groups.get(str(item).strip().lower()) if item is not None else None
            if group is not None:
                result |= group
                continue
            value = self.normalize(item)
            if value is None:
                known = ", ".join([*self.values, *sorted(self.groups)])
                raise XportcnValidationError(
                    f"{parameter}: {item!r} is not a {self.name} status. Known: {known}.",
                    parameter=parameter,
                )
            result.add(value)
        return frozenset(result)


# --- 1688 orders ------------------------------------------------------------------------------
WAITBUYERPAY = "waitbuyerpay"
WAITSELLERSEND = "waitsellersend"
WAITBUYERRECEIVE = "waitbuyerreceive"
CONFIRM_GOODS = "confirm_goods"
ORDER_SUCCESS = "success"
ORDER_CANCEL = "cancel"
TERMINATED = "terminated"
#: Real 1688 statuses the contract does not list (1688 open platform): the seller has shipped and
#: the carrier has not picked up yet; the parcel waits for the buyer's signature; signed.
WAITLOGISTICSTAKEIN = "waitlogisticstakein"
WAITBUYERSIGN = "waitbuyersign"
SIGNINSUCCESS = "signinsuccess"

ORDER_STATUS = StatusVocabulary(
    name="1688 order",
    # Life-cycle order: messages list statuses in it (describe_set).
    values=(
        WAITBUYERPAY,
        WAITSELLERSEND,
        WAITLOGISTICSTAKEIN,
        WAITBUYERRECEIVE,
        WAITBUYERSIGN,
        SIGNINSUCCESS,
        CONFIRM_GOODS,
        ORDER_SUCCESS,
        ORDER_CANCEL,
        TERMINATED,
    ),
    success=frozenset({ORDER_SUCCESS}),
    failure=frozenset({ORDER_CANCEL, TERMINATED}),
    aliases={
        "WAITING_FOR_PAYMENT": WAITBUYERPAY,
        "WAITING_FOR_SENT": WAITSELLERSEND,
        "WAITING_FOR_SEND": WAITSELLERSEND,
        "WAITING_FOR_RECEIVE": WAITBUYERRECEIVE,
        "CONFIRM-GOODS": CONFIRM_GOODS,
        "confirmgoods": CONFIRM_GOODS,
        "CANCEL": ORDER_CANCEL,
        "CANCELLED": ORDER_CANCEL,
        "TERMINATED": TERMINATED,
        "SUCCESS": ORDER_SUCCESS,
    },
    groups={
        "paid": frozenset(
            {
                WAITSELLERSEND,
                WAITLOGISTICSTAKEIN,
                WAITBUYERRECEIVE,
                WAITBUYERSIGN,
                SIGNINSUCCESS,
                CONFIRM_GOODS,
                ORDER_SUCCESS,
            }
        ),
        "shipped": frozenset({WAITBUYERRECEIVE, WAITBUYERSIGN, SIGNINSUCCESS, CONFIRM_GOODS, ORDER_SUCCESS}),
        "received": frozenset({SIGNINSUCCESS, CONFIRM_GOODS, ORDER_SUCCESS}),
        "completed": frozenset({ORDER_SUCCESS}),
    },
)

#: Push messages' ``payStatus``: 1 unpaid, 2 paid.
PAY_STATUS = StatusVocabulary(
    name="push payStatus",
    values=("unpaid", "paid"),
    success=frozenset({"paid"}),
    failure=frozenset(),
    aliases={"1": "unpaid", "2": "paid"},
)

# --- 1688 refunds -----------------------------------------------------------------------------
WAITSELLERAGREE = "waitselleragree"
WAITBUYERMODIFY = "waitbuyermodify"
WAITBUYERSEND = "waitbuyersend"
WAITSELLERRECEIVE = "waitsellerreceive"
REFUNDSUCCESS = "refundsuccess"
REFUNDCLOSE = "refundclose"

REFUND_STATUS = StatusVocabulary(
    name="1688 refund",
    values=(WAITSELLERAGREE, WAITBUYERMODIFY, WAITBUYERSEND, WAITSELLERRECEIVE, REFUNDSUCCESS, REFUNDCLOSE),
    success=frozenset({REFUNDSUCCESS}),
    failure=frozenset({REFUNDCLOSE}),
    aliases={
        "WAIT_SELLER_AGREE": WAITSELLERAGREE,
        "WAIT_BUYER_MODIFY": WAITBUYERMODIFY,
        "WAIT_BUYER_SEND": WAITBUYERSEND,
        "WAIT_SELLER_RECEIVE": WAITSELLERRECEIVE,
        "REFUND_SUCCESS": REFUNDSUCCESS,
        "REFUND_CLOSE": REFUNDCLOSE,
        "REFUND_CLOSED": REFUNDCLOSE,
    },
    groups={
        "open": frozenset({WAITSELLERAGREE, WAITBUYERMODIFY, WAITBUYERSEND, WAITSELLERRECEIVE}),
        "needs_return": frozenset({WAITBUYERSEND}),
    },
    labels={
        WAITSELLERAGREE: "open, waiting for the seller",
        WAITBUYERMODIFY: "open, refused by the seller",
        WAITBUYERSEND: "open, goods to return",
        WAITSELLERRECEIVE: "open, goods returned",
        REFUNDSUCCESS: "succeeded",
        REFUNDCLOSE: "closed",
    },
)

# --- Taobao orders (TaoBaoOrderStatusEnum) ------------------------------------------------------
TAOBAO_ORDER_STATUS = StatusVocabulary(
    name="Taobao order",
    values=(
        "building",
        "wait_buyer_pay",
        "paid_wait_finance",
        "finance_passed",
        "finance_refused",
        "wait_finance_pay",
        "wait_seller_send",
        "wait_buyer_confirm",
        "closed",
        "other",
    ),
    success=frozenset({"wait_buyer_confirm"}),
    failure=frozenset({"closed", "finance_refused"}),
    aliases={
        "12": "building",
        "0": "wait_buyer_pay",
        "1": "paid_wait_finance",
        "2": "finance_passed",
        "3": "finance_refused",
        "5": "wait_finance_pay",
        "10": "wait_seller_send",
        "11": "wait_buyer_confirm",
        "4": "closed",
        "9": "other",
    },
    groups={
        "paid": frozenset({"paid_wait_finance", "finance_passed", "wait_seller_send", "wait_buyer_confirm"}),
        "shipped": frozenset({"wait_buyer_confirm"}),
    },
)

TAOBAO_REFUND_STATUS = StatusVocabulary(
    name="Taobao sub-order refund",
    values=("none", "applied", "seller_agreed", "wait_seller_receipt", "success", "seller_refused", "closed"),
    success=frozenset({"success"}),
    failure=frozenset({"seller_refused", "closed"}),
    aliases={
        "0": "none",
        "10": "applied",
        "20": "seller_agreed",
        "30": "wait_seller_receipt",
        "100": "success",
        "-10": "seller_refused",
        "-20": "closed",
    },
)

# --- warehouse packages (the provider's own vocabulary) -----------------------------------------
FORECASTED = "FORECASTED"
INBOUND = "INBOUND"
QC_PASSED = "QC_PASSED"
QC_FAILED = "QC_FAILED"
SHIPPED = "SHIPPED"
DELIVERED = "DELIVERED"

PACKAGE_STATUS = StatusVocabulary(
    name="warehouse package",
    values=(FORECASTED, INBOUND, QC_PASSED, QC_FAILED, SHIPPED, DELIVERED),
    success=frozenset({DELIVERED}),
    failure=frozenset({QC_FAILED}),
    groups={
        "inspected": frozenset({QC_PASSED, QC_FAILED}),
        "received": frozenset({INBOUND, QC_PASSED, QC_FAILED, SHIPPED, DELIVERED}),
    },
)

VOCABULARIES: Mapping[str, StatusVocabulary] = {
    "order": ORDER_STATUS,
    "refund": REFUND_STATUS,
    "taobao_order": TAOBAO_ORDER_STATUS,
    "taobao_refund": TAOBAO_REFUND_STATUS,
    "package": PACKAGE_STATUS,
    "pay": PAY_STATUS,
}


def get_vocabulary(name: str) -> StatusVocabulary:
    """The vocabulary called ``name``; an unknown name lists the valid ones."""
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise XportcnValidationError(
            f"Unknown status vocabulary {name!r}. Valid: {', '.join(VOCABULARIES)}.", parameter="vocabulary"
        ) from None


# --- status filters on paged lists -------------------------------------------------------------------

#: Paged list endpoint -> (its status filter field, the vocabulary of its rows' ``status``). A
#: status filter on these is applied to the rows on our side, never sent: when an order leaves the
#: filtered status while the pages are read, a server-filtered list shifts by one row and the next
#: page silently skips one (issue 11 item 7, reproduced on the sandbox).
PAGED_STATUS_FILTERS: Mapping[str, tuple[str, str]] = {
    "order_list": ("status", "order"),
    "taobao_order_list": ("status", "taobao_order"),
}


def client_side_status_filter(
    endpoint: str, payload: Mapping[str, object]
) -> tuple[dict[str, object], frozenset[str] | None]:
    """``payload`` without its status filter, and the normalised statuses to keep (``None``: all).

    An unknown status is a validation error before any call, naming the known ones.
    """
    body = dict(payload)
    spec = PAGED_STATUS_FILTERS.get(endpoint)
    if spec is None or body.get(spec[0]) in (None, "", []):
        return body, None
    field_name, vocabulary = spec
    raw = body.pop(field_name)
    wanted = get_vocabulary(vocabulary).parse_set(raw, parameter=field_name)  # type: ignore[arg-type]
    return body, wanted


def row_has_status(row: object, endpoint: str, wanted: frozenset[str]) -> bool:
    """Whether one listed row's ``status`` (any spelling) is one of ``wanted``."""
    vocabulary = get_vocabulary(PAGED_STATUS_FILTERS[endpoint][1])
    return isinstance(row, Mapping) and vocabulary.normalize(row.get("status")) in wanted
