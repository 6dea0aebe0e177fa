"""One typed method per catalogue endpoint, over ``call``.

Each method takes the contract's known fields as snake_case keyword arguments and an ``extra``
mapping for anything else the server accepts. Required fields are checked here, before any HTTP
call, with an error that names the keyword argument. Method names are the catalogue names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from xportcn_provider.api.endpoints import get_endpoint
from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.ids import check_body_ids
from xportcn_provider.api.statuses import client_side_status_filter, row_has_status

Json = Any
Extra = Mapping[str, Any] | None


#: Body fields built from a keyword argument of another name (the error must name the keyword).
_KWARG_FOR_FIELD = {"tmallOrderInfo": "tmall_order_id"}


def _snake(field: str) -> str:
    if field in _KWARG_FOR_FIELD:
        return _KWARG_FOR_FIELD[field]
    out = []
    for ch in field:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def build_body(name: str, fields: Mapping[str, Any], extra: Extra = None) -> dict[str, Any]:
    """The request body for ``name``: known fields (``None`` dropped), then ``extra``.

    A required field that is missing or empty fails here with the keyword argument's name.
    ``extra`` may not silently replace a known field given as a keyword argument.
    """
    endpoint = get_endpoint(name)
    body = {k: v for k, v in fields.items() if v is not None}
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise XportcnValidationError(
                f"{name}: extra must be a mapping of additional body fields, got {type(extra).__name__}.",
                parameter="extra",
                endpoint=name,
            )
        clash = sorted(set(extra) & set(body))
        if clash:
            raise XportcnValidationError(
                f"{name}: extra repeats {', '.join(clash)}, which is already given as a keyword argument.",
                parameter="extra",
                endpoint=name,
            )
        body.update(extra)
    for field in endpoint.required:
        value = body.get(field)
        if value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0):
            raise XportcnValidationError(
                f"{name}: {_snake(field)} ({field!r}) is required.", parameter=_snake(field), endpoint=name
            )
    check_body_ids(name, body)  # a malformed order/refund id fails here, naming it, with no call
    return body


class XportcnEndpointMethods:
    """Typed wrappers; the concrete class provides ``call`` and ``paginate``."""

    def call(self, name: str, payload: Mapping[str, Any] | None = None, *, params: Any = None) -> Any:
        raise NotImplementedError

    def paginate(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        page_size: int = 50,
        max_pages: int | None = None,
    ) -> Iterator[Any]:
        raise NotImplementedError

    def _invoke(self, name: str, fields: Mapping[str, Any], extra: Extra = None) -> Any:
        return self.call(name, build_body(name, fields, extra))

    def _image_search(
        self,
        name: str,
        image_base64: str | None,
        image_address: str | None,
        paging: Mapping[str, Any],
        extra: Extra,
    ) -> Any:
        """Both image searches: one of the two image sources is required (the catalogue can't say "or")."""
        if not image_base64 and not image_address:
            raise XportcnValidationError(
                f"{name}: give image_base64 or image_address.", parameter="image_base64", endpoint=name
            )
        fields = {"imageBase64": image_base64, "imageAddress": image_address, **paging}
        return self._invoke(name, fields, extra)

    # --- basics ----------------------------------------------------------------------------------
    def address_list(self, *, extra: Extra = None) -> Json:
        """Saved receiving addresses."""
        return self._invoke("address_list", {}, extra)

    def address_save(
        self,
        *,
        name: str,
        province: str,
        city: str,
        address: str,
        phone: str,
        district: str | None = None,
        id: str | int | None = None,
        extra: Extra = None,
    ) -> Json:
        """Create (no ``id``) or update an address; answers with its id."""
        fields = {
            "id": id,
            "name": name,
            "province": province,
            "city": city,
            "district": district,
            "address": address,
            "phone": phone,
        }
        return self._invoke("address_save", fields, extra)

    # --- international / warehouse logistics ---------------------------------------------------
    def freight_estimate(
        self,
        *,
        country: str,
        weight: float,
        length: float | None = None,
        width: float | None = None,
        height: float | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {"country": country, "weight": weight, "length": length, "width": width, "height": height}
        return self._invoke("freight_estimate", fields, extra)

    def freight_preview(
        self,
        *,
        receiver_address: Mapping[str, Any],
        render_items: list[Mapping[str, Any]],
        extra: Extra = None,
    ) -> Json:
        """Freight options for a shipment; answers with a ``renderId`` to book with."""
        fields = {"receiverAddress": receiver_address, "renderItems": render_items}
        return self._invoke("freight_preview", fields, extra)

    def intl_logistics_create(
        self,
        *,
        render_id: str,
        receiver_address: Mapping[str, Any],
        line_items: list[Mapping[str, Any]],
        tmall_order_id: str,
        remark: str | None = None,
        extra: Extra = None,
    ) -> Json:
        """Book the international leg; ``tmall_order_id`` is the caller's own id (the idempotency key)."""
        fields = {
            "renderId": render_id,
            "receiverAddress": receiver_address,
            "lineItems": line_items,
            "tmallOrderInfo": {"tmallOrderId": tmall_order_id} if tmall_order_id else None,
            "remark": remark,
        }
        return self._invoke("intl_logistics_create", fields, extra)

    def domestic_logistics_update(
        self,
        *,
        order_id: str | int,
        logistic_infos: list[Mapping[str, Any]],
        tmall_order_id: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {"orderId": order_id, "tmallOrderId": tmall_order_id, "logisticInfos": logistic_infos}
        return self._invoke("domestic_logistics_update", fields, extra)

    # --- 1688 products -------------------------------------------------------------------------
    def product_search(
        self,
        *,
        keyword: str,
        begin_page: int | None = None,
        page_size: int | None = None,
        country: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        price_start: str | float | None = None,
        price_end: str | float | None = None,
        category_id: str | int | None = None,
        out_member_id: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "keyword": keyword,
            "beginPage": begin_page,
            "pageSize": page_size,
            "country": country,
            "filter": filter,
            "sort": sort,
            "priceStart": price_start,
            "priceEnd": price_end,
            "categoryId": category_id,
            "outMemberId": out_member_id,
        }
        return self._invoke("product_search", fields, extra)

    def product_image_search(
        self,
        *,
        image_base64: str | None = None,
        image_address: str | None = None,
        begin_page: int | None = None,
        page_size: int | None = None,
        extra: Extra = None,
    ) -> Json:
        paging = {"beginPage": begin_page, "pageSize": page_size}
        return self._image_search("product_image_search", image_base64, image_address, paging, extra)

    def product_category(self, *, category_id: str | int | None = None, extra: Extra = None) -> Json:
        return self._invoke("product_category", {"categoryId": category_id}, extra)

    def product_detail(
        self,
        *,
        offer_id: str | int,
        country: str | None = None,
        out_member_id: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {"offerId": offer_id, "country": country, "outMemberId": out_member_id}
        return self._invoke("product_detail", fields, extra)

    def product_freight_estimate(
        self,
        *,
        offer_id: str | int,
        to_province_code: str | None = None,
        to_city_code: str | None = None,
        to_country_code: str | None = None,
        total_num: int | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "offerId": offer_id,
            "toProvinceCode": to_province_code,
            "toCityCode": to_city_code,
            "toCountryCode": to_country_code,
            "totalNum": total_num,
        }
        return self._invoke("product_freight_estimate", fields, extra)

    def product_pool_list(
        self, *, page_no: int | None = None, page_size: int | None = None, extra: Extra = None
    ) -> Json:
        return self._invoke("product_pool_list", {"pageNo": page_no, "pageSize": page_size}, extra)

    # --- 1688 orders ---------------------------------------------------------------------------
    def order_preview(
        self,
        *,
        address_param: Mapping[str, Any],
        cargo_param_list: list[Mapping[str, Any]],
        flow: str | None = "fenxiaonew",
        out_order_id: str | None = None,
        ali_id: str | None = None,
        extra: Extra = None,
    ) -> Json:
        """Price an order without buying; ``sumPayment`` is the total in fen."""
        fields = {
            "flow": flow,
            "outOrderId": out_order_id,
            "aliId": ali_id,
            "addressParam": address_param,
            "cargoParamList": cargo_param_list,
        }
        return self._invoke("order_preview", fields, extra)

    def order_create(
        self,
        *,
        out_order_id: str,
        address_param: Mapping[str, Any],
        cargo_param_list: list[Mapping[str, Any]],
        flow: str | None = "fenxiaonew",
        ali_id: str | None = None,
        message: str | None = None,
        shop_promotion_id: str | None = None,
        trade_type: str | None = None,
        extra: Extra = None,
    ) -> Json:
        """Buy; ``out_order_id`` is the caller's own order id (the idempotency key)."""
        fields = {
            "flow": flow,
            "outOrderId": out_order_id,
            "aliId": ali_id,
            "addressParam": address_param,
            "cargoParamList": cargo_param_list,
            "message": message,
            "shopPromotionId": shop_promotion_id,
            "tradeType": trade_type,
        }
        return self._invoke("order_create", fields, extra)

    def order_pay(self, *, order_id: str | int, extra: Extra = None) -> Json:
        """Answers with a ``payUrl``."""
        return self._invoke("order_pay", {"orderId": order_id}, extra)

    def order_list(
        self,
        *,
        page_no: int | None = None,
        page_size: int | None = None,
        status: str | None = None,
        create_start_time: str | None = None,
        create_end_time: str | None = None,
        out_order_id: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "pageNo": page_no,
            "pageSize": page_size,
            "status": status,
            "createStartTime": create_start_time,
            "createEndTime": create_end_time,
            "outOrderId": out_order_id,
        }
        return self._invoke("order_list", fields, extra)

    def iter_orders(
        self,
        *,
        status: str | None = None,
        create_start_time: str | None = None,
        create_end_time: str | None = None,
        out_order_id: str | None = None,
        page_size: int = 50,
        extra: Extra = None,
    ) -> Iterator[Json]:
        """Every order matching the filters, one page in memory at a time.

        ``status`` is applied here, on each row's ``status`` (any spelling of the 1688
        vocabulary), not sent to the server: an order that changes status while the pages are
        read would shift a server-filtered list by one row and a row would be skipped silently.
        Combine it with a time range to keep the read small.
        """
        fields = {
            "createStartTime": create_start_time,
            "createEndTime": create_end_time,
            "outOrderId": out_order_id,
        }
        body = build_body("order_list", fields, extra)
        if status is not None:
            body["status"] = status
        body, wanted = client_side_status_filter("order_list", body)
        rows = self.paginate("order_list", body, page_size=page_size)
        if wanted is None:
            return rows
        return (row for row in rows if row_has_status(row, "order_list", wanted))

    def order_detail(self, *, order_id: str | int, web_site: str | None = None, extra: Extra = None) -> Json:
        return self._invoke("order_detail", {"orderId": order_id, "webSite": web_site}, extra)

    def order_logistics(self, *, order_id: str | int, extra: Extra = None) -> Json:
        return self._invoke("order_logistics", {"orderId": order_id}, extra)

    # --- 1688 after-sale -----------------------------------------------------------------------
    def refund_reasons(
        self,
        *,
        order_id: str | int,
        order_entry_ids: list[str | int] | None = None,
        goods_status: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {"orderId": order_id, "orderEntryIds": order_entry_ids, "goodsStatus": goods_status}
        return self._invoke("refund_reasons", fields, extra)

    def refund_voucher_upload(
        self, *, image_base64: str, file_name: str | None = None, extra: Extra = None
    ) -> Json:
        """Upload an image (base64); answers with the URL to put in a refund's ``vouchers``."""
        return self._invoke(
            "refund_voucher_upload", {"imageBase64": image_base64, "fileName": file_name}, extra
        )

    def refund_create(
        self,
        *,
        order_id: str | int,
        order_entry_ids: list[str | int],
        dispute_request: str,
        apply_payment: int,
        apply_carriage: int | None = None,
        apply_reason_id: str | int | None = None,
        description: str | None = None,
        goods_status: str | None = None,
        vouchers: list[str] | None = None,
        order_entry_count_list: list[Mapping[str, Any]] | None = None,
        extra: Extra = None,
    ) -> Json:
        """Open a refund; amounts in fen. Answers ``{"refundId": "TQ..."}``."""
        fields = {
            "orderId": order_id,
            "orderEntryIds": order_entry_ids,
            "disputeRequest": dispute_request,
            "applyPayment": apply_payment,
            "applyCarriage": apply_carriage,
            "applyReasonId": apply_reason_id,
            "description": description,
            "goodsStatus": goods_status,
            "vouchers": vouchers,
            "orderEntryCountList": order_entry_count_list,
        }
        return self._invoke("refund_create", fields, extra)

    def refund_return_submit(
        self,
        *,
        refund_id: str,
        logistics_company_no: str,
        freight_bill: str,
        description: str | None = None,
        vouchers: list[str] | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "refundId": refund_id,
            "logisticsCompanyNo": logistics_company_no,
            "freightBill": freight_bill,
            "description": description,
            "vouchers": vouchers,
        }
        return self._invoke("refund_return_submit", fields, extra)

    def logistics_companies(self, *, extra: Extra = None) -> Json:
        return self._invoke("logistics_companies", {}, extra)

    def refund_detail(self, *, refund_id: str, extra: Extra = None) -> Json:
        return self._invoke("refund_detail", {"refundId": refund_id}, extra)

    def refund_cancel(self, *, refund_id: str, extra: Extra = None) -> Json:
        return self._invoke("refund_cancel", {"refundId": refund_id}, extra)

    def im_openuid_decrypt(self, *, open_uid: str, offer_id: str | int, extra: Extra = None) -> Json:
        return self._invoke("im_openuid_decrypt", {"openUid": open_uid, "offerId": offer_id}, extra)

    # --- Taobao --------------------------------------------------------------------------------
    def taobao_product_detail(self, *, item_id: str | int, extra: Extra = None) -> Json:
        return self._invoke("taobao_product_detail", {"itemId": item_id}, extra)

    def taobao_product_search(
        self, *, keyword: str, page_no: int | None = None, page_size: int | None = None, extra: Extra = None
    ) -> Json:
        fields = {"keyword": keyword, "pageNo": page_no, "pageSize": page_size}
        return self._invoke("taobao_product_search", fields, extra)

    def taobao_product_image_search(
        self,
        *,
        image_base64: str | None = None,
        image_address: str | None = None,
        page_no: int | None = None,
        page_size: int | None = None,
        extra: Extra = None,
    ) -> Json:
        paging = {"pageNo": page_no, "pageSize": page_size}
        return self._image_search("taobao_product_image_search", image_base64, image_address, paging, extra)

    def taobao_order_render(
        self, *, items: list[Mapping[str, Any]], address: Mapping[str, Any], extra: Extra = None
    ) -> Json:
        return self._invoke("taobao_order_render", {"items": items, "address": address}, extra)

    def taobao_order_create(
        self,
        *,
        items: list[Mapping[str, Any]],
        address: Mapping[str, Any],
        out_order_id: str,
        remark: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {"items": items, "address": address, "outOrderId": out_order_id, "remark": remark}
        return self._invoke("taobao_order_create", fields, extra)

    def taobao_order_list(
        self,
        *,
        page_no: int | None = None,
        page_size: int | None = None,
        status: int | str | None = None,
        out_order_id: str | None = None,
        order_id: str | int | None = None,
        create_start_time: str | None = None,
        create_end_time: str | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "pageNo": page_no,
            "pageSize": page_size,
            "status": status,
            "outOrderId": out_order_id,
            "orderId": order_id,
            "createStartTime": create_start_time,
            "createEndTime": create_end_time,
        }
        return self._invoke("taobao_order_list", fields, extra)

    # --- warehouse -----------------------------------------------------------------------------
    def package_forecast(
        self,
        *,
        out_order_id: str,
        logistics_tracking_number: str,
        alibaba_order_id: str | int | None = None,
        items: list[Mapping[str, Any]] | None = None,
        extra: Extra = None,
    ) -> Json:
        """Tell the warehouse a parcel is coming (by domestic tracking number)."""
        fields = {
            "out_order_id": out_order_id,
            "alibaba_order_id": alibaba_order_id,
            "logistics_tracking_number": logistics_tracking_number,
            "items": items,
        }
        return self._invoke("package_forecast", fields, extra)

    def package_inbound(
        self,
        *,
        out_order_id: str,
        logistics_tracking_number: str,
        alibaba_order_id: str | int | None = None,
        quality_inspection_info: Mapping[str, Any] | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "out_order_id": out_order_id,
            "alibaba_order_id": alibaba_order_id,
            "logistics_tracking_number": logistics_tracking_number,
            "quality_inspection_info": quality_inspection_info,
        }
        return self._invoke("package_inbound", fields, extra)

    def package_update(
        self,
        *,
        out_order_id: str,
        logistics_tracking_number: str | None = None,
        alibaba_order_id: str | int | None = None,
        items: list[Mapping[str, Any]] | None = None,
        extra: Extra = None,
    ) -> Json:
        fields = {
            "out_order_id": out_order_id,
            "alibaba_order_id": alibaba_order_id,
            "logistics_tracking_number": logistics_tracking_number,
            "items": items,
        }
        return self._invoke("package_update", fields, extra)

    def package_detail(
        self,
        *,
        out_order_id: str | None = None,
        logistics_tracking_number: str | None = None,
        extra: Extra = None,
    ) -> Json:
        if not out_order_id and not logistics_tracking_number:
            raise XportcnValidationError(
                "package_detail: give out_order_id or logistics_tracking_number.", parameter="out_order_id"
            )
        fields = {"out_order_id": out_order_id, "logistics_tracking_number": logistics_tracking_number}
        return self._invoke("package_detail", fields, extra)
