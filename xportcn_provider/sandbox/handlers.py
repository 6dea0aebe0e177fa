"""What each catalogue endpoint does: validate the body, change the store, answer ``data``.

One function per endpoint name, registered in :data:`HANDLERS`; the dispatcher refuses to start
if a catalogue entry has no handler, so the sandbox can never silently miss an endpoint. The
generic checks (auth, required fields) happened before a handler runs; the handler checks types
and values and raises :class:`~.failures.ApiFailure` with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.sandbox import catalog, lifecycle, views
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import conflict, invalid, not_found
from xportcn_provider.sandbox.records import LogisticsOrder, Order, OrderItem, Package, Refund, TaobaoOrder
from xportcn_provider.sandbox.store import Render, Store, Voucher

Body = Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    """What a handler may use besides the body: the store and the server's public base URL."""

    store: Store
    base_url: str


Handler = Callable[[Context, Body], Any]
HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    if name not in CATALOGUE:
        raise KeyError(f"sandbox handler for unknown catalogue endpoint {name!r}")

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


def missing_handlers() -> list[str]:
    """Catalogue names without a handler (must be empty; checked at app start and in tests)."""
    return sorted(set(CATALOGUE) - set(HANDLERS))


# --- basics ------------------------------------------------------------------------------------
_ADDRESS_FIELDS = ("name", "province", "city", "district", "address", "phone")


@handles("address_list")
def address_list(ctx: Context, body: Body) -> Any:
    return [dict(a) for a in ctx.store.addresses.values()]


@handles("address_save")
def address_save(ctx: Context, body: Body) -> Any:
    values = {f: v.text(body[f], f) for f in ("name", "province", "city", "address", "phone")}
    if body.get("district") is not None:
        values["district"] = v.text(body["district"], "district")
    addresses = ctx.store.addresses
    if body.get("id") is not None:
        address_id = v.ident(body["id"], "id")
        if address_id not in addresses:
            raise not_found(f"address id {address_id} not found; omit id to create a new address")
        addresses[address_id].update(values)
        return {"id": address_id}
    address_id = ctx.store.ids.address_id()
    addresses[address_id] = {"id": address_id, "district": None, **values}
    return {"id": address_id}


# --- international / warehouse logistics ------------------------------------------------------
@handles("freight_estimate")
def freight_estimate(ctx: Context, body: Body) -> Any:
    v.text(body["country"], "country")
    weight = v.positive_number(body["weight"], "weight")
    for dim in ("length", "width", "height"):
        v.opt_positive_number(body, dim)
    options = catalog.freight_options(weight)
    return {"currency": "CNY", "price": min(o["price"] for o in options), "options": options}


def _receiver(body: Body) -> dict[str, Any]:
    address = v.obj(body["receiverAddress"], "receiverAddress")
    for name in ("name", "country", "address"):
        v.text(address.get(name), f"receiverAddress.{name}")
    return dict(address)


@handles("freight_preview")
def freight_preview(ctx: Context, body: Body) -> Any:
    _receiver(body)
    items = v.obj_list(body["renderItems"], "renderItems")
    units = 0
    for i, item in enumerate(items):
        v.ident(item.get("itemId"), f"renderItems[{i}].itemId")
        units += v.positive_int(item.get("quantity"), f"renderItems[{i}].quantity")
        if item.get("freightInfo") is not None:
            v.obj(item["freightInfo"], f"renderItems[{i}].freightInfo")
    store = ctx.store
    render_id = store.ids.render_id(store.now())
    options = catalog.freight_options(units * catalog.UNIT_WEIGHT_KG)
    store.renders[render_id] = Render(render_id, options, store.now())
    return {"renderId": render_id, "options": options}


