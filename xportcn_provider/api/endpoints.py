"""The endpoint catalogue: the one table of every Xportcn call the provider knows.

Many paths are *inferred* (contract §2), so a connection may override any path by name; the
names are the provider's own and never change. ``read_only`` marks calls that change nothing on
the server: only those may be polled by a trigger, because a trigger can be re-run after a
triggerer restart (a POST that creates would then be sent twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from xportcn_provider.api.errors import XportcnValidationError

Confidence = Literal["confirmed", "evidence", "inferred"]
Method = Literal["GET", "POST"]
#: What the client does after a failure whose outcome is *unknown* (the request may have been
#: processed: a timeout or dropped connection after sending, a bare 5xx). ``always``: resend (reads
#: only: reading twice changes nothing). ``verify``: look the object up first (``api/verify.py``)
#: and return it when found; resend only when it is not there. ``never``: raise
#: ``XportcnOutcomeUnknownError`` naming the caller key and what to check. Failures that prove the
#: request was not processed (connection refused, 429, 503 with Retry-After, an envelope "busy"
#: code) are resent whatever the rule.
RetryRule = Literal["always", "verify", "never"]

QUERY_SIGNED_PREFIX = "/open/pp/logistics/"


@dataclass(frozen=True)
class Endpoint:
    """One catalogue entry; ``fields`` are the contract's known body fields (others pass through)."""

    name: str
    method: Method
    path: str
    confidence: Confidence
    read_only: bool
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    paginated: bool = False
    note: str = ""
    #: Other paths the same call may live under (the sister platform's, contract §2), tried in
    #: order by ``airflow xportcn check`` when this path answers "no such route".
    alternates: tuple[str, ...] = ()

    @property
    def retry(self) -> RetryRule:
        """This endpoint's rule after an unknown outcome (see :data:`RETRY_RULES`)."""
        return "always" if self.read_only else RETRY_RULES[self.name][0]

    @property
    def query_signed(self) -> bool:
        """Warehouse-logistics paths also carry ``?timestamp=&sign=`` (contract §1.1)."""
        return self.path.startswith(QUERY_SIGNED_PREFIX)


_PAGING = ("pageNo", "pageSize")
_PRODUCT_PAGING = ("beginPage", "pageSize")
_ORDER_FIELDS = ("flow", "outOrderId", "aliId", "addressParam", "cargoParamList")
_PACKAGE_FIELDS = (
    "out_order_id",
    "alibaba_order_id",
    "logistics_tracking_number",
    "items",
)


def _e(
    name: str,
    method: Method,
    path: str,
    confidence: Confidence,
    read_only: bool,
    fields: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    paginated: bool = False,
    note: str = "",
    alternates: tuple[str, ...] = (),
) -> Endpoint:
    return Endpoint(name, method, path, confidence, read_only, fields, required, paginated, note, alternates)


