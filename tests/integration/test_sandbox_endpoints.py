"""Every catalogue endpoint, called through the hook's typed method over real HTTP.

The parametrisation is the catalogue itself, and a separate test fails when a catalogue entry
has no case here, so a new endpoint cannot be added without the sandbox serving it. Each case
checks the documented shape of ``data`` (docs/data-shapes.md) and that the call log recorded
the call under the right endpoint name with code 200 (proving the path matched).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from xportcn_provider.api.endpoints import CATALOGUE, ENDPOINT_NAMES
from xportcn_provider.sandbox import SandboxHandle

ADDRESS = {
    "fullName": "Li Lei",
    "mobile": "13800000000",
    "provinceText": "浙江省",
    "cityText": "杭州市",
    "areaText": "余杭区",
    "address": "文一西路 1 号",
}
CARGO = [{"offerId": "610000000123", "specId": "e1ea9c356581580cab9497db23377fa4", "quantity": 2}]
RECEIVER = {
    "name": "John Doe",
    "country": "US",
    "city": "Seattle",
    "address": "1 Main St",
    "zip": "98101",
    "phone": "+1 206 555 0100",
}
TAOBAO_ITEMS = [{"itemId": "712345678901", "skuId": "5012345678", "quantity": 1}]
IMAGE = base64.b64encode(b"\xff\xd8\xff\xe0 sandbox image").decode()
PAGE_KEYS = {"list", "total", "pageNo", "pageSize"}
PRODUCT_PAGE_KEYS = {"list", "total", "beginPage", "pageSize"}
PACKAGE_KEYS = {
    "out_order_id",
    "alibaba_order_id",
    "logistics_tracking_number",
    "status",
    "quality_inspection_info",
    "intl_logistics_order_id",
    "items",
}


@dataclass
class World:
    """Records the endpoints need: a paid order with a refund, a freight render, a package."""

    hook: Any
    control: Any
    order_id: str
    entry_id: str
    refund_id: str
    render_id: str
    package_id: str
    tracking: str


@pytest.fixture
def world(xportcn_default_conn: SandboxHandle) -> World:
    from xportcn_provider.hooks.xportcn import XportcnHook

    hook = XportcnHook()
    order = hook.order_create(out_order_id="world-1", address_param=ADDRESS, cargo_param_list=CARGO)
    hook.order_pay(order_id=order["orderId"])
    entry_id = hook.order_detail(order_id=order["orderId"])["productItems"][0]["subItemID"]
    refund = hook.refund_create(
        order_id=order["orderId"],
        order_entry_ids=[entry_id],
        dispute_request="returnRefund",
        apply_payment=100,
    )
    render = hook.freight_preview(
        receiver_address=RECEIVER, render_items=[{"itemId": "610000000123", "quantity": 2}]
    )
    hook.package_forecast(out_order_id="PKG-1", logistics_tracking_number="YT0000000000001")
    control = xportcn_default_conn.control
    control.clear_calls()
    return World(
        hook,
        control,
        order["orderId"],
        entry_id,
        refund["refundId"],
        render["renderId"],
        "PKG-1",
        "YT0000000000001",
    )


def has(data: Any, keys: Iterable[str]) -> None:
    assert isinstance(data, dict), data
    missing = set(keys) - set(data)
    assert not missing, f"missing {missing} in {data}"


def each(items: Any, keys: Iterable[str]) -> None:
    assert isinstance(items, list) and items, items
    for item in items:
        has(item, keys)


def equals(expected: Any) -> Callable[[Any], None]:
    def check(data: Any) -> None:
        assert data == expected

    return check


def page_of(data: Any, keys: set[str], item_keys: Iterable[str]) -> None:
    has(data, keys)
    assert data["total"] >= len(data["list"]) > 0
    for item in data["list"]:
        has(item, item_keys)


def _intl_create(w: World) -> Any:
    w.control.force("package", w.package_id, "QC_PASSED")
    data = w.hook.intl_logistics_create(
        render_id=w.render_id,
        receiver_address=RECEIVER,
        line_items=[{"itemId": "610000000123", "quantity": 2, "title": "Mug"}],
        tmall_order_id=w.package_id,
    )
    assert data["status"] == "CREATED" and data["trackingNumber"] is None and data["duplicate"] is False
    assert data["logisticsOrderId"].startswith("LP")
    assert w.hook.package_detail(out_order_id=w.package_id)["status"] == "SHIPPED"
    return data


def _return_submit(w: World) -> Any:
    w.control.force("refund", w.refund_id, "waitbuyersend")
    data = w.hook.refund_return_submit(
        refund_id=w.refund_id, logistics_company_no="YTO", freight_bill="YT123"
    )
    assert w.hook.refund_detail(refund_id=w.refund_id)["status"] == "waitsellerreceive"
    return data


def _refund_create(w: World) -> Any:
    w.hook.refund_cancel(refund_id=w.refund_id)  # the entry may hold one open refund at a time
    return w.hook.refund_create(
        order_id=w.order_id,
        order_entry_ids=[w.entry_id],
        dispute_request="refund",
        apply_payment=50,
        extra={"note": "the sandbox ignores unknown fields"},
    )


Case = tuple[Callable[[World], Any], Callable[[Any], object]]
PRODUCT_ITEM = ("offerId", "title", "price", "imageUrl")
TAOBAO_ITEM = ("itemId", "title", "price", "imageUrl")
ORDER_SUMMARY = ("orderId", "outOrderId", "status", "sumPayment", "createTime")

CASES: dict[str, Case] = {
    "address_list": (
        lambda w: w.hook.address_list(),
        lambda d: each(d, ("id", "name", "province", "city", "district", "address", "phone")),
    ),
    "address_save": (
        lambda w: w.hook.address_save(name="A", province="P", city="C", address="X 1", phone="138"),
        lambda d: has(d, ("id",)),
    ),
    "freight_estimate": (
        lambda w: w.hook.freight_estimate(country="US", weight=1.5),
        lambda d: (has(d, ("currency", "price", "options")), each(d["options"], ("serviceId", "price"))),
    ),
    "freight_preview": (
        lambda w: w.hook.freight_preview(
            receiver_address=RECEIVER, render_items=[{"itemId": "1", "quantity": 1}]
        ),
        lambda d: (has(d, ("renderId", "options")), each(d["options"], ("serviceId", "price", "days"))),
    ),
    "intl_logistics_create": (
        _intl_create,
        lambda d: has(
            d, ("logisticsOrderId", "tmallOrderId", "renderId", "status", "trackingNumber", "duplicate")
        ),
    ),
    "domestic_logistics_update": (
        lambda w: w.hook.domestic_logistics_update(
            order_id=w.order_id,
            logistic_infos=[
                {
                    "lineItem": {"itemId": "610000000123", "quantity": 2},
                    "logisticNumer": "YT1",
                    "domesticLogisticInfo": [
                        {"logisticNumer": "YT1", "logisticCompanyName": "圆通速递", "rtsTime": 1775221032}
                    ],
                }
            ],
        ),
        equals(True),
    ),
    "product_search": (
        lambda w: w.hook.product_search(keyword="mug", begin_page=1, page_size=10),
        lambda d: page_of(d, PRODUCT_PAGE_KEYS, PRODUCT_ITEM),
    ),
    "product_image_search": (
        lambda w: w.hook.product_image_search(image_base64=IMAGE),
        lambda d: page_of(d, PRODUCT_PAGE_KEYS, PRODUCT_ITEM),
    ),
    "product_category": (
        lambda w: w.hook.product_category(category_id=0),
        lambda d: has(d, ("categoryId", "name", "children")),
    ),
    "product_detail": (
        lambda w: w.hook.product_detail(offer_id="610000000123"),
        lambda d: (has(d, ("offerId", "title", "skus")), each(d["skus"], ("specId", "price", "stock"))),
    ),
    "product_freight_estimate": (
        lambda w: w.hook.product_freight_estimate(offer_id="610000000123", total_num=2),
        lambda d: has(d, ("offerId", "freight")),
    ),
    "product_pool_list": (
        lambda w: w.hook.product_pool_list(page_no=1, page_size=5),
        lambda d: page_of(d, PAGE_KEYS, PRODUCT_ITEM),
    ),
    "order_preview": (
        lambda w: w.hook.order_preview(address_param=ADDRESS, cargo_param_list=CARGO),
        lambda d: has(d, ("sumPayment", "sumCarriage", "sumPaymentNoCarriage", "cargoList")),
    ),
    "order_create": (
        lambda w: w.hook.order_create(out_order_id="another", address_param=ADDRESS, cargo_param_list=CARGO),
        lambda d: has(d, ("orderId", "outOrderId", "totalSuccessAmount", "status", "duplicate")),
    ),
    "order_pay": (
        lambda w: w.hook.order_pay(
            order_id=w.hook.order_create(
                out_order_id="to-pay", address_param=ADDRESS, cargo_param_list=CARGO
            )["orderId"]
        ),
        lambda d: has(d, ("orderId", "payUrl")),
    ),
    "order_list": (
        lambda w: w.hook.order_list(page_no=1, page_size=10),
        lambda d: page_of(d, PAGE_KEYS, ORDER_SUMMARY),
    ),
    "order_detail": (
        lambda w: w.hook.order_detail(order_id=w.order_id),
        lambda d: (
            has(d, ("orderId", "outOrderId", "status", "sumPayment", "sumCarriage", "createTime", "payTime")),
            each(
                d["productItems"],
                ("subItemID", "offerId", "specId", "quantity", "itemAmount", "refundId", "refundStatus"),
            ),
        ),
    ),
    "order_logistics": (
        lambda w: w.hook.order_logistics(order_id=w.order_id),
        lambda d: has(d, ("orderId", "status", "trackingNumber", "logisticsCompanyName", "logisticsItems")),
    ),
    "refund_reasons": (
        lambda w: w.hook.refund_reasons(
            order_id=w.order_id, order_entry_ids=[w.entry_id], goods_status="received"
        ),
        lambda d: each(d, ("id", "name", "needVoucher")),
    ),
    "refund_voucher_upload": (
        lambda w: w.hook.refund_voucher_upload(image_base64=IMAGE, file_name="proof.jpg"),
        lambda d: has(d, ("url",)),
    ),
    "refund_create": (
        _refund_create,
        lambda d: has(d, ("refundId",)) if str(d["refundId"]).startswith("TQ") else pytest.fail(str(d)),
    ),
    "refund_return_submit": (_return_submit, equals("退货信息提交成功")),
    "logistics_companies": (
        lambda w: w.hook.logistics_companies(),
        lambda d: each(d, ("companyNo", "companyName")),
    ),
    "refund_detail": (
        lambda w: w.hook.refund_detail(refund_id=w.refund_id),
        lambda d: has(
            d,
            (
                "refundId",
                "orderId",
                "orderEntryIds",
                "status",
                "disputeRequest",
                "applyPayment",
                "applyCarriage",
                "applyReasonId",
                "createTime",
                "returnLogistics",
            ),
        ),
    ),
    "refund_cancel": (
        lambda w: w.hook.refund_cancel(refund_id=w.refund_id),
        equals("售后订单取消成功"),
    ),
    "im_openuid_decrypt": (
        lambda w: w.hook.im_openuid_decrypt(open_uid="AAHk5d-EncryptedUid", offer_id="610000000123"),
        lambda d: has(d, ("openUid", "loginId")),
    ),
    "taobao_product_detail": (
        lambda w: w.hook.taobao_product_detail(item_id="712345678901"),
        lambda d: (has(d, ("itemId", "title", "skus")), each(d["skus"], ("skuId", "price", "stock"))),
    ),
    "taobao_product_search": (
        lambda w: w.hook.taobao_product_search(keyword="lamp", page_no=2, page_size=5),
        lambda d: page_of(d, PAGE_KEYS, TAOBAO_ITEM),
    ),
    "taobao_product_image_search": (
        lambda w: w.hook.taobao_product_image_search(image_address="https://example.com/a.jpg"),
        lambda d: page_of(d, PAGE_KEYS, TAOBAO_ITEM),
    ),
    "taobao_order_render": (
        lambda w: w.hook.taobao_order_render(items=TAOBAO_ITEMS, address=ADDRESS),
        lambda d: has(d, ("totalAmount", "postFee", "items")),
    ),
    "taobao_order_create": (
        lambda w: w.hook.taobao_order_create(items=TAOBAO_ITEMS, address=ADDRESS, out_order_id="tb-1"),
        lambda d: has(d, ("orderId", "outOrderId", "status", "duplicate")),
    ),
    "taobao_order_list": (
        lambda w: [
            w.hook.taobao_order_create(items=TAOBAO_ITEMS, address=ADDRESS, out_order_id="tb-2"),
            w.hook.taobao_order_list(page_no=1, page_size=10),
        ][1],
        lambda d: page_of(d, PAGE_KEYS, ORDER_SUMMARY),
    ),
    "package_forecast": (
        lambda w: w.hook.package_forecast(
            out_order_id="PKG-2",
            logistics_tracking_number="YT0000000000002",
            items=[{"sku": "A", "quantity": 3}],
        ),
        lambda d: has(d, PACKAGE_KEYS),
    ),
    "package_inbound": (
        lambda w: w.hook.package_inbound(
            out_order_id=w.package_id,
            logistics_tracking_number=w.tracking,
            quality_inspection_info={"status": "PASSED", "weight": 1.2, "images": []},
        ),
        lambda d: has(d, PACKAGE_KEYS) if d["status"] == "QC_PASSED" else pytest.fail(str(d)),
    ),
    "package_update": (
        lambda w: w.hook.package_update(out_order_id=w.package_id, items=[{"sku": "B", "quantity": 1}]),
        lambda d: has(d, PACKAGE_KEYS),
    ),
    "package_detail": (
        lambda w: w.hook.package_detail(logistics_tracking_number=w.tracking),
        lambda d: has(d, PACKAGE_KEYS),
    ),
}


def test_every_catalogue_endpoint_has_a_case() -> None:
    assert set(CASES) == set(CATALOGUE)


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
def test_endpoint_through_hook(world: World, name: str) -> None:
    call, check = CASES[name]
    data = call(world)
    check(data)
    logged = world.control.calls(name)
    assert logged, f"{name} was not logged under its name"
    assert logged[-1]["code"] == 200 and logged[-1]["http_status"] == 200
    assert logged[-1]["path"] == "/api" + CATALOGUE[name].path
    assert logged[-1]["method"] == CATALOGUE[name].method


def test_openapi_lists_every_catalogue_path(xportcn_sandbox: SandboxHandle) -> None:
    import requests

    spec = requests.get(xportcn_sandbox.base_url + "/openapi.json", timeout=5).json()
    for endpoint in CATALOGUE.values():
        assert endpoint.method.lower() in spec["paths"]["/api" + endpoint.path], endpoint.name
    assert requests.get(xportcn_sandbox.base_url + "/docs", timeout=5).status_code == 200


def test_unknown_path_and_wrong_method(xportcn_sandbox: SandboxHandle) -> None:
    """An overridden-but-wrong path answers HTTP 404, which the client explains; all are logged."""
    from xportcn_provider.api.errors import XportcnEndpointNotFoundError

    from .conftest import make_client

    client = make_client(xportcn_sandbox, endpoint_overrides={"refund_create": "/alibaba/ka/refund/apply"})
    with pytest.raises(XportcnEndpointNotFoundError) as caught:  # a wrong path, not a missing record
        client.call("refund_create", {"orderId": "1"})
    assert "endpoint_overrides" in str(caught.value)
    import requests

    wrong = requests.get(xportcn_sandbox.url + CATALOGUE["order_create"].path, timeout=5)
    assert wrong.status_code == 405
    assert [c["http_status"] for c in xportcn_sandbox.control.calls()] == [404, 405]