@handles("intl_logistics_create")
def intl_logistics_create(ctx: Context, body: Body) -> Any:
    store = ctx.store
    info = v.obj(body["tmallOrderInfo"], "tmallOrderInfo")
    tmall_order_id = v.ident(info.get("tmallOrderId"), "tmallOrderInfo.tmallOrderId")
    existing = store.logistics_by_tmall_id.get(tmall_order_id)
    if existing is not None:
        order = store.logistics_order(existing)
        assert order is not None
        return views.logistics_view(order, duplicate=True)
    render_id = v.text(body["renderId"], "renderId")
    receiver = _receiver(body)
    lines = v.obj_list(body["lineItems"], "lineItems")
    for i, line in enumerate(lines):
        v.ident(line.get("itemId"), f"lineItems[{i}].itemId")
        v.positive_int(line.get("quantity"), f"lineItems[{i}].quantity")
    remark = v.opt_text(body, "remark")
    if render_id not in store.renders:
        raise not_found(
            f"renderId {render_id} not found; call freight_preview first and book with its renderId"
        )
    package = store.package(tmall_order_id)
    if package is not None and package.status != st.QC_PASSED:
        raise conflict(
            f"package {tmall_order_id} is {package.status}; international freight can be booked "
            f"only for a package that passed inspection ({st.QC_PASSED})"
        )
    now = store.now()
    order = LogisticsOrder(
        status=lifecycle.LOGISTICS_CREATED,
        since=now,
        created=now,
        logistics_order_id=store.ids.logistics_order_id(),
        tmall_order_id=tmall_order_id,
        render_id=render_id,
        receiver_address=receiver,
        line_items=[dict(line) for line in lines],
        remark=remark,
    )
    order.history.append((order.status, now))
    store.add_logistics_order(order)
    if package is not None:
        package.logistics_order_id = order.logistics_order_id
        package.enter(st.SHIPPED, now)
    return views.logistics_view(order, duplicate=False)


@handles("domestic_logistics_update")
def domestic_logistics_update(ctx: Context, body: Body) -> Any:
    store = ctx.store
    order_id = v.ident(body["orderId"], "orderId")
    tmall_order_id = v.ident(body["tmallOrderId"], "tmallOrderId") if body.get("tmallOrderId") else None
    infos = v.obj_list(body["logisticInfos"], "logisticInfos")
    cleaned = []
    for i, info in enumerate(infos):
        path = f"logisticInfos[{i}]"
        if info.get("lineItem") is not None:
            v.obj(info["lineItem"], f"{path}.lineItem")
        if info.get("domesticLogisticInfo") is None:  # a bare tracking number is enough
            v.text(info.get("logisticNumer"), f"{path}.logisticNumer")
            cleaned.append(dict(info))
            continue
        legs = v.obj_list(info["domesticLogisticInfo"], f"{path}.domesticLogisticInfo")
        for j, leg in enumerate(legs):
            v.text(leg.get("logisticNumer"), f"{path}.domesticLogisticInfo[{j}].logisticNumer")
            v.text(leg.get("logisticCompanyName"), f"{path}.domesticLogisticInfo[{j}].logisticCompanyName")
            if leg.get("rtsTime") is not None:
                v.positive_int(leg["rtsTime"], f"{path}.domesticLogisticInfo[{j}].rtsTime")
        cleaned.append(dict(info))
    target: LogisticsOrder | Order | None = store.logistics_order(order_id)
    if target is None:
        by_tmall = store.logistics_by_tmall_id.get(tmall_order_id or order_id)
        target = store.logistics_order(by_tmall) if by_tmall else store.order(order_id)
    if target is None:
        raise not_found(f"orderId {order_id} is neither a logistics order nor an order of this account")
    target.domestic_logistics.extend(cleaned)
    return True


# --- 1688 products -----------------------------------------------------------------------------
def _product_page(ctx: Context, seed: str, body: Body, page_field: str, id_field: str) -> Any:
    page_no, size = v.paging(body, page_field, ctx.store.config.max_page_size)
    items, total = catalog.search_page(seed, page_no, size, id_field=id_field)
    return views.page(items, total, page_no, size, page_field)


def _image_seed(body: Body) -> str:
    if v.present(body, "imageBase64"):
        data = v.base64_bytes(body["imageBase64"], "imageBase64")
        return f"image:{len(data)}:{data[:16].hex()}"
    if v.present(body, "imageAddress"):
        return "image:" + v.text(body["imageAddress"], "imageAddress")
    raise invalid("imageBase64 or imageAddress is required")


@handles("product_search")
def product_search(ctx: Context, body: Body) -> Any:
    keyword = v.text(body["keyword"], "keyword")
    if body.get("sort") not in (None, ""):
        v.json_text(body["sort"], "sort")
    if body.get("filter") not in (None, ""):
        v.text(body["filter"], "filter")
    return _product_page(ctx, keyword, body, "beginPage", "offerId")


@handles("product_image_search")
def product_image_search(ctx: Context, body: Body) -> Any:
    return _product_page(ctx, _image_seed(body), body, "beginPage", "offerId")