_CATALOGUE: tuple[Endpoint, ...] = (
    # --- basics -------------------------------------------------------------------------------
    _e("address_list", "POST", "/open/address/list", "inferred", True),
    _e(
        "address_save",
        "POST",
        "/open/address/addOrUpdate",
        "inferred",
        False,
        ("id", "name", "province", "city", "district", "address", "phone"),
        ("name", "province", "city", "address", "phone"),
        note="sister platform: /v2/open/address/addOrUpdate",
        alternates=("/v2/open/address/addOrUpdate",),
    ),
    # --- international / warehouse logistics (query-signed) -----------------------------------
    _e(
        "freight_estimate",
        "POST",
        "/open/pp/logistics/estimateFreight",
        "inferred",
        True,
        ("country", "weight", "length", "width", "height"),
        ("country", "weight"),
    ),
    _e(
        "freight_preview",
        "POST",
        "/open/pp/logistics/orderRenderFreight",
        "evidence",
        True,
        ("receiverAddress", "renderItems"),
        ("receiverAddress", "renderItems"),
    ),
    _e(
        "intl_logistics_create",
        "POST",
        "/open/pp/logistics/orderBookingFreight",
        "confirmed",
        False,
        ("renderId", "receiverAddress", "lineItems", "tmallOrderInfo", "remark"),
        ("renderId", "receiverAddress", "lineItems", "tmallOrderInfo"),
    ),
    _e(
        "domestic_logistics_update",
        "POST",
        "/open/pp/logistics/updateLogisticInfo",
        "confirmed",
        False,
        ("orderId", "tmallOrderId", "logisticInfos"),
        ("orderId", "logisticInfos"),
    ),
    # --- 1688 products ------------------------------------------------------------------------
    _e(
        "product_search",
        "POST",
        "/alibaba/ka/product/keywords/query",
        "confirmed",
        True,
        (
            "keyword",
            *_PRODUCT_PAGING,
            "country",
            "filter",
            "sort",
            "priceStart",
            "priceEnd",
            "categoryId",
            "outMemberId",
        ),
        ("keyword",),
        paginated=True,
    ),
    _e(
        "product_image_search",
        "POST",
        "/alibaba/ka/product/image/query",
        "inferred",
        True,
        ("imageBase64", "imageAddress", *_PRODUCT_PAGING),
        paginated=True,
    ),
    _e("product_category", "POST", "/alibaba/ka/product/category/get", "inferred", True, ("categoryId",)),
    _e(
        "product_detail",
        "POST",
        "/alibaba/ka/product/detail/get",
        "inferred",
        True,
        ("offerId", "country", "outMemberId"),
        ("offerId",),
        note="sister platform: /alibaba/product/detail/get",
        alternates=("/alibaba/product/detail/get",),
    ),
    _e(
        "product_freight_estimate",
        "POST",
        "/alibaba/ka/product/freight/estimate",
        "inferred",
        True,
        ("offerId", "toProvinceCode", "toCityCode", "toCountryCode", "totalNum"),
        ("offerId",),
    ),
    _e(
        "product_pool_list",
        "POST",
        "/alibaba/ka/product/pool/list",
        "inferred",
        True,
        _PAGING,
        paginated=True,
    ),
    # --- 1688 orders --------------------------------------------------------------------------
    _e(
        "order_preview",
        "POST",
        "/alibaba/ka/order/create/preview",
        "confirmed",
        True,
        _ORDER_FIELDS,
        ("addressParam", "cargoParamList"),
    ),
    _e(
        "order_create",
        "POST",
        "/alibaba/ka/order/create",
        "confirmed",
        False,
        (*_ORDER_FIELDS, "message", "shopPromotionId", "tradeType"),
        ("outOrderId", "addressParam", "cargoParamList"),
    ),
    _e("order_pay", "POST", "/alibaba/ka/order/pay", "confirmed", False, ("orderId",), ("orderId",)),
    _e(
        "order_list",
        "POST",
        "/alibaba/ka/order/list",
        "inferred",
        True,
        (*_PAGING, "status", "createStartTime", "createEndTime", "outOrderId"),
        paginated=True,
    ),
    _e(
        "order_detail",
        "POST",
        "/alibaba/ka/order/detail",
        "inferred",
        True,
        ("orderId", "webSite"),
        ("orderId",),
        note="sister platform: /alibaba/order/detail",
        alternates=("/alibaba/order/detail",),
    ),
    _e(
        "order_logistics", "POST", "/alibaba/ka/order/logistics", "inferred", True, ("orderId",), ("orderId",)
    ),
    # --- 1688 after-sale ----------------------------------------------------------------------
    _e(
        "refund_reasons",
        "POST",
        "/alibaba/ka/refund/reasons",
        "inferred",
        True,
        ("orderId", "orderEntryIds", "goodsStatus"),
        ("orderId",),
    ),
    _e(
        "refund_voucher_upload",
        "POST",
        "/alibaba/ka/refund/voucher/upload",
        "inferred",
        False,
        ("imageBase64", "fileName"),
        ("imageBase64",),
        note="an image as base64; answers with the URL to put in `vouchers`",
    ),
    _e(
        "refund_create",
        "POST",
        "/alibaba/ka/refund/create",
        "inferred",
        False,
        (
            "orderId",
            "orderEntryIds",
            "disputeRequest",
            "applyPayment",
            "applyCarriage",
            "applyReasonId",
            "description",
            "goodsStatus",
            "vouchers",
            "orderEntryCountList",
        ),
        ("orderId", "orderEntryIds", "disputeRequest", "applyPayment"),
        note="sister platform: /alibaba/refund/detail/create",
        alternates=("/alibaba/refund/detail/create",),
    ),
    _e(
        "refund_return_submit",
        "POST",
        "/alibaba/ka/refund/goods/return",
        "inferred",
        False,
        ("refundId", "logisticsCompanyNo", "freightBill", "description", "vouchers"),
        ("refundId", "logisticsCompanyNo", "freightBill"),
        note="sister platform: /alibaba/refund/goods/return",
        alternates=("/alibaba/refund/goods/return",),
    ),
    _e("logistics_companies", "GET", "/alibaba/ka/refund/logistics/companies", "inferred", True),
    _e(
        "refund_detail",
        "POST",
        "/alibaba/ka/refund/detail",
        "inferred",
        True,
        ("refundId",),
        ("refundId",),
        note="sister platform: /alibaba/refund/info",
        alternates=("/alibaba/refund/info",),
    ),
    _e(
        "refund_cancel", "POST", "/alibaba/ka/refund/cancel", "confirmed", False, ("refundId",), ("refundId",)
    ),
    _e(
        "im_openuid_decrypt",
        "POST",
        "/alibaba/ka/im/openuid/decrypt",
        "confirmed",
        True,
        ("openUid", "offerId"),
        ("openUid", "offerId"),
    ),
    # --- Taobao -------------------------------------------------------------------------------
    _e(
        "taobao_product_detail",
        "POST",
        "/open/taobao/product/detail",
        "inferred",
        True,
        ("itemId",),
        ("itemId",),
    ),
    _e(
        "taobao_product_search",
        "POST",
        "/open/taobao/product/keywords/query",
        "inferred",
        True,
        ("keyword", *_PAGING),
        ("keyword",),
        paginated=True,
    ),
    _e(
        "taobao_product_image_search",
        "POST",
        "/open/taobao/product/image/query",
        "inferred",
        True,
        ("imageBase64", "imageAddress", *_PAGING),
        paginated=True,
    ),
    _e(
        "taobao_order_render",
        "POST",
        "/open/purchase/render",
        "inferred",
        True,
        ("items", "address"),
        ("items", "address"),
    ),
    _e(
        "taobao_order_create",
        "POST",
        "/open/purchase/create",
        "inferred",
        False,
        ("items", "address", "outOrderId", "remark"),
        ("items", "address", "outOrderId"),
    ),
    _e(
        "taobao_order_list",
        "POST",
        "/open/purchase/page",
        "confirmed",
        True,
        (*_PAGING, "status", "outOrderId", "orderId", "createStartTime", "createEndTime"),
        paginated=True,
    ),
    # --- warehouse (wms, snake_case bodies) ---------------------------------------------------
    _e(
        "package_forecast",
        "POST",
        "/wms/package/forecast",
        "inferred",
        False,
        _PACKAGE_FIELDS,
        ("out_order_id", "logistics_tracking_number"),
    ),
    _e(
        "package_inbound",
        "POST",
        "/wms/package/inbound",
        "confirmed",
        False,
        ("out_order_id", "alibaba_order_id", "logistics_tracking_number", "quality_inspection_info"),
        ("out_order_id", "logistics_tracking_number"),
        note="marked 'developing' in the official docs",
    ),
    _e(
        "package_update",
        "POST",
        "/wms/package/update",
        "inferred",
        False,
        _PACKAGE_FIELDS,
        ("out_order_id",),
    ),
    _e(
        "package_detail",
        "POST",
        "/wms/package/detail",
        "inferred",
        True,
        ("out_order_id", "logistics_tracking_number"),
    ),
)

