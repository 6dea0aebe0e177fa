"""The 1688 product endpoints, served from the deterministic fake catalogue."""

from __future__ import annotations

from typing import Any

from xportcn_provider.sandbox import catalog, views
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox.failures import invalid
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles


def product_page(ctx: Context, seed: str, body: Body, page_field: str, id_field: str) -> Any:
    page_no, size = v.paging(body, page_field, ctx.store.config.max_page_size)
    items, total = catalog.search_page(seed, page_no, size, id_field=id_field)
    return views.page(items, total, page_no, size, page_field)


def image_seed(body: Body) -> str:
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
    return product_page(ctx, keyword, body, "beginPage", "offerId")


@handles("product_image_search")
def product_image_search(ctx: Context, body: Body) -> Any:
    return product_page(ctx, image_seed(body), body, "beginPage", "offerId")


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
    return product_page(ctx, "pool", body, "pageNo", "offerId")
