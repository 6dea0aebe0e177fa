"""Taobao products and purchases (create idempotent on ``outOrderId``)."""

from __future__ import annotations

from typing import Any

from xportcn_provider.sandbox import catalog, lifecycle, views
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import invalid
from xportcn_provider.sandbox.handlers.orders import in_range, time_filters
from xportcn_provider.sandbox.handlers.products import image_seed, product_page
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles
from xportcn_provider.sandbox.records import TaobaoOrder


@handles("taobao_product_detail")
def taobao_product_detail(ctx: Context, body: Body) -> Any:
    item_id = v.ident(body["itemId"], "itemId")
    return catalog.product_detail(item_id, id_field="itemId", sku_field="skuId")


@handles("taobao_product_search")
def taobao_product_search(ctx: Context, body: Body) -> Any:
    return product_page(ctx, "tb:" + v.text(body["keyword"], "keyword"), body, "pageNo", "itemId")


@handles("taobao_product_image_search")
def taobao_product_image_search(ctx: Context, body: Body) -> Any:
    return product_page(ctx, "tb:" + image_seed(body), body, "pageNo", "itemId")


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
    existing = store.taobao_by_out_id.get(out_order_id) if store.config.dedupe else None
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
    start, end = time_filters(body)
    matches = [
        o
        for o in ctx.store.all_taobao_orders()
        if (status is None or o.status == status)
        and (out_order_id is None or o.out_order_id == out_order_id)
        and (order_id is None or o.order_id == order_id)
        and in_range(o.created, start, end)
    ]
    matches.sort(key=lambda o: (o.created, int(o.order_id)), reverse=True)
    chunk = matches[(page_no - 1) * size : page_no * size]
    return views.page([views.taobao_summary(o) for o in chunk], len(matches), page_no, size)