@handles("product_category")
def product_category(ctx: Context, body: Body) -> Any:
    category_id = v.ident(body["categoryId"], "categoryId") if body.get("categoryId") is not None else "0"
    return catalog.category(category_id)


@handles("product_detail")
def product_detail(ctx: Context, body: Body) -> Any:
    offer_id = v.ident(body["offerId"], "offerId")
    return catalog.product_detail(offer_id, id_field="offerId", sku_field="specId")


@handles("product_freight_estimate")
def product_freight_estimate(ctx: Context, body: Body) -> Any:
    offer_id = v.ident(body["offerId"], "offerId")
    count = v.positive_int(body["totalNum"], "totalNum") if body.get("totalNum") is not None else 1
    return {"offerId": offer_id, "freight": catalog.ORDER_CARRIAGE + 100 * (count - 1)}


@handles("product_pool_list")
def product_pool_list(ctx: Context, body: Body) -> Any:
    return _product_page(ctx, "pool", body, "pageNo", "offerId")


# --- 1688 orders -------------------------------------------------------------------------------
def _order_lines(ctx: Context, body: Body) -> list[OrderItem]:
    address = v.obj(body["addressParam"], "addressParam")
    for name in ("fullName", "address"):
        v.text(address.get(name), f"addressParam.{name}")
    if not (address.get("mobile") or address.get("phone")):
        raise invalid("addressParam.mobile or addressParam.phone is required")
    lines = []
    for i, cargo in enumerate(v.obj_list(body["cargoParamList"], "cargoParamList")):
        offer_id = v.ident(cargo.get("offerId"), f"cargoParamList[{i}].offerId")
        spec_id = v.text(cargo["specId"], f"cargoParamList[{i}].specId") if cargo.get("specId") else None
        quantity = v.positive_int(cargo.get("quantity"), f"cargoParamList[{i}].quantity")
        lines.append(OrderItem("", offer_id, spec_id, quantity, catalog.unit_price(offer_id, spec_id)))
    return lines


@handles("order_preview")
def order_preview(ctx: Context, body: Body) -> Any:
    lines = _order_lines(ctx, body)
    goods = sum(line.amount for line in lines)
    return {
        "sumPayment": goods + catalog.ORDER_CARRIAGE,
        "sumCarriage": catalog.ORDER_CARRIAGE,
        "sumPaymentNoCarriage": goods,
        "cargoList": [
            {
                "offerId": line.offer_id,
                "specId": line.spec_id,
                "quantity": line.quantity,
                "unitPrice": line.unit_price,
                "amount": line.amount,
            }
            for line in lines
        ],
    }


def _create_answer(order: Order, duplicate: bool) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "outOrderId": order.out_order_id,
        "totalSuccessAmount": order.total,
        "status": order.status,
        "duplicate": duplicate,
    }


def new_order(store: Store, out_order_id: str, lines: list[OrderItem], created: float, **extra: Any) -> Order:
    """Create and store an order (used by ``order_create`` and by seeding)."""
    for line in lines:
        line.sub_item_id = store.ids.sub_item_id()
    order = Order(
        status=st.WAITBUYERPAY,
        since=created,
        created=created,
        order_id=store.ids.order_id(),
        out_order_id=out_order_id,
        items=lines,
        carriage=catalog.ORDER_CARRIAGE,
        **extra,
    )
    order.history.append((order.status, created))
    store.add_order(order)
    return order


@handles("order_create")
def order_create(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["outOrderId"], "outOrderId")
    existing = store.orders_by_out_id.get(out_order_id)
    if existing is not None:
        order = store.order(existing)
        assert order is not None
        return _create_answer(order, duplicate=True)
    lines = _order_lines(ctx, body)
    order = new_order(
        store,
        out_order_id,
        lines,
        store.now(),
        address=dict(body["addressParam"]),
        flow=v.opt_text(body, "flow"),
        message=v.opt_text(body, "message"),
    )
    return _create_answer(order, duplicate=False)


def _order(ctx: Context, body: Body) -> Order:
    order_id = v.ident(body["orderId"], "orderId")
    order = ctx.store.order(order_id)
    if order is None:
        raise not_found(f"order {order_id} not found")
    return order


