"""The shapes of the structured request parameters: one ``TypedDict`` per object a user writes.

Annotate your own dicts with them and your IDE completes the keys and mypy checks them::

    from xportcn_provider.api.request_shapes import AddressParam, CargoParam

    ADDR: AddressParam = {"fullName": "张三", "mobile": "13800000000", "address": "文一西路 969 号"}
    CARGO: list[CargoParam] = [{"offerId": "610000000001", "quantity": 2}]

Field names are the contract's (``xportcn-api.md`` §2, camelCase, ``logisticNumer`` sic; the
warehouse calls are snake_case). ``Required`` marks what the provider or the sandbox refuses
without; everything else is optional. Where the contract lists no fields (the Taobao address,
warehouse package items) the shape says so and the service's own rules decide.

The same shapes are the sandbox's OpenAPI request schemas (:data:`BODY_SHAPES`, rendered by
:func:`body_field_schema`), and ``docs/operators.md`` has a complete example of each, run
against the sandbox by ``tests/integration/test_docs_examples.py``.

No Airflow import here: the sandbox and the hook use these too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Required

# typing_extensions, not typing: pydantic (the sandbox's OpenAPI) reads them on Python 3.11.
from typing_extensions import TypedDict


class AddressParam(TypedDict, total=False):
    """1688 receiving address (``addressParam`` of ``order_preview``/``order_create``).

    ``fullName`` and ``address`` are required, and ``mobile`` or ``phone`` (the courier calls).
    """

    fullName: Required[str]
    mobile: str
    phone: str
    postCode: str
    provinceText: str
    cityText: str
    areaText: str
    townText: str
    address: Required[str]
    districtCode: str


class CargoParam(TypedDict, total=False):
    """One 1688 order line (``cargoParamList[]``). ``specId`` is one of ``product_detail``'s
    ``skus[].specId``; without it the offer's first spec is ordered."""

    offerId: Required[str | int]
    specId: str
    quantity: Required[int]


class TaobaoItem(TypedDict, total=False):
    """One Taobao order line (``items[]`` of ``taobao_order_render``/``taobao_order_create``)."""

    itemId: Required[str | int]
    skuId: str | int
    quantity: Required[int]


class TaobaoAddress(TypedDict, total=False):
    """Taobao receiving address (``address``). The contract lists no fields; these are the
    provider's names for the usual ones, and the service decides what it needs."""

    name: str
    mobile: str
    phone: str
    province: str
    city: str
    district: str
    address: str
    postCode: str


class FreightInfo(TypedDict, total=False):
    """The chosen freight service of a line (from a ``freight_preview`` option)."""

    currency: str
    price: int
    serviceId: str


class ReceiverAddress(TypedDict, total=False):
    """International receiver (``receiverAddress`` of ``freight_preview``/``intl_logistics_create``)."""

    name: Required[str]
    email: str
    phone: str
    mobilePhone: str
    address: Required[str]
    taxId: str
    country: Required[str]
    city: str
    zip: str
    state: str


class RenderItem(TypedDict, total=False):
    """One line of a freight preview (``renderItems[]``)."""

    itemId: Required[str | int]
    skuId: str | int
    quantity: Required[int]
    freightInfo: FreightInfo


class LineItem(TypedDict, total=False):
    """One line of an international booking (``lineItems[]``)."""

    itemId: Required[str | int]
    skuId: str | int
    quantity: Required[int]
    title: str
    imageUrl: str
    freightInfo: FreightInfo


class TmallOrderInfo(TypedDict):
    """The caller's own order id of a booking (``tmallOrderInfo``): its idempotency key."""

    tmallOrderId: str


class DomesticLineItem(TypedDict, total=False):
    """The goods a domestic waybill carries (``logisticInfos[].lineItem``)."""

    itemId: str | int
    skuId: str | int
    quantity: int
    title: str
    imageUrl: str


class DomesticLeg(TypedDict, total=False):
    """One domestic carrier leg (``logisticInfos[].domesticLogisticInfo[]``)."""

    logisticNumer: Required[str]
    logisticCompanyName: Required[str]
    rtsTime: int


class LogisticInfo(TypedDict, total=False):
    """One domestic waybill (``logisticInfos[]`` of ``domestic_logistics_update``).

    ``logisticNumer`` (sic, the contract's spelling) is the tracking number; give it, or the
    carrier legs in ``domesticLogisticInfo`` (each with its number and company).
    """

    lineItem: DomesticLineItem
    logisticNumer: str
    domesticLogisticInfo: list[DomesticLeg]


class PackageItem(TypedDict, total=False):
    """Expected goods of a warehouse package (``items[]`` of ``package_forecast``/``package_update``).
    The contract names no fields ("expected items"); the sandbox checks ``quantity`` only."""

    offerId: str | int
    specId: str
    quantity: int
    title: str


class QualityInspectionInfo(TypedDict, total=False):
    """Inspection result of ``package_inbound`` (snake_case, as the contract shows)."""

    status: Required[Literal["PASSED", "FAILED"]]
    weight: float
    length: float
    width: float
    height: float
    failed_remark: str
    images: list[str]


class OrderEntryCount(TypedDict):
    """How many units of one sub-order a refund covers (``orderEntryCountList[]``)."""

    id: str | int
    count: int


#: Request body fields with a shape, per endpoint (field -> type). The sandbox's OpenAPI uses it.
BODY_SHAPES: Mapping[str, Mapping[str, Any]] = {
    "order_preview": {"addressParam": AddressParam, "cargoParamList": list[CargoParam]},
    "order_create": {"addressParam": AddressParam, "cargoParamList": list[CargoParam]},
    "taobao_order_render": {"items": list[TaobaoItem], "address": TaobaoAddress},
    "taobao_order_create": {"items": list[TaobaoItem], "address": TaobaoAddress},
    "freight_preview": {"receiverAddress": ReceiverAddress, "renderItems": list[RenderItem]},
    "intl_logistics_create": {
        "receiverAddress": ReceiverAddress,
        "lineItems": list[LineItem],
        "tmallOrderInfo": TmallOrderInfo,
    },
    "domestic_logistics_update": {"logisticInfos": list[LogisticInfo]},
    "package_forecast": {"items": list[PackageItem]},
    "package_update": {"items": list[PackageItem]},
    "package_inbound": {"quality_inspection_info": QualityInspectionInfo},
    "refund_create": {"orderEntryCountList": list[OrderEntryCount]},
}


def body_field_schema(endpoint: str, field: str) -> dict[str, Any]:
    """The JSON Schema of one body field (``{}`` when it has no shape), references inlined.

    Built with pydantic (the sandbox's FastAPI brings it; imported here on first use only).
    """
    shape = BODY_SHAPES.get(endpoint, {}).get(field)
    if shape is None:
        return {}
    from pydantic import TypeAdapter

    schema = TypeAdapter(shape).json_schema()
    defs = schema.pop("$defs", {})
    return _inline(schema, defs)


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node
