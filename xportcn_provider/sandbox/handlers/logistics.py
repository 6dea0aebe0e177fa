"""International and warehouse logistics: freight estimates and previews, booking, domestic legs."""

from __future__ import annotations

from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox import catalog, lifecycle, views
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import conflict, not_found
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles
from xportcn_provider.sandbox.records import LogisticsOrder, Order
from xportcn_provider.sandbox.store import Render


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
    existing = store.logistics_by_tmall_id.get(tmall_order_id) if store.config.dedupe else None
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