@handles("order_pay")
def order_pay(ctx: Context, body: Body) -> Any:
    order = _order(ctx, body)
    if order.status != st.WAITBUYERPAY:
        raise conflict(
            f"order {order.order_id} cannot be paid: its status is {order.status}, not {st.WAITBUYERPAY}"
        )
    order.enter(st.WAITSELLERSEND, ctx.store.now())
    return {"orderId": order.order_id, "payUrl": f"{ctx.base_url}/_sandbox/pay/{order.order_id}"}


def _time_filters(body: Body) -> tuple[float | None, float | None]:
    start = v.time_value(body["createStartTime"], "createStartTime") if body.get("createStartTime") else None
    end = v.time_value(body["createEndTime"], "createEndTime") if body.get("createEndTime") else None
    return start, end


def _in_range(created: float, start: float | None, end: float | None) -> bool:
    return (start is None or created >= start) and (end is None or created < end)


@handles("order_list")
def order_list(ctx: Context, body: Body) -> Any:
    page_no, size = v.paging(body, "pageNo", ctx.store.config.max_page_size)
    status = None
    if body.get("status") not in (None, ""):
        status = st.ORDER_STATUS.normalize(body["status"])
        if status is None:
            known = ", ".join(st.ORDER_STATUS.values)
            raise invalid(f"status must be a 1688 order status ({known}), got {body['status']!r}")
    out_order_id = v.ident(body["outOrderId"], "outOrderId") if body.get("outOrderId") else None
    start, end = _time_filters(body)
    matches = [
        o
        for o in ctx.store.all_orders()
        if (status is None or o.status == status)
        and (out_order_id is None or o.out_order_id == out_order_id)
        and _in_range(o.created, start, end)
    ]
    matches.sort(key=lambda o: (o.created, int(o.order_id)), reverse=True)  # newest first
    chunk = matches[(page_no - 1) * size : page_no * size]
    return views.page([views.order_summary(o) for o in chunk], len(matches), page_no, size)


@handles("order_detail")
def order_detail(ctx: Context, body: Body) -> Any:
    return views.order_detail(_order(ctx, body), ctx.store)


@handles("order_logistics")
def order_logistics(ctx: Context, body: Body) -> Any:
    return views.order_logistics(_order(ctx, body))


# --- 1688 after-sale ---------------------------------------------------------------------------
_GOODS_STATUS = ("received", "not_received")
_DISPUTES = ("refund", "returnRefund")


