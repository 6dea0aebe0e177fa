"""The response shapes of ``docs/data-shapes.md``, built from records.

One function per shape, so the served JSON is defined in one place; fields forced through the
control API (``record.overrides``) are laid over the result last.
"""

from __future__ import annotations

from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox import catalog
from xportcn_provider.sandbox.ids import domestic_tracking_number, intl_tracking_number, iso
from xportcn_provider.sandbox.lifecycle import LOGISTICS_CREATED
from xportcn_provider.sandbox.records import LogisticsOrder, Order, Package, Refund, TaobaoOrder, Tracked
from xportcn_provider.sandbox.store import Store

_SHIPPED = st.ORDER_STATUS.groups["shipped"]


def _with_overrides(record: Tracked, view: dict[str, Any]) -> dict[str, Any]:
    view.update(record.overrides)
    return view


def order_summary(order: Order | TaobaoOrder) -> dict[str, Any]:
    return _with_overrides(
        order,
        {
            "orderId": order.order_id,
            "outOrderId": order.out_order_id,
            "status": order.status,
            "sumPayment": order.total,
            "createTime": iso(order.created),
        },
    )


def order_detail(order: Order, store: Store) -> dict[str, Any]:
    items = []
    for item in order.items:
        refund = store.current_refund_of_entry(item.sub_item_id)
        items.append(
            {
                "subItemID": item.sub_item_id,
                "offerId": item.offer_id,
                "specId": item.spec_id,
                "quantity": item.quantity,
                "unitPrice": item.unit_price,
                "itemAmount": item.amount,
                "refundId": refund.refund_id if refund else None,
                "refundStatus": refund.status if refund else None,
            }
        )
    return _with_overrides(
        order,
        {
            "orderId": order.order_id,
            "outOrderId": order.out_order_id,
            "status": order.status,
            "sumPayment": order.total,
            "sumCarriage": order.carriage,
            "createTime": iso(order.created),
            "payTime": iso(order.entered(st.WAITSELLERSEND)),
            "productItems": items,
        },
    )


def order_tracking(order: Order) -> tuple[str | None, str | None]:
    """The seller's domestic tracking number and carrier, once the order has shipped."""
    if order.status not in _SHIPPED:
        return None, None
    return domestic_tracking_number(order.order_id), catalog.SELLER_CARRIER["companyName"]


def order_logistics(order: Order) -> dict[str, Any]:
    tracking, company = order_tracking(order)
    tracking = order.overrides.get("trackingNumber", tracking)
    company = order.overrides.get("logisticsCompanyName", company)
    items = []
    if tracking:
        delivered = order.status in (st.CONFIRM_GOODS, st.ORDER_SUCCESS)
        items.append(
            {
                "logisticsBillNo": tracking,
                "logisticsCompanyName": company,
                "status": "SIGNED" if delivered else "IN_TRANSIT",
            }
        )
    return {
        "orderId": order.order_id,
        "status": order.status,
        "trackingNumber": tracking,
        "logisticsCompanyName": company,
        "logisticsItems": items,
    }


def taobao_summary(order: TaobaoOrder) -> dict[str, Any]:
    """A Taobao order in a list page: the same summary as a 1688 order (numeric ``status``)."""
    return order_summary(order)


def refund_detail(refund: Refund) -> dict[str, Any]:
    return _with_overrides(
        refund,
        {
            "refundId": refund.refund_id,
            "orderId": refund.order_id,
            "orderEntryIds": list(refund.entry_ids),
            "status": refund.status,
            "disputeRequest": refund.dispute_request,
            "applyPayment": refund.apply_payment,
            "applyCarriage": refund.apply_carriage,
            "applyReasonId": refund.apply_reason_id,
            "createTime": iso(refund.created),
            "returnLogistics": dict(refund.return_logistics) if refund.return_logistics else None,
        },
    )


_INSPECTED = {st.QC_PASSED: "PASSED", st.QC_FAILED: "FAILED"}


def _inspection(package: Package) -> dict[str, Any] | None:
    """The inspection report: as posted by ``package_inbound``, or the warehouse's own once QC ran."""
    if package.quality_inspection_info:
        return dict(package.quality_inspection_info)
    result = next((_INSPECTED[s] for s, _ in reversed(package.history) if s in _INSPECTED), None)
    if result is None:
        return None
    units = sum(int(item.get("quantity", 1) or 1) for item in package.items) or 1
    return {
        "status": result,
        "weight": round(0.5 * units, 2),
        "length": 30,
        "width": 20,
        "height": 10 + 2 * units,
        "failed_remark": None if result == "PASSED" else "sandbox inspection: damaged outer box",
        "images": [],
    }


def package_view(package: Package) -> dict[str, Any]:
    return _with_overrides(
        package,
        {
            "out_order_id": package.out_order_id,
            "alibaba_order_id": package.alibaba_order_id,
            "logistics_tracking_number": package.tracking_number,
            "status": package.status,
            "quality_inspection_info": _inspection(package),
            "intl_logistics_order_id": package.logistics_order_id,
            "items": [dict(item) for item in package.items],
        },
    )


def logistics_view(order: LogisticsOrder, *, duplicate: bool) -> dict[str, Any]:
    tracking = None if order.status == LOGISTICS_CREATED else intl_tracking_number(order.logistics_order_id)
    return _with_overrides(
        order,
        {
            "logisticsOrderId": order.logistics_order_id,
            "tmallOrderId": order.tmall_order_id,
            "renderId": order.render_id,
            "status": order.status,
            "trackingNumber": tracking,
            "duplicate": duplicate,
        },
    )


def page(items: list[Any], total: int, page_no: int, size: int, page_field: str = "pageNo") -> dict[str, Any]:
    return {"list": items, "total": total, page_field: page_no, "pageSize": size}


def record_view(resource: str, record: Tracked, store: Store) -> dict[str, Any]:
    """The full served shape of a record, for the control API's ``get``."""
    if isinstance(record, Order):
        return {**order_detail(record, store), "logistics": order_logistics(record)}
    if isinstance(record, Refund):
        return refund_detail(record)
    if isinstance(record, Package):
        return package_view(record)
    if isinstance(record, LogisticsOrder):
        return logistics_view(record, duplicate=False)
    if isinstance(record, TaobaoOrder):
        return {**taobao_summary(record), "items": record.items, "postFee": record.post_fee}
    raise TypeError(f"no view for {resource}")  # pragma: no cover


def history(record: Tracked) -> list[dict[str, Any]]:
    return [{"status": status, "time": iso(at)} for status, at in record.history]
