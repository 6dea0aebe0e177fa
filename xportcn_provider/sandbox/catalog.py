"""A deterministic fake product catalogue, prices and reference lists.

Search results, product details and order prices are all derived from ids and keywords with a
stable hash, so the same offer always has the same price: ``order_preview`` of an offer seen in
``product_detail`` adds up exactly, and tests can assert amounts without a fixture file.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

#: Carriage (fen) the sandbox charges per 1688 order (the contract's preview example: 600).
ORDER_CARRIAGE = 600
#: Post fee (fen) per Taobao order.
TAOBAO_POST_FEE = 800

LOGISTICS_COMPANIES: tuple[dict[str, str], ...] = (
    {"companyNo": "YTO", "companyName": "圆通速递"},
    {"companyNo": "ZTO", "companyName": "中通快递"},
    {"companyNo": "STO", "companyName": "申通快递"},
    {"companyNo": "YUNDA", "companyName": "韵达快递"},
    {"companyNo": "SF", "companyName": "顺丰速运"},
    {"companyNo": "EMS", "companyName": "EMS"},
)
COMPANY_NUMBERS = frozenset(c["companyNo"] for c in LOGISTICS_COMPANIES)
#: The domestic carrier the sandbox's sellers ship with.
SELLER_CARRIER = LOGISTICS_COMPANIES[0]

REFUND_REASONS: dict[str, tuple[dict[str, Any], ...]] = {
    "not_received": (
        {"id": 20001, "name": "未收到货 / Goods not received", "needVoucher": False},
        {"id": 20002, "name": "不想要了 / No longer wanted", "needVoucher": False},
        {"id": 20003, "name": "卖家发货慢 / Seller shipped too late", "needVoucher": False},
    ),
    "received": (
        {"id": 10001, "name": "质量问题 / Quality problem", "needVoucher": True},
        {"id": 10002, "name": "少件/漏发 / Missing items", "needVoucher": True},
        {"id": 10003, "name": "与描述不符 / Not as described", "needVoucher": True},
        {"id": 10004, "name": "七天无理由退货 / 7-day no-reason return", "needVoucher": False},
    ),
}

FREIGHT_SERVICES: tuple[dict[str, Any], ...] = (
    {"serviceId": "XP-ECONOMY", "serviceName": "Xport Economy", "base": 3000, "per_half_kg": 900, "days": 18},
    {
        "serviceId": "XP-STANDARD",
        "serviceName": "Xport Standard",
        "base": 4500,
        "per_half_kg": 1300,
        "days": 10,
    },
    {"serviceId": "XP-EXPRESS", "serviceName": "Xport Express", "base": 8000, "per_half_kg": 2200, "days": 5},
)
#: Weight (kg) the sandbox assumes per unit when a freight preview gives no weight.
UNIT_WEIGHT_KG = 0.5

_CATEGORY_NAMES = ("Apparel", "Home & Garden", "Electronics", "Toys", "Beauty", "Sports", "Office")


def _h(*parts: object) -> int:
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


def unit_price(product_id: str, sku_id: str | None = None) -> int:
    """Price in fen of one unit (1.00 to 199.99 CNY), stable for a product and SKU."""
    return 100 + _h(product_id, sku_id or "") % 19900


def sku_ids(product_id: str, count: int = 3) -> list[str]:
    """1688 spec ids look like 32-char hex hashes; Taobao sku ids are numbers."""
    return [
        hashlib.md5(f"{product_id}:{k}".encode(), usedforsecurity=False).hexdigest() for k in range(count)
    ]


def _product_id(keyword: str, index: int) -> str:
    return str(600_000_000_000 + _h(keyword, index) % 100_000_000_000)


def search_total(keyword: str) -> int:
    return 20 + _h(keyword) % 80


def search_page(seed: str, page: int, size: int, *, id_field: str) -> tuple[list[dict[str, Any]], int]:
    """One page of deterministic results for a keyword (or an image) and their total."""
    total = search_total(seed)
    start = (page - 1) * size
    items = []
    for index in range(start, min(start + size, total)):
        pid = _product_id(seed, index)
        items.append(
            {
                id_field: pid,
                "title": f"{seed} #{index + 1} (sandbox)",
                "price": unit_price(pid),
                "imageUrl": f"https://img.sandbox.invalid/{pid}.jpg",
            }
        )
    return items, total


def product_detail(product_id: str, *, id_field: str, sku_field: str) -> dict[str, Any]:
    skus = [
        {sku_field: sku, "price": unit_price(product_id, sku), "stock": 50 + _h(sku) % 950}
        for sku in sku_ids(product_id)
    ]
    return {id_field: product_id, "title": f"Sandbox product {product_id}", "skus": skus}


def order_line_price(offer_id: str, spec_id: str | None, where: str) -> tuple[str, int]:
    """The spec ordered and its unit price (fen), exactly as ``product_detail`` shows them.

    Like a real 1688 order: an offer id that is not a number names no offer, and a ``specId``
    that is not one of the offer's SKUs is refused (``UnknownProductError``, the message naming
    ``where``). Without a ``specId`` the offer's first SKU is ordered.
    """
    if not offer_id.isdigit():
        raise UnknownProductError(f"{where}.offerId {offer_id!r}: no such offer (商品不存在)")
    skus = product_detail(offer_id, id_field="offerId", sku_field="specId")["skus"]
    if spec_id is None:
        return str(skus[0]["specId"]), int(skus[0]["price"])
    for sku in skus:
        if sku["specId"] == spec_id:
            return spec_id, int(sku["price"])
    known = ", ".join(str(sku["specId"]) for sku in skus)
    raise UnknownProductError(
        f"{where}.specId {spec_id!r} is not a spec of offer {offer_id} (规格不存在); "
        f"its specs (product_detail): {known}"
    )


class UnknownProductError(ValueError):
    """An order line names an offer or a spec the catalogue does not have."""


def category(category_id: str) -> dict[str, Any]:
    """A node and its children; ``0`` is the root."""
    base = int(category_id) if category_id.isdigit() else _h(category_id) % 1000
    name = "All categories" if base == 0 else _CATEGORY_NAMES[base % len(_CATEGORY_NAMES)]
    children = [
        {
            "categoryId": str(base * 10 + k),
            "name": _CATEGORY_NAMES[(base + k) % len(_CATEGORY_NAMES)],
            "children": [],
        }
        for k in range(1, 4)
    ]
    return {"categoryId": str(base), "name": name, "children": children}


def freight_options(weight_kg: float) -> list[dict[str, Any]]:
    halves = max(1, int(-(-weight_kg // 0.5)))
    return [
        {
            "serviceId": s["serviceId"],
            "serviceName": s["serviceName"],
            "currency": "CNY",
            "price": s["base"] + s["per_half_kg"] * (halves - 1),
            "days": s["days"],
        }
        for s in FREIGHT_SERVICES
    ]


def login_id_of(open_uid: str) -> str:
    return f"sandbox_buyer_{_h(open_uid) % 1_000_000:06d}"
