"""1688 after-sale: refund reasons, vouchers, refunds and their return logistics."""

from __future__ import annotations

from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox import catalog, lifecycle, views
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import conflict, invalid, not_found
from xportcn_provider.sandbox.handlers.orders import find_order
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles
from xportcn_provider.sandbox.records import Order, OrderItem, Refund
from xportcn_provider.sandbox.store import Voucher

_GOODS_STATUS = ("received", "not_received")
_DISPUTES = ("refund", "returnRefund")


@handles("refund_reasons")
def refund_reasons(ctx: Context, body: Body) -> Any:
    order = find_order(ctx, body)
    if body.get("orderEntryIds") is not None:
        _entries_of(order, v.ident_list(body["orderEntryIds"], "orderEntryIds"))
    goods = v.one_of(body.get("goodsStatus") or "received", "goodsStatus", _GOODS_STATUS)
    return [dict(r) for r in catalog.REFUND_REASONS[goods]]


def _entries_of(order: Order, entry_ids: list[str]) -> list[OrderItem]:
    by_id = {item.sub_item_id: item for item in order.items}
    entries = []
    for i, entry_id in enumerate(entry_ids):
        if entry_id not in by_id:
            raise invalid(
                f"orderEntryIds[{i}] {entry_id} is not an entry (subItemID) of order {order.order_id}"
            )
        entries.append(by_id[entry_id])
    return entries


@handles("refund_voucher_upload")
def refund_voucher_upload(ctx: Context, body: Body) -> Any:
    data = v.base64_bytes(body["imageBase64"], "imageBase64")
    file_name = v.opt_text(body, "fileName")
    voucher_id = ctx.store.ids.voucher_id()
    ctx.store.vouchers[voucher_id] = Voucher(voucher_id, data, file_name)
    return {"url": f"{ctx.base_url}/_sandbox/voucher/{voucher_id}.jpg"}


@handles("refund_create")
def refund_create(ctx: Context, body: Body) -> Any:
    store = ctx.store
    order = find_order(ctx, body)
    entry_ids = v.ident_list(body["orderEntryIds"], "orderEntryIds")
    dispute = v.one_of(body["disputeRequest"], "disputeRequest", _DISPUTES)
    payment = v.positive_int(body["applyPayment"], "applyPayment")
    carriage = v.non_negative_int(body.get("applyCarriage", 0), "applyCarriage")
    goods = v.one_of(body["goodsStatus"], "goodsStatus", _GOODS_STATUS) if body.get("goodsStatus") else None
    vouchers = v.text_list(body["vouchers"], "vouchers") if body.get("vouchers") is not None else []
    counts = []
    if body.get("orderEntryCountList") is not None:
        for i, item in enumerate(v.obj_list(body["orderEntryCountList"], "orderEntryCountList")):
            entry_ref = v.ident(item.get("id"), f"orderEntryCountList[{i}].id")
            count = v.positive_int(item.get("count"), f"orderEntryCountList[{i}].count")
            counts.append({"id": entry_ref, "count": count})
    description = v.opt_text(body, "description")
    entries = _entries_of(order, entry_ids)
    refundable = sum(e.amount for e in entries)
    if payment > refundable:
        raise invalid(
            f"applyPayment {payment} exceeds the refundable amount {refundable} (fen) of the chosen entries"
        )
    if carriage > order.carriage:
        raise invalid(f"applyCarriage {carriage} exceeds the order's carriage {order.carriage} (fen)")
    if order.status in (st.WAITBUYERPAY, st.ORDER_CANCEL, st.TERMINATED):
        raise conflict(f"order {order.order_id} is {order.status}: only a paid order can be refunded")
    for entry in entries if store.config.dedupe else ():
        current = store.current_refund_of_entry(entry.sub_item_id)
        if current is not None:
            state = "a refund that succeeded" if current.status == st.REFUNDSUCCESS else "an open refund"
            raise conflict(
                f"entry {entry.sub_item_id} of order {order.order_id} already has {state} "
                f"{current.refund_id} ({current.status}); reuse it instead of creating another"
            )
    now = store.now()
    refund = Refund(
        status=st.WAITSELLERAGREE,
        since=now,
        created=now,
        refund_id=store.ids.refund_id(),
        order_id=order.order_id,
        entry_ids=entry_ids,
        dispute_request=dispute,
        apply_payment=payment,
        apply_carriage=carriage,
        apply_reason_id=body.get("applyReasonId"),
        description=description,
        goods_status=goods,
        vouchers=vouchers,
        entry_counts=counts,
    )
    refund.history.append((refund.status, now))
    store.add_refund(refund)
    return {"refundId": refund.refund_id}


def _refund(ctx: Context, body: Body) -> Refund:
    refund_id = v.ident(body["refundId"], "refundId")
    refund = ctx.store.refund(refund_id)
    if refund is None:
        raise not_found(f"refund {refund_id} not found")
    return refund


@handles("refund_return_submit")
def refund_return_submit(ctx: Context, body: Body) -> Any:
    refund = _refund(ctx, body)
    company = v.text(body["logisticsCompanyNo"], "logisticsCompanyNo")
    if company not in catalog.COMPANY_NUMBERS:
        raise invalid(
            f"logisticsCompanyNo {company!r} is not a known company; "
            f"use a companyNo from logistics_companies ({', '.join(sorted(catalog.COMPANY_NUMBERS))})"
        )
    bill = v.text(body["freightBill"], "freightBill")
    if body.get("vouchers") is not None:
        v.text_list(body["vouchers"], "vouchers")
    if refund.status != st.WAITBUYERSEND:
        raise conflict(
            f"refund {refund.refund_id} is {refund.status}: return goods can be submitted only "
            f"in {st.WAITBUYERSEND}"
        )
    refund.return_logistics = {"logisticsCompanyNo": company, "freightBill": bill}
    refund.enter(st.WAITSELLERRECEIVE, ctx.store.now())
    return "退货信息提交成功"


@handles("logistics_companies")
def logistics_companies(ctx: Context, body: Body) -> Any:
    return [dict(c) for c in catalog.LOGISTICS_COMPANIES]


@handles("refund_detail")
def refund_detail(ctx: Context, body: Body) -> Any:
    return views.refund_detail(_refund(ctx, body))


@handles("refund_cancel")
def refund_cancel(ctx: Context, body: Body) -> Any:
    refund = _refund(ctx, body)
    if refund.status not in lifecycle.OPEN_REFUND:
        raise conflict(
            f"refund {refund.refund_id} is {st.REFUND_STATUS.describe(refund.status)} and cannot be cancelled"
        )
    refund.enter(st.REFUNDCLOSE, ctx.store.now())
    return "售后订单取消成功"


@handles("im_openuid_decrypt")
def im_openuid_decrypt(ctx: Context, body: Body) -> Any:
    open_uid = v.text(body["openUid"], "openUid")
    v.ident(body["offerId"], "offerId")
    return {"openUid": open_uid, "loginId": catalog.login_id_of(open_uid)}
