"""Response *shapes*: what the provider assumes each endpoint's ``data`` looks like, as data.

The contract gives request fields but few response shapes, so the shapes the operators, sensors
and the sandbox rely on are assumptions. Keeping them here as data (not prose) lets three things
agree by construction: ``docs/data-shapes.md`` is generated from :data:`ASSUMED_SHAPES` (a test
fails when it is stale), a test asserts the sandbox's own answers match them, and ``airflow
xportcn check --compare FILE`` reports how a real service's recorded shapes differ.

A shape is JSON: an object is a ``dict`` of key -> shape, a list is ``[item shape]`` (``[]`` when
no item was seen), and a scalar is a type name — ``"string"``, ``"integer"``, ``"number"``,
``"boolean"``, ``"null"`` — or several joined by ``|`` (``"string|null"``). An object that may
be ``null`` carries the marker key ``"$nullable": true``. ``"any"`` matches everything. A shape
never holds a value, so a recorded shape carries no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Shape = Any  # dict[str, Shape] | list[Shape] | str

ANY = "any"
#: Marker key of an object shape that may also be ``null``.
NULLABLE = "$nullable"
_SCALARS = ("string", "integer", "number", "boolean", "null")


def shape_of(value: Any) -> Shape:
    """The shape of a decoded JSON value: keys and types, lists collapsed to their item shape."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return {str(k): shape_of(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        item: Shape | None = None
        for element in value:
            item = shape_of(element) if item is None else merge(item, shape_of(element))
        return [] if item is None else [item]
    return type(value).__name__  # not JSON; shown as is so a comparison points at it


def _types(shape: str) -> set[str]:
    return set(shape.split("|"))