#: The rule of every write endpoint after an unknown outcome, and why (docs/hook.md shows this
#: table; a test checks that every write has a rule and every ``verify`` a lookup). Reads need
#: none: they are always resent.
RETRY_RULES: Mapping[str, tuple[RetryRule, str]] = {
    "order_create": (
        "verify",
        "order_list by outOrderId: an order with our outOrderId is the answer",
    ),
    "taobao_order_create": (
        "verify",
        "taobao_order_list by outOrderId: an order with our outOrderId is the answer",
    ),
    "order_pay": (
        "verify",
        "order_detail: an order already paid (paid status or payStatus 2) is the answer",
    ),
    "refund_create": (
        "verify",
        "order_detail -> the sub-orders' refunds -> refund_detail: an open refund on exactly the "
        "requested sub-orders is the answer",
    ),
    "refund_cancel": ("verify", "refund_detail: a closed refund is the answer"),
    "refund_return_submit": (
        "verify",
        "refund_detail: returnLogistics.freightBill equal to ours is the answer",
    ),
    "package_forecast": (
        "verify",
        "package_detail by out_order_id: a package with our tracking number is the answer",
    ),
    "package_inbound": (
        "verify",
        "package_detail by out_order_id: a package past FORECASTED is the answer",
    ),
    "package_update": (
        "verify",
        "package_detail by out_order_id: a package showing our tracking number and items is the answer",
    ),
    "address_save": (
        "verify",
        "address_list: an address with our name, phone, province, city and address is the answer",
    ),
    "intl_logistics_create": (
        "never",
        "no endpoint reads a booking back: look for tmallOrderId in the console before booking again",
    ),
    "domestic_logistics_update": (
        "never",
        "no endpoint shows a recorded waybill reliably: check the order's logistics in the console",
    ),
    "refund_voucher_upload": (
        "never",
        "an upload has no caller key to look up; a second upload only leaves an unused image",
    ),
}

