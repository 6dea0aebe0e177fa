"""Saved addresses (``address_list``, ``address_save``)."""

from __future__ import annotations

from typing import Any

from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import not_found
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles


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