def merge(a: Shape, b: Shape) -> Shape:
    """One shape covering both (objects: union of keys; differing scalars: ``a|b``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, sub in b.items():
            merged[key] = merge(a[key], sub) if key in a else sub
        return merged
    if isinstance(a, list) and isinstance(b, list):
        if not a or not b:
            return a or b
        return [merge(a[0], b[0])]
    if isinstance(a, str) and isinstance(b, str):
        if ANY in (a, b):
            return ANY
        ordered = [t for t in (*_SCALARS, *sorted(_types(a) | _types(b))) if t in _types(a) | _types(b)]
        return "|".join(dict.fromkeys(ordered))
    if a == "null" or b == "null":  # a container that may be null
        container = a if b == "null" else b
        if isinstance(container, dict):
            return {NULLABLE: True, **container}
        return container
    return ANY


def _label(shape: Shape) -> str:
    if isinstance(shape, dict):
        return "object"
    if isinstance(shape, list):
        return "array"
    return str(shape)


def _fits(expected: str, actual: str) -> bool:
    if expected == ANY or actual == ANY:
        return True
    allowed = _types(expected)
    if "number" in allowed:
        allowed.add("integer")  # JSON does not tell 1.0 from 1
    return _types(actual) <= allowed


@dataclass(frozen=True)
class Difference:
    """One field where a real answer differs from the assumed shape."""

    path: str  # e.g. ``list[].status``; ``$`` for ``data`` itself
    kind: str  # ``missing`` (assumed, not served), ``extra`` (served, not assumed), ``type``
    expected: str
    actual: str

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.path}: lacking (assumed {self.expected})"
        if self.kind == "extra":
            return f"{self.path}: extra ({self.actual})"
        return f"{self.path}: type {self.actual}, assumed {self.expected}"


def compare(expected: Shape, actual: Shape, path: str = "$") -> list[Difference]:
    """Fields the actual shape lacks, has extra, or types differently (empty list = it fits)."""
    if isinstance(expected, str) and (expected == ANY or (isinstance(actual, str) and actual == ANY)):
        return []
    if isinstance(expected, str) and "null" in _types(expected) and actual == "null":
        return []
    if isinstance(expected, dict) and actual == "null" and expected.get(NULLABLE):
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[Difference] = []
        for key, sub in expected.items():
            if key == NULLABLE:
                continue
            child = key if path == "$" else f"{path}.{key}"
            if key not in actual:
                out.append(Difference(child, "missing", _label(sub), "-"))
            else:
                out.extend(compare(sub, actual[key], child))
        for key in actual:
            if key not in expected and key != NULLABLE:
                child = key if path == "$" else f"{path}.{key}"
                out.append(Difference(child, "extra", "-", _label(actual[key])))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if not expected or not actual:
            return []  # nothing seen on one side: no item to compare
        return compare(expected[0], actual[0], f"{path}[]")
    if isinstance(expected, str) and isinstance(actual, str):
        if _fits(expected, actual):
            return []
        return [Difference(path, "type", expected, actual)]
    return [Difference(path, "type", _label(expected), _label(actual))]


# --- the shapes the provider assumes --------------------------------------------------------------

S, INT, B = "string", "integer", "boolean"
NS, NINT = "string|null", "integer|null"


def _page(item: Shape, page_field: str = "pageNo") -> dict[str, Shape]:
    return {"list": [item], "total": INT, page_field: INT, "pageSize": INT}


_FREIGHT_OPTION = {"serviceId": S, "serviceName": S, "currency": S, "price": INT, "days": INT}
_PRODUCT = {"offerId": S, "title": S, "price": INT, "imageUrl": S}
_TAOBAO_PRODUCT = {"itemId": S, "title": S, "price": INT, "imageUrl": S}
_ORDER_SUMMARY = {"orderId": S, "outOrderId": S, "status": S, "sumPayment": INT, "createTime": S}
_PACKAGE = {
    "out_order_id": S,
    "alibaba_order_id": NS,
    "logistics_tracking_number": NS,
    "status": S,
    "quality_inspection_info": ANY,
    "intl_logistics_order_id": NS,
    "items": [ANY],
}
_PACKAGE_NOTE = "`items` and `quality_inspection_info` echo what the caller sent"

#: endpoint name -> (shape of ``data``, note for the docs). Amounts are integers in fen; times are
#: ISO-8601 UTC strings; ids are strings.
ASSUMED: Mapping[str, tuple[Shape, str]] = {
    "address_list": (
        [{"id": S, "name": S, "province": S, "city": S, "district": S, "address": S, "phone": S}],
        "",
    ),
    "address_save": ({"id": S}, "the address id"),
    "freight_estimate": ({"currency": S, "price": INT, "options": [_FREIGHT_OPTION]}, ""),
    "freight_preview": ({"renderId": S, "options": [_FREIGHT_OPTION]}, "`renderId` e.g. `FF2026112500001`"),
    "intl_logistics_create": (
        {
            "logisticsOrderId": S,
            "tmallOrderId": S,
            "renderId": S,
            "status": S,
            "trackingNumber": NS,
            "duplicate": B,
        },
        "creating again with a `tmallOrderId` already used answers the existing logistics order "
        "(`duplicate: true`), never a second one; `status` starts at `CREATED`",
    ),
    "domestic_logistics_update": (B, "`true`"),
    "product_search": (_page(_PRODUCT, "beginPage"), "page object"),
    "product_image_search": (_page(_PRODUCT, "beginPage"), "page object"),
    "product_pool_list": (_page(_PRODUCT), "page object"),
    "product_category": ({"categoryId": S, "name": S, "children": [ANY]}, "`children` are categories"),
    "product_detail": ({"offerId": S, "title": S, "skus": [{"specId": S, "price": INT, "stock": INT}]}, ""),
    "product_freight_estimate": ({"offerId": S, "freight": INT}, ""),
    "order_preview": (
        {
            "sumPayment": INT,
            "sumCarriage": INT,
            "sumPaymentNoCarriage": INT,
            "cargoList": [{"offerId": S, "specId": S, "quantity": INT, "unitPrice": INT, "amount": INT}],
        },
        "`sumPayment = sumCarriage + Σ amount`",
    ),
    "order_create": (
        {"orderId": S, "outOrderId": S, "totalSuccessAmount": INT, "status": S, "duplicate": B},
        "an `outOrderId` already used answers the existing order (`duplicate: true`); "
        "`status` starts at `waitbuyerpay`",
    ),
    "order_pay": ({"orderId": S, "payUrl": S}, ""),
    "order_list": (_page(_ORDER_SUMMARY), "page object of order summaries"),
    "order_detail": (
        {
            "orderId": S,
            "outOrderId": S,
            "status": S,
            "sumPayment": INT,
            "sumCarriage": INT,
            "createTime": S,
            "payTime": NS,
            "productItems": [
                {
                    "subItemID": S,
                    "offerId": S,
                    "specId": NS,
                    "quantity": INT,
                    "unitPrice": INT,
                    "itemAmount": INT,
                    "refundId": NS,
                    "refundStatus": NS,
                }
            ],
        },
        "`refundId`/`refundStatus`: the entry's newest refund that is open or succeeded; null when "
        "there is none or it was closed",
    ),
    "order_logistics": (
        {
            "orderId": S,
            "status": S,
            "trackingNumber": NS,
            "logisticsCompanyName": NS,
            "logisticsItems": [{"logisticsBillNo": S, "logisticsCompanyName": S, "status": S}],
        },
        "`status` is the order status",
    ),
    "refund_reasons": ([{"id": INT, "name": S, "needVoucher": B}], ""),
    "refund_voucher_upload": ({"url": S}, "the URL to put in `vouchers`"),
    "refund_create": ({"refundId": S}, "`refundId` e.g. `TQ…`"),
    "refund_return_submit": (S, "text, e.g. `退货信息提交成功`"),
    "logistics_companies": ([{"companyNo": S, "companyName": S}], ""),
    "refund_detail": (
        {
            "refundId": S,
            "orderId": S,
            "orderEntryIds": [S],
            "status": S,
            "disputeRequest": S,
            "applyPayment": INT,
            "applyCarriage": NINT,
            "applyReasonId": NINT,
            "createTime": S,
            "returnLogistics": {NULLABLE: True, "logisticsCompanyNo": S, "freightBill": S},
        },
        "`returnLogistics` is null until return logistics are submitted",
    ),
    "refund_cancel": (S, "text, e.g. `售后订单取消成功`"),
    "im_openuid_decrypt": ({"openUid": S, "loginId": S}, ""),
    "taobao_product_detail": (
        {"itemId": S, "title": S, "skus": [{"skuId": S, "price": INT, "stock": INT}]},
        "",
    ),
    "taobao_product_search": (_page(_TAOBAO_PRODUCT), "page object"),
    "taobao_product_image_search": (_page(_TAOBAO_PRODUCT), "page object"),
    "taobao_order_render": (
        {
            "totalAmount": INT,
            "postFee": INT,
            "items": [{"itemId": S, "skuId": NS, "quantity": INT, "price": INT, "amount": INT}],
        },
        "",
    ),
    "taobao_order_create": (
        {"orderId": S, "outOrderId": S, "status": INT, "duplicate": B},
        "`status` is the numeric Taobao code (`0` on create)",
    ),
    "taobao_order_list": (
        _page({**_ORDER_SUMMARY, "status": INT}),
        "page object of order summaries; `status` is the numeric Taobao code",
    ),
    "package_forecast": (_PACKAGE, _PACKAGE_NOTE),
    "package_update": (_PACKAGE, _PACKAGE_NOTE),
    "package_inbound": (_PACKAGE, _PACKAGE_NOTE),
    "package_detail": (_PACKAGE, _PACKAGE_NOTE),
}

ASSUMED_SHAPES: Mapping[str, Shape] = {name: shape for name, (shape, _) in ASSUMED.items()}


def compact(shape: Shape) -> str:
    """A shape on one line, e.g. ``{"id": string, "tags": [string]}`` (for tables and reports)."""
    if isinstance(shape, dict):
        nullable = " or null" if shape.get(NULLABLE) else ""
        inner = ", ".join(f'"{k}": {compact(v)}' for k, v in shape.items() if k != NULLABLE)
        return "{" + inner + "}" + nullable
    if isinstance(shape, list):
        return "[" + (compact(shape[0]) if shape else "") + "]"
    return str(shape).replace("|", " or ")


DOC_BEGIN = "<!-- generated: xportcn_provider.api.shapes (python -m xportcn_provider.api.shapes --write) -->"
DOC_END = "<!-- end generated -->"


def doc_table() -> str:
    """The Markdown table of every assumed shape, as ``docs/data-shapes.md`` shows it."""
    rows = ["| endpoint | `data` | note |", "|---|---|---|"]
    for name, (shape, note) in sorted(ASSUMED.items()):
        rows.append(f"| `{name}` | `{compact(shape)}` | {note} |")
    return "\n".join(rows)


def render_doc(text: str) -> str:
    """``text`` (the doc) with the part between the markers replaced by :func:`doc_table`."""
    start, end = text.index(DOC_BEGIN) + len(DOC_BEGIN), text.index(DOC_END)
    return f"{text[:start]}\n{doc_table()}\n{text[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m xportcn_provider.api.shapes [--write] DOC``: print or rewrite the shapes table."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("doc", nargs="?", default="docs/data-shapes.md")
    parser.add_argument("--write", action="store_true", help="rewrite the generated part of DOC")
    args = parser.parse_args(argv)
    path = Path(args.doc)
    rendered = render_doc(path.read_text(encoding="utf-8"))
    if args.write:
        path.write_text(rendered, encoding="utf-8")
    else:
        print(rendered, end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
