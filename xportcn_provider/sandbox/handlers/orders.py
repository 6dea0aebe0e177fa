"""1688 orders: preview, create (idempotent on ``outOrderId``), pay, list, detail, logistics."""

from __future__ import annotations

from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox import catalog, views
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import conflict, invalid, not_found
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles
from xportcn_provider.sandbox.records import Order, OrderItem
from xportcn_provider.sandbox.store import Store


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
        # An unknown offer or spec is refused as 1688 would; prices are product_detail's.
        try:
            spec_id, price = catalog.order_line_price(offer_id, spec_id, f"cargoParamList[{i}]")
        except catalog.UnknownProductError as err:
            raise invalid(str(err)) from None
        lines.append(OrderItem("", offer_id, spec_id, quantity, price))
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
    existing = store.orders_by_out_id.get(out_order_id) if store.config.dedupe else None
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


def find_order(ctx: Context, body: Body) -> Order:
    order_id = v.ident(body["orderId"], "orderId")
    order = ctx.store.order(order_id)
    if order is None:
        raise not_found(f"order {order_id} not found")
    return order


@handles("order_pay")
def order_pay(ctx: Context, body: Body) -> Any:
    order = find_order(ctx, body)
    if order.status != st.WAITBUYERPAY and (ctx.store.config.dedupe or order.payments == 0):
        raise conflict(
            f"order {order.order_id} cannot be paid: its status is {order.status}, not {st.WAITBUYERPAY}"
        )
    order.payments += 1  # without dedupe, paying a paid order charges it again
    if order.status == st.WAITBUYERPAY:
        order.enter(st.WAITSELLERSEND, ctx.store.now())
    return {"orderId": order.order_id, "payUrl": f"{ctx.base_url}/_sandbox/pay/{order.order_id}"}


def time_filters(body: Body) -> tuple[float | None, float | None]:
    start = v.time_value(body["createStartTime"], "createStartTime") if body.get("createStartTime") else None
    end = v.time_value(body["createEndTime"], "createEndTime") if body.get("createEndTime") else None
    return start, end


def in_range(created: float, start: float | None, end: float | None) -> bool:
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
    start, end = time_filters(body)
    matches = [
        o
        for o in ctx.store.all_orders()
        if (status is None or o.status == status)
        and (out_order_id is None or o.out_order_id == out_order_id)
        and in_range(o.created, start, end)
    ]
    matches.sort(key=lambda o: (o.created, int(o.order_id)), reverse=True)  # newest first
    chunk = matches[(page_no - 1) * size : page_no * size]
    return views.page([views.order_summary(o) for o in chunk], len(matches), page_no, size)


@handles("order_detail")
def order_detail(ctx: Context, body: Body) -> Any:
    return views.order_detail(find_order(ctx, body), ctx.store)


@handles("order_logistics")
def order_logistics(ctx: Context, body: Body) -> Any:
    return views.order_logistics(find_order(ctx, body))
