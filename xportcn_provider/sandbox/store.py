"""The sandbox's state: every record kind with its indexes, one object per reset.

Readers get records already advanced to ``now`` (see :mod:`.lifecycle`), so every answer — an
API call, a control ``get``, a list page — sees the same derived state. The dispatcher holds
its lock for a whole request while it uses the store, which makes each call atomic: two concurrent
``order_create`` calls with the same ``outOrderId`` cannot both create an order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox import lifecycle
from xportcn_provider.sandbox.config import SandboxConfig
from xportcn_provider.sandbox.ids import IdFactory
from xportcn_provider.sandbox.records import LogisticsOrder, Order, Package, Refund, TaobaoOrder

#: The address every fresh store starts with, so ``address_list`` is never empty in a demo.
DEFAULT_ADDRESS = {
    "name": "Xport Sandbox Warehouse",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "address": "文一西路 969 号 (sandbox)",
    "phone": "13800000000",
}


@dataclass
class Voucher:
    voucher_id: str
    data: bytes
    file_name: str | None


@dataclass
class Render:
    """A freight preview (``renderId``) that a booking must refer to."""

    render_id: str
    options: list[dict[str, Any]]
    created: float


@dataclass
class Store:
    """All records of one sandbox session (a reset replaces the whole store)."""

    config: SandboxConfig = field(default_factory=SandboxConfig)
    clock: Callable[[], float] = time.time
    offset: float = 0.0
    ids: IdFactory = field(default_factory=IdFactory)
    orders: dict[str, Order] = field(default_factory=dict)
    orders_by_out_id: dict[str, str] = field(default_factory=dict)
    taobao_orders: dict[str, TaobaoOrder] = field(default_factory=dict)
    taobao_by_out_id: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    refunds_by_entry: dict[str, list[str]] = field(default_factory=dict)
    packages: dict[str, Package] = field(default_factory=dict)
    packages_by_tracking: dict[str, str] = field(default_factory=dict)
    logistics_orders: dict[str, LogisticsOrder] = field(default_factory=dict)
    logistics_by_tmall_id: dict[str, str] = field(default_factory=dict)
    renders: dict[str, Render] = field(default_factory=dict)
    vouchers: dict[str, Voucher] = field(default_factory=dict)
    addresses: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What active variants remember between calls (e.g. ``read_lag``'s not-yet-read ids).
    variant_state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        address_id = self.ids.address_id()
        self.addresses[address_id] = {"id": address_id, **DEFAULT_ADDRESS}

    def now(self) -> float:
        """The life-cycle clock: wall time plus what ``advance(seconds)`` added."""
        return self.clock() + self.offset

    # --- reads (advanced to now) ---------------------------------------------------------------
    def order(self, order_id: str) -> Order | None:
        order = self.orders.get(order_id)
        if order is not None:
            lifecycle.advance_order(order, self.now(), self.config)
        return order

    def all_orders(self) -> Iterator[Order]:
        now = self.now()
        for order in self.orders.values():
            lifecycle.advance_order(order, now, self.config)
            yield order

    def taobao_order(self, order_id: str) -> TaobaoOrder | None:
        order = self.taobao_orders.get(order_id)
        if order is not None:
            lifecycle.advance_taobao(order, self.now(), self.config)
        return order

    def all_taobao_orders(self) -> Iterator[TaobaoOrder]:
        now = self.now()
        for order in self.taobao_orders.values():
            lifecycle.advance_taobao(order, now, self.config)
            yield order

    def refund(self, refund_id: str) -> Refund | None:
        refund = self.refunds.get(refund_id)
        if refund is not None:
            lifecycle.advance_refund(refund, self.now(), self.config)
        return refund

    def current_refund_of_entry(self, entry_id: str) -> Refund | None:
        """The refund an order entry shows: the newest one that is open or succeeded.

        Like 1688's order detail, an entry keeps showing its refund once it has succeeded (the
        money went back); only a closed (cancelled/refused-and-closed) refund stops counting.
        """
        for refund_id in reversed(self.refunds_by_entry.get(entry_id, [])):
            refund = self.refund(refund_id)
            if refund is not None and refund.status != st.REFUNDCLOSE:
                return refund
        return None

    def logistics_order(self, logistics_order_id: str) -> LogisticsOrder | None:
        order = self.logistics_orders.get(logistics_order_id)
        if order is not None:
            lifecycle.advance_logistics(order, self.now(), self.config)
        return order

    def package(self, out_order_id: str) -> Package | None:
        package = self.packages.get(out_order_id)
        if package is not None:
            logistics = (
                self.logistics_orders.get(package.logistics_order_id) if package.logistics_order_id else None
            )
            lifecycle.advance_package(package, logistics, self.now(), self.config)
        return package

    def package_by_tracking(self, tracking_number: str) -> Package | None:
        out_order_id = self.packages_by_tracking.get(tracking_number)
        return self.package(out_order_id) if out_order_id else None

    # --- writes --------------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.orders_by_out_id[order.out_order_id] = order.order_id

    def add_taobao_order(self, order: TaobaoOrder) -> None:
        self.taobao_orders[order.order_id] = order
        self.taobao_by_out_id[order.out_order_id] = order.order_id

    def add_refund(self, refund: Refund) -> None:
        self.refunds[refund.refund_id] = refund
        for entry_id in refund.entry_ids:
            self.refunds_by_entry.setdefault(entry_id, []).append(refund.refund_id)

    def add_package(self, package: Package) -> None:
        self.packages[package.out_order_id] = package
        self.packages_by_tracking[package.tracking_number] = package.out_order_id

    def add_logistics_order(self, order: LogisticsOrder) -> None:
        self.logistics_orders[order.logistics_order_id] = order
        self.logistics_by_tmall_id[order.tmall_order_id] = order.logistics_order_id

    def counts(self) -> dict[str, int]:
        return {
            "orders": len(self.orders),
            "payments": sum(order.payments for order in self.orders.values()),
            "taobao_orders": len(self.taobao_orders),
            "refunds": len(self.refunds),
            "packages": len(self.packages),
            "logistics_orders": len(self.logistics_orders),
            "vouchers": len(self.vouchers),
            "addresses": len(self.addresses),
            "renders": len(self.renders),
        }
