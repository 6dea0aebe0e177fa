"""Validation: an invalid body gets an INVALID_PARAMETER envelope whose msg names the field.

Bodies are sent with the api-core client (the hook would reject most of them before any call).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from xportcn_provider.api.client import XportcnClient
from xportcn_provider.api.errors import EnvelopeCode, XportcnBusinessError
from xportcn_provider.api.signing import signed_headers
from xportcn_provider.sandbox import SandboxHandle

ADDRESS = {"fullName": "Li Lei", "mobile": "13800000000", "address": "文一西路 1 号"}
CARGO = [{"offerId": "610000000123", "quantity": 1}]
RECEIVER = {"name": "John Doe", "country": "US", "address": "1 Main St"}


def order(**changes: Any) -> dict[str, Any]:
    return {"outOrderId": "v-1", "addressParam": ADDRESS, "cargoParamList": CARGO, **changes}


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("order_create", order(outOrderId=""), "outOrderId is required"),
    (
        "order_create",
        order(cargoParamList=[{"offerId": "1", "quantity": 0}]),
        "cargoParamList[0].quantity must be a positive integer",
    ),
    (
        "order_create",
        order(cargoParamList=[CARGO[0], {"offerId": "1", "quantity": "2"}]),
        "cargoParamList[1].quantity must be a positive integer",
    ),
    ("order_create", order(cargoParamList=[{"quantity": 1}]), "cargoParamList[0].offerId must be an id"),
    ("order_create", order(addressParam="Hangzhou"), "addressParam must be a JSON object"),
    (
        "order_create",
        order(addressParam={"fullName": "Li", "address": "x"}),
        "addressParam.mobile or addressParam.phone",
    ),
    ("order_preview", {"addressParam": ADDRESS, "cargoParamList": []}, "cargoParamList is required"),
    ("order_pay", {"orderId": True}, "orderId must be an id"),
    ("order_list", {"pageNo": 0}, "pageNo must be a positive integer"),
    ("order_list", {"createStartTime": "yesterday"}, "createStartTime must be an ISO-8601 time"),
    ("order_list", {"status": "shipped-ish"}, "status must be a 1688 order status"),
    ("taobao_order_list", {"status": "ten"}, "status must be a numeric Taobao order status"),
    ("freight_estimate", {"country": "US", "weight": 0}, "weight must be a positive number"),
    ("freight_estimate", {"country": "US", "weight": 1, "length": -3}, "length must be a positive number"),
    (
        "freight_preview",
        {"receiverAddress": RECEIVER, "renderItems": [{"itemId": "1", "quantity": 1.5}]},
        "renderItems[0].quantity must be a positive integer",
    ),
    (
        "freight_preview",
        {"receiverAddress": {"name": "x"}, "renderItems": [{"itemId": "1", "quantity": 1}]},
        "receiverAddress.country must be a non-empty string",
    ),
    (
        "intl_logistics_create",
        {
            "renderId": "FF1",
            "receiverAddress": RECEIVER,
            "lineItems": [{"itemId": "1", "quantity": 1}],
            "tmallOrderInfo": {"tmallOrderId": ""},
        },
        "tmallOrderInfo.tmallOrderId must be an id",
    ),
    (
        "intl_logistics_create",
        {
            "renderId": "FF1",
            "receiverAddress": RECEIVER,
            "lineItems": [{"itemId": "1", "quantity": 1}],
            "tmallOrderInfo": {"tmallOrderId": "T1"},
        },
        "renderId FF1 not found",
    ),
    (
        "domestic_logistics_update",
        {"orderId": "1", "logisticInfos": [{"domesticLogisticInfo": [{"logisticNumer": "YT1"}]}]},
        "logisticInfos[0].domesticLogisticInfo[0].logisticCompanyName",
    ),
    (
        "domestic_logistics_update",
        {"orderId": "1", "logisticInfos": [{"lineItem": {"itemId": "1"}}]},
        "logisticInfos[0].logisticNumer must be a non-empty string",
    ),
    (
        "refund_create",
        {"orderId": "1", "orderEntryIds": ["2"], "disputeRequest": "refund", "applyPayment": -5},
        "order 1 not found",
    ),
    ("refund_voucher_upload", {"imageBase64": "%%% not base64"}, "imageBase64 must be base64-encoded"),
    (
        "package_forecast",
        {"out_order_id": "P1", "logistics_tracking_number": "YT1", "items": [{"quantity": -1}]},
        "items[0].quantity must be a positive integer",
    ),
    (
        "package_inbound",
        {
            "out_order_id": "P1",
            "logistics_tracking_number": "YT1",
            "quality_inspection_info": {"status": "meh"},
        },
        "quality_inspection_info.status must be PASSED or FAILED",
    ),
    (
        "package_inbound",
        {
            "out_order_id": "P1",
            "logistics_tracking_number": "YT1",
            "quality_inspection_info": {"weight": "heavy"},
        },
        "quality_inspection_info.weight must be a positive number",
    ),
    ("package_detail", {}, "out_order_id or logistics_tracking_number is required"),
    ("product_search", {"keyword": "mug", "sort": "{not json"}, "sort must be a JSON string"),
    ("product_image_search", {}, "imageBase64 or imageAddress is required"),
    (
        "address_save",
        {"name": "A", "province": "P", "city": "C", "address": "X", "phone": 138},
        "phone must be a non-empty string",
    ),
]


@pytest.mark.parametrize(("name", "body", "words"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_invalid_body_names_the_field(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient, name: str, body: dict[str, Any], words: str
) -> None:
    with pytest.raises(XportcnBusinessError) as caught:
        sandbox_client.call(name, body)
    assert words in str(caught.value.msg)
    expected = EnvelopeCode.NOT_FOUND if "not found" in words else EnvelopeCode.INVALID_PARAMETER
    assert caught.value.code == expected
    [call] = xportcn_sandbox.control.calls(name)
    assert (call["http_status"], call["code"]) == (200, expected)
    assert xportcn_sandbox.control.state()["orders"] == 0


def _paid_entry(client: XportcnClient) -> tuple[str, str]:
    created = client.call("order_create", order())
    client.call("order_pay", {"orderId": created["orderId"]})
    entry = client.call("order_detail", {"orderId": created["orderId"]})["productItems"][0]["subItemID"]
    return created["orderId"], entry


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"applyPayment": -5}, "applyPayment must be a positive integer"),
        ({"applyPayment": 10**9}, "exceeds the refundable amount"),
        ({"applyCarriage": 601}, "exceeds the order's carriage 600"),
        ({"disputeRequest": "money"}, "disputeRequest must be one of refund, returnRefund"),
        ({"orderEntryIds": ["123"]}, "orderEntryIds[0] 123 is not an entry"),
        ({"goodsStatus": "lost"}, "goodsStatus must be one of received, not_received"),
        (
            {"orderEntryCountList": [{"id": "1", "count": 0}]},
            "orderEntryCountList[0].count must be a positive",
        ),
    ],
)
def test_refund_create_validation(sandbox_client: XportcnClient, changes: dict[str, Any], words: str) -> None:
    order_id, entry = _paid_entry(sandbox_client)
    body = {
        "orderId": order_id,
        "orderEntryIds": [entry],
        "disputeRequest": "refund",
        "applyPayment": 1,
        **changes,
    }
    with pytest.raises(XportcnBusinessError) as caught:
        sandbox_client.call("refund_create", body)
    assert words in str(caught.value.msg)
    assert caught.value.code == EnvelopeCode.INVALID_PARAMETER


def test_unknown_return_company(sandbox_client: XportcnClient, xportcn_sandbox: SandboxHandle) -> None:
    order_id, entry = _paid_entry(sandbox_client)
    refund = sandbox_client.call(
        "refund_create",
        {"orderId": order_id, "orderEntryIds": [entry], "disputeRequest": "returnRefund", "applyPayment": 1},
    )
    xportcn_sandbox.control.force("refund", refund["refundId"], "waitbuyersend")
    with pytest.raises(XportcnBusinessError, match="not a known company"):
        sandbox_client.call(
            "refund_return_submit",
            {"refundId": refund["refundId"], "logisticsCompanyNo": "DHL", "freightBill": "1"},
        )


@pytest.mark.parametrize(
    ("raw", "words"), [(b"{not json", "request body is not valid JSON"), (b"[1, 2]", "must be a JSON object")]
)
def test_body_that_is_not_a_json_object(xportcn_sandbox: SandboxHandle, raw: bytes, words: str) -> None:
    h = xportcn_sandbox
    headers = {**signed_headers(h.access_key, h.access_secret, h.user_id), "Content-Type": "application/json"}
    answer = requests.post(h.url + "/alibaba/ka/order/list", data=raw, headers=headers, timeout=5).json()
    assert answer["code"] == EnvelopeCode.INVALID_PARAMETER
    assert words in answer["msg"]
