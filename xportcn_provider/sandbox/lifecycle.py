"""Life cycles derived from timestamps: ``state = f(entered-at times, delays, forced overrides)``.

Nothing runs in the background. Whenever a record is read, :func:`advance` replays every
clock-driven transition that has fallen due since the record entered its current status, so a
record read ten minutes after creation shows the state it would have reached, with the exact
times it entered each state. Tests shrink the delays (or move the sandbox clock with
``advance``) instead of sleeping; ``force`` and a ``hold`` flag pin a state.

Transitions made by API calls (pay, submit return goods, cancel, book international freight)
live in the handlers; this module only knows what happens *by itself* after a delay.
"""

from __future__ import annotations

from collections.abc import Callable

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox.config import SandboxConfig
from xportcn_provider.sandbox.records import LogisticsOrder, Order, Package, Refund, TaobaoOrder, Tracked

#: International logistics order statuses (the sandbox's own; no vocabulary is published).
LOGISTICS_CREATED = "CREATED"
LOGISTICS_IN_TRANSIT = "IN_TRANSIT"
LOGISTICS_DELIVERED = "DELIVERED"
LOGISTICS_STATUSES = (LOGISTICS_CREATED, LOGISTICS_IN_TRANSIT, LOGISTICS_DELIVERED)

#: Taobao numeric codes used by the sandbox's Taobao life cycle.
TAOBAO_WAIT_PAY, TAOBAO_WAIT_SEND, TAOBAO_WAIT_CONFIRM, TAOBAO_CLOSED = 0, 10, 11, 4
TAOBAO_CODES = (12, 0, 1, 2, 3, 5, 10, 11, 4, 9)

#: Refund statuses in which the refund is still open (one per order entry at a time).
OPEN_REFUND = frozenset({st.WAITSELLERAGREE, st.WAITBUYERMODIFY, st.WAITBUYERSEND, st.WAITSELLERRECEIVE})

# A step: from a status, which status comes next and after which configured delay.
Step = tuple[object, float]
Stepper = Callable[[Tracked, SandboxConfig], Step | None]


def _order_step(record: Tracked, cfg: SandboxConfig) -> Step | None:
    return {
        st.WAITSELLERSEND: (st.WAITBUYERRECEIVE, cfg.order_ship_delay),
        st.WAITBUYERRECEIVE: (st.CONFIRM_GOODS, cfg.order_receive_delay),
        st.CONFIRM_GOODS: (st.ORDER_SUCCESS, cfg.order_success_delay),
    }.get(record.status)


def _taobao_step(record: Tracked, cfg: SandboxConfig) -> Step | None:
    return {
        TAOBAO_WAIT_PAY: (TAOBAO_WAIT_SEND, cfg.taobao_pay_delay),
        TAOBAO_WAIT_SEND: (TAOBAO_WAIT_CONFIRM, cfg.taobao_ship_delay),
    }.get(record.status)


def refund_decision(refund: Refund, cfg: SandboxConfig) -> str:
    """The refund status the seller's decision leads to (per-refund outcome, then the default)."""
    outcome = refund.outcome or cfg.refund_outcome
    if outcome == "auto":
        outcome = "request_return" if refund.dispute_request == "returnRefund" else "agree_refund"
    return {
        "agree_refund": st.REFUNDSUCCESS,
        "request_return": st.WAITBUYERSEND,
        "refuse": st.WAITBUYERMODIFY,
    }[outcome]


def _refund_step(record: Tracked, cfg: SandboxConfig) -> Step | None:
    assert isinstance(record, Refund)
    if record.status == st.WAITSELLERAGREE:
        return refund_decision(record, cfg), cfg.refund_agree_delay
    if record.status == st.WAITSELLERRECEIVE:
        return st.REFUNDSUCCESS, cfg.refund_receive_delay
    return None


def package_qc_status(package: Package, cfg: SandboxConfig) -> str:
    outcome = package.qc_outcome or cfg.qc_outcome
    return st.QC_PASSED if outcome == "pass" else st.QC_FAILED


def _package_step(record: Tracked, cfg: SandboxConfig) -> Step | None:
    assert isinstance(record, Package)
    if record.status == st.FORECASTED:
        return st.INBOUND, cfg.package_inbound_delay
    if record.status == st.INBOUND:
        return package_qc_status(record, cfg), cfg.package_qc_delay
    if record.status == st.SHIPPED and record.logistics_order_id is None:
        # Forced to SHIPPED without a booking: deliver on the logistics clock anyway.
        return st.DELIVERED, cfg.logistics_transit_delay + cfg.logistics_deliver_delay
    return None


def _logistics_step(record: Tracked, cfg: SandboxConfig) -> Step | None:
    return {
        LOGISTICS_CREATED: (LOGISTICS_IN_TRANSIT, cfg.logistics_transit_delay),
        LOGISTICS_IN_TRANSIT: (LOGISTICS_DELIVERED, cfg.logistics_deliver_delay),
    }.get(record.status)


def advance(record: Tracked, stepper: Stepper, now: float, cfg: SandboxConfig) -> None:
    """Replay every transition due by ``now`` (each one at its exact due time)."""
    if record.hold or not cfg.auto_advance:
        return
    for _ in range(32):  # life cycles are short; the bound only guards against a cycle
        step = stepper(record, cfg)
        if step is None:
            return
        nxt, delay = step
        due = record.since + delay
        if now < due:
            return
        record.enter(nxt, due)


def advance_order(order: Order, now: float, cfg: SandboxConfig) -> None:
    advance(order, _order_step, now, cfg)


def advance_taobao(order: TaobaoOrder, now: float, cfg: SandboxConfig) -> None:
    advance(order, _taobao_step, now, cfg)


def advance_refund(refund: Refund, now: float, cfg: SandboxConfig) -> None:
    advance(refund, _refund_step, now, cfg)


def advance_logistics(order: LogisticsOrder, now: float, cfg: SandboxConfig) -> None:
    advance(order, _logistics_step, now, cfg)


def advance_package(
    package: Package, logistics: LogisticsOrder | None, now: float, cfg: SandboxConfig
) -> None:
    """Packages follow their own clock until shipped, then their logistics order's delivery."""
    advance(package, _package_step, now, cfg)
    if package.status == st.SHIPPED and logistics is not None and not package.hold:
        advance_logistics(logistics, now, cfg)
        delivered = logistics.entered(LOGISTICS_DELIVERED)
        if logistics.status == LOGISTICS_DELIVERED and delivered is not None:
            package.enter(st.DELIVERED, max(delivered, package.since))