@handles("refund_reasons")
def refund_reasons(ctx: Context, body: Body) -> Any:
    order = _order(ctx, body)
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
    order = _order(ctx, body)
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
    for entry in entries:
        open_refund = store.open_refund_of_entry(entry.sub_item_id)
        if open_refund is not None:
            raise conflict(
                f"entry {entry.sub_item_id} of order {order.order_id} already has an open refund "
                f"{open_refund.refund_id} ({open_refund.status}); reuse it instead of creating another"
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
        raise conflict(f"refund {refund.refund_id} is {refund.status} (closed) and cannot be cancelled")
    refund.enter(st.REFUNDCLOSE, ctx.store.now())
    return "售后订单取消成功"


@handles("im_openuid_decrypt")
def im_openuid_decrypt(ctx: Context, body: Body) -> Any:
    open_uid = v.text(body["openUid"], "openUid")
    v.ident(body["offerId"], "offerId")
    return {"openUid": open_uid, "loginId": catalog.login_id_of(open_uid)}


# --- Taobao ------------------------------------------------------------------------------------
@handles("taobao_product_detail")
def taobao_product_detail(ctx: Context, body: Body) -> Any:
    item_id = v.ident(body["itemId"], "itemId")
    return catalog.product_detail(item_id, id_field="itemId", sku_field="skuId")


@handles("taobao_product_search")
def taobao_product_search(ctx: Context, body: Body) -> Any:
    return _product_page(ctx, "tb:" + v.text(body["keyword"], "keyword"), body, "pageNo", "itemId")


@handles("taobao_product_image_search")
def taobao_product_image_search(ctx: Context, body: Body) -> Any:
    return _product_page(ctx, "tb:" + _image_seed(body), body, "pageNo", "itemId")


def _taobao_items(body: Body) -> list[dict[str, Any]]:
    v.obj(body["address"], "address")
    items = []
    for i, item in enumerate(v.obj_list(body["items"], "items")):
        item_id = v.ident(item.get("itemId"), f"items[{i}].itemId")
        sku_id = v.ident(item["skuId"], f"items[{i}].skuId") if item.get("skuId") is not None else None
        quantity = v.positive_int(item.get("quantity"), f"items[{i}].quantity")
        price = catalog.unit_price(item_id, sku_id)
        items.append(
            {
                "itemId": item_id,
                "skuId": sku_id,
                "quantity": quantity,
                "price": price,
                "amount": price * quantity,
            }
        )
    return items


@handles("taobao_order_render")
def taobao_order_render(ctx: Context, body: Body) -> Any:
    items = _taobao_items(body)
    return {
        "totalAmount": sum(i["amount"] for i in items) + catalog.TAOBAO_POST_FEE,
        "postFee": catalog.TAOBAO_POST_FEE,
        "items": items,
    }


@handles("taobao_order_create")
def taobao_order_create(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["outOrderId"], "outOrderId")
    existing = store.taobao_by_out_id.get(out_order_id)
    if existing is not None:
        order = store.taobao_order(existing)
        assert order is not None
        return {
            "orderId": order.order_id,
            "outOrderId": out_order_id,
            "status": order.status,
            "duplicate": True,
        }
    items = _taobao_items(body)
    now = store.now()
    order = TaobaoOrder(
        status=lifecycle.TAOBAO_WAIT_PAY,
        since=now,
        created=now,
        order_id=store.ids.taobao_order_id(),
        out_order_id=out_order_id,
        items=items,
        post_fee=catalog.TAOBAO_POST_FEE,
        address=dict(body["address"]),
        remark=v.opt_text(body, "remark"),
    )
    order.history.append((order.status, now))
    store.add_taobao_order(order)
    return {"orderId": order.order_id, "outOrderId": out_order_id, "status": order.status, "duplicate": False}


@handles("taobao_order_list")
def taobao_order_list(ctx: Context, body: Body) -> Any:
    page_no, size = v.paging(body, "pageNo", ctx.store.config.max_page_size)
    status = None
    if body.get("status") not in (None, ""):
        raw = body["status"]
        code = int(raw) if isinstance(raw, int | str) and str(raw).lstrip("-").isdigit() else None
        if code is None or code not in lifecycle.TAOBAO_CODES:
            codes = ", ".join(str(c) for c in lifecycle.TAOBAO_CODES)
            raise invalid(f"status must be a numeric Taobao order status ({codes}), got {raw!r}")
        status = code
    out_order_id = v.ident(body["outOrderId"], "outOrderId") if body.get("outOrderId") else None
    order_id = v.ident(body["orderId"], "orderId") if body.get("orderId") else None
    start, end = _time_filters(body)
    matches = [
        o
        for o in ctx.store.all_taobao_orders()
        if (status is None or o.status == status)
        and (out_order_id is None or o.out_order_id == out_order_id)
        and (order_id is None or o.order_id == order_id)
        and _in_range(o.created, start, end)
    ]
    matches.sort(key=lambda o: (o.created, int(o.order_id)), reverse=True)
    chunk = matches[(page_no - 1) * size : page_no * size]
    return views.page([views.taobao_summary(o) for o in chunk], len(matches), page_no, size)


# --- warehouse ---------------------------------------------------------------------------------
_QC_WORDS = {
    "pass": st.QC_PASSED,
    "passed": st.QC_PASSED,
    "qc_passed": st.QC_PASSED,
    "ok": st.QC_PASSED,
    "success": st.QC_PASSED,
    "fail": st.QC_FAILED,
    "failed": st.QC_FAILED,
    "qc_failed": st.QC_FAILED,
    "rejected": st.QC_FAILED,
}


def _package_items(body: Body) -> list[dict[str, Any]] | None:
    if body.get("items") is None:
        return None
    items = v.obj_list(body["items"], "items", min_items=0)
    for i, item in enumerate(items):
        if item.get("quantity") is not None:
            v.positive_int(item["quantity"], f"items[{i}].quantity")
    return [dict(item) for item in items]


def _alibaba_order_id(body: Body) -> str | None:
    return v.ident(body["alibaba_order_id"], "alibaba_order_id") if body.get("alibaba_order_id") else None


@handles("package_forecast")
def package_forecast(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["out_order_id"], "out_order_id")
    tracking = v.text(body["logistics_tracking_number"], "logistics_tracking_number")
    alibaba_order_id = _alibaba_order_id(body)
    items = _package_items(body)
    existing = store.package(out_order_id)
    if existing is not None:
        return views.package_view(existing)  # forecasting again is idempotent
    owner = store.packages_by_tracking.get(tracking)
    if owner is not None:
        raise conflict(f"logistics_tracking_number {tracking} is already forecast for package {owner}")
    now = store.now()
    package = Package(
        status=st.FORECASTED,
        since=now,
        created=now,
        out_order_id=out_order_id,
        alibaba_order_id=alibaba_order_id,
        tracking_number=tracking,
        items=items or [],
    )
    package.history.append((package.status, now))
    store.add_package(package)
    return views.package_view(package)


def _qc_info(body: Body) -> tuple[dict[str, Any] | None, str | None]:
    """The inspection info of an inbound call and the QC status it states (if any)."""
    if body.get("quality_inspection_info") is None:
        return None, None
    info = dict(v.obj(body["quality_inspection_info"], "quality_inspection_info"))
    for dim in ("weight", "length", "width", "height"):
        v.opt_positive_number(info, dim, f"quality_inspection_info.{dim}")
    if info.get("images") is not None:
        v.text_list(info["images"], "quality_inspection_info.images")
    status = None
    if info.get("status") is not None:
        word = str(info["status"]).strip().lower()
        if word not in _QC_WORDS:
            raise invalid(
                "quality_inspection_info.status must be PASSED or FAILED "
                f"(or pass/fail), got {info['status']!r}"
            )
        status = _QC_WORDS[word]
    return info, status


@handles("package_inbound")
def package_inbound(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["out_order_id"], "out_order_id")
    tracking = v.text(body["logistics_tracking_number"], "logistics_tracking_number")
    alibaba_order_id = _alibaba_order_id(body)
    info, qc_status = _qc_info(body)
    now = store.now()
    package = store.package(out_order_id)
    if package is None:  # a parcel arrived without a forecast: the warehouse registers it
        package = Package(
            status=st.FORECASTED,
            since=now,
            created=now,
            out_order_id=out_order_id,
            alibaba_order_id=alibaba_order_id,
            tracking_number=tracking,
        )
        package.history.append((package.status, now))
        store.add_package(package)
    elif package.status in (st.SHIPPED, st.DELIVERED):
        raise conflict(f"package {out_order_id} is already {package.status}")
    if alibaba_order_id:
        package.alibaba_order_id = alibaba_order_id
    if info is not None:
        package.quality_inspection_info = info
    package.enter(st.INBOUND, now)
    if qc_status is not None:
        package.qc_outcome = "pass" if qc_status == st.QC_PASSED else "fail"
        package.enter(qc_status, now)
    return views.package_view(package)


@handles("package_update")
def package_update(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["out_order_id"], "out_order_id")
    tracking = (
        v.text(body["logistics_tracking_number"], "logistics_tracking_number")
        if body.get("logistics_tracking_number")
        else None
    )
    alibaba_order_id = _alibaba_order_id(body)
    items = _package_items(body)
    package = store.package(out_order_id)
    if package is None:
        raise not_found(f"package {out_order_id} not found; forecast it first")
    if package.status in (st.SHIPPED, st.DELIVERED):
        raise conflict(f"package {out_order_id} is already {package.status} and can no longer be updated")
    if tracking and tracking != package.tracking_number:
        owner = store.packages_by_tracking.get(tracking)
        if owner is not None:
            raise conflict(f"logistics_tracking_number {tracking} is already used by package {owner}")
        store.packages_by_tracking.pop(package.tracking_number, None)
        package.tracking_number = tracking
        store.packages_by_tracking[tracking] = out_order_id
    if alibaba_order_id:
        package.alibaba_order_id = alibaba_order_id
    if items is not None:
        package.items = items
    return views.package_view(package)


@handles("package_detail")
def package_detail(ctx: Context, body: Body) -> Any:
    store = ctx.store
    package: Package | None
    if body.get("out_order_id"):
        key = v.ident(body["out_order_id"], "out_order_id")
        package = store.package(key)
    elif body.get("logistics_tracking_number"):
        key = v.text(body["logistics_tracking_number"], "logistics_tracking_number")
        package = store.package_by_tracking(key)
    else:
        raise invalid("out_order_id or logistics_tracking_number is required for package_detail")
    if package is None:
        raise not_found(f"package {key} not found")
    return views.package_view(package)