CATALOGUE: Mapping[str, Endpoint] = {e.name: e for e in _CATALOGUE}
ENDPOINT_NAMES: tuple[str, ...] = tuple(sorted(CATALOGUE))
READ_ENDPOINT_NAMES: frozenset[str] = frozenset(e.name for e in _CATALOGUE if e.read_only)


def _unknown(name: object, where: str) -> XportcnValidationError:
    return XportcnValidationError(
        f"Unknown Xportcn endpoint name {name!r} in {where}. Valid names: {', '.join(ENDPOINT_NAMES)}.",
        parameter=where,
    )


def get_endpoint(name: str) -> Endpoint:
    """The catalogue entry for ``name``; an unknown name lists every valid one."""
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise _unknown(name, "endpoint") from None


def validate_overrides(overrides: Mapping[str, Any] | None) -> dict[str, str]:
    """Check a connection's ``endpoint_overrides`` map: known names, absolute-looking paths."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise XportcnValidationError(
            f"endpoint_overrides must be a JSON object mapping endpoint name to path, "
            f"got {type(overrides).__name__}.",
            parameter="endpoint_overrides",
        )
    checked: dict[str, str] = {}
    for name, path in overrides.items():
        if name not in CATALOGUE:
            raise _unknown(name, "endpoint_overrides")
        if not isinstance(path, str) or not path.startswith("/"):
            raise XportcnValidationError(
                f"endpoint_overrides[{name!r}] must be a path starting with '/', got {path!r}.",
                parameter="endpoint_overrides",
            )
        checked[name] = path
    return checked


def resolve(name: str, overrides: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint for ``name`` with the connection's path override applied, if any."""
    endpoint = get_endpoint(name)
    if overrides and name in overrides:
        return replace(endpoint, path=overrides[name])
    return endpoint
