"""The stored records: plain dataclasses, mutated only under the store's lock.

Every stateful record carries ``status`` and ``since`` (when it entered that status), which is
all :mod:`.lifecycle` needs to work out later states on read. ``overrides`` holds fields forced
through the control API; they are laid over the served shape last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tracked:
    """A record with a life cycle: its status, since when, and its history of states."""

    status: Any
    since: float
    created: float
    hold: bool = False
    history: list[tuple[Any, float]] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)

    def enter(self, status: Any, at: float, *, hold: bool = False) -> None:
        """Move to ``status`` at time ``at``; ``hold`` stops the clock until the next move."""
        self.status = status
        self.since = at
        self.hold = hold
        self.history.append((status, at))

    def entered(self, status: Any) -> float | None:
        """When the record last entered ``status`` (``None`` if never)."""
        for value, at in reversed(self.history):
            if value == status:
                return at
        return None


@dataclass
class OrderItem:
    sub_item_id: str
    offer_id: str
    spec_id: str | None
    quantity: int
    unit_price: int

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


@dataclass
class Order(Tracked):
    """A 1688 order; ``items`` priced from the fake catalogue, amounts in fen."""

    order_id: str = ""
    out_order_id: str = ""
    items: list[OrderItem] = field(default_factory=list)
    carriage: int = 0
    address: dict[str, Any] = field(default_factory=dict)
    flow: str | None = None
    message: str | None = None
    domestic_logistics: list[dict[str, Any]] = field(default_factory=list)
    #: How many times ``order_pay`` charged this order (more than 1 only with ``dedupe`` off).
    payments: int = 0

    @property
    def goods_amount(self) -> int:
        return sum(item.amount for item in self.items)

    @property
    def total(self) -> int:
        return self.goods_amount + self.carriage


@dataclass
class TaobaoOrder(Tracked):
    """A Taobao purchase; ``status`` is the numeric ``TaoBaoOrderStatusEnum`` code."""

    order_id: str = ""
    out_order_id: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    post_fee: int = 0
    address: dict[str, Any] = field(default_factory=dict)
    remark: str | None = None

    @property
    def total(self) -> int:
        return sum(int(item["amount"]) for item in self.items) + self.post_fee


@dataclass
class Refund(Tracked):
    refund_id: str = ""
    order_id: str = ""
    entry_ids: list[str] = field(default_factory=list)
    dispute_request: str = "refund"
    apply_payment: int = 0
    apply_carriage: int = 0
    apply_reason_id: Any = None
    description: str | None = None
    goods_status: str | None = None
    vouchers: list[str] = field(default_factory=list)
    entry_counts: list[dict[str, Any]] = field(default_factory=list)
    #: The seller's decision for this refund (``None``: the configured default).
    outcome: str | None = None
    return_logistics: dict[str, Any] | None = None


@dataclass
class Package(Tracked):
    """A warehouse package, keyed by the caller's ``out_order_id``."""

    out_order_id: str = ""
    alibaba_order_id: str | None = None
    tracking_number: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    quality_inspection_info: dict[str, Any] | None = None
    #: ``pass``/``fail`` for this package's clock-driven inspection (``None``: configured default).
    qc_outcome: str | None = None
    logistics_order_id: str | None = None


@dataclass
class LogisticsOrder(Tracked):
    """An international shipment booked with ``intl_logistics_create``."""

    logistics_order_id: str = ""
    tmall_order_id: str = ""
    render_id: str = ""
    receiver_address: dict[str, Any] = field(default_factory=dict)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    remark: str | None = None
    domestic_logistics: list[dict[str, Any]] = field(default_factory=list)
