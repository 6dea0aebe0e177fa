"""The sandbox behaves like the service where a new user notices (issue 14 item 7).

* An unknown offer or spec id is refused with the business error a real 1688 order gives, and
  nothing is created or charged; prices always come from ``product_detail``.
* The connection the sandbox prints points ``console_url`` at pages the sandbox serves, so the
  task links (order, refund, package, logistics) open a page about that very object.
"""

from __future__ import annotations

import json

import pytest
import requests

from xportcn_provider.api.console import console_link
from xportcn_provider.api.errors import XportcnBusinessError
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox import catalog
from xportcn_provider.sandbox.handle import SandboxHandle

ADDRESS = {"fullName": "张三", "mobile": "13800000000", "address": "文一西路 969 号"}
OFFER = "610000000001"
RECEIVER = {
    "name": "John Doe",
    "country": "US",
    "address": "1 Main St",
    "city": "Springfield",
    "zip": "12345",
}


@pytest.fixture
def hook(xportcn_default_conn: SandboxHandle) -> XportcnHook:
    return XportcnHook()


def order_body(cargo: dict[str, object], out_order_id: str = "first-run-1") -> dict[str, object]:
    return {"outOrderId": out_order_id, "addressParam": ADDRESS, "cargoParamList": [cargo]}


@pytest.mark.parametrize("endpoint", ["order_preview", "order_create"])
def test_an_unknown_spec_is_refused_naming_it_and_its_real_specs(
    hook: XportcnHook, xportcn_default_conn: SandboxHandle, endpoint: str
) -> None:
    specs = [s["specId"] for s in hook.product_detail(offer_id=OFFER)["skus"]]
    with pytest.raises(XportcnBusinessError) as caught:
        hook.call(endpoint, order_body({"offerId": OFFER, "specId": "not-a-spec", "quantity": 1}))
    text = str(caught.value)
    assert "cargoParamList[0].specId 'not-a-spec' is not a spec of offer 610000000001" in text
    assert all(spec in text for spec in specs)
    assert xportcn_default_conn.control.state()["orders"] == 0  # nothing created, nothing charged


def test_an_unknown_offer_is_refused(hook: XportcnHook, xportcn_default_conn: SandboxHandle) -> None:
    with pytest.raises(XportcnBusinessError, match=r"cargoParamList\[0\]\.offerId 'ABC-1': no such offer"):
        hook.call("order_create", order_body({"offerId": "ABC-1", "quantity": 1}))
    assert xportcn_default_conn.control.state()["orders"] == 0


def test_prices_are_the_ones_product_detail_shows(
    hook: XportcnHook, xportcn_default_conn: SandboxHandle
) -> None:
    skus = hook.product_detail(offer_id=OFFER)["skus"]
    second = skus[1]
    preview = hook.call(
        "order_preview", order_body({"offerId": OFFER, "specId": second["specId"], "quantity": 3})
    )
    assert preview["sumPaymentNoCarriage"] == 3 * second["price"]
    assert preview["sumPayment"] == 3 * second["price"] + catalog.ORDER_CARRIAGE
    # no specId: the offer's first spec, at its product_detail price
    default = hook.call("order_preview", order_body({"offerId": OFFER, "quantity": 2}))
    assert default["cargoList"][0]["specId"] == skus[0]["specId"]
    assert default["sumPaymentNoCarriage"] == 2 * skus[0]["price"]
    # a seeded order is priced the same way
    seeded = xportcn_default_conn.control.seed_orders(1, offer_id=OFFER, quantity=2)[0]
    item = xportcn_default_conn.control.get("order", seeded)["productItems"][0]
    assert item["specId"] == skus[0]["specId"]
    assert item["itemAmount"] == 2 * skus[0]["price"]


def test_the_printed_connection_links_to_sandbox_console_pages(
    hook: XportcnHook, xportcn_default_conn: SandboxHandle
) -> None:
    sandbox = xportcn_default_conn
    assert json.loads(sandbox.conn_json)["extra"]["console_url"] == sandbox.console_url
    assert "console_url=" in sandbox.conn_uri
    assert hook.console_url == sandbox.console_url  # what the operators build their links from

    sandbox.control.configure(auto_advance=False)
    order_id = sandbox.control.seed_orders(1, status="waitbuyerreceive")[0]
    entry = sandbox.control.get("order", order_id)["productItems"][0]["subItemID"]
    refund_id = hook.refund_create(
        order_id=order_id, order_entry_ids=[entry], dispute_request="refund", apply_payment=100
    )["refundId"]
    hook.package_forecast(out_order_id="PKG-LINKS", logistics_tracking_number="YT5550001")
    render_id = hook.freight_preview(
        receiver_address=RECEIVER, render_items=[{"itemId": "1", "quantity": 1}]
    )["renderId"]
    booking = hook.intl_logistics_create(
        render_id=render_id,
        receiver_address=RECEIVER,
        line_items=[{"itemId": "1", "quantity": 1}],
        tmall_order_id="TM-LINKS",
    )
    logistics_id = booking["logisticsOrderId"]
    for kind, object_id in [
        ("order", order_id),
        ("refund", refund_id),
        ("package", "PKG-LINKS"),
        ("logistics", logistics_id),
    ]:
        page = requests.get(console_link(hook.console_url, kind, object_id), timeout=10)
        assert page.status_code == 200, (kind, page.text)
        status = sandbox.control.get(kind, object_id)["status"]
        assert f"Sandbox {kind} {object_id}" in page.text and f"Status: <b>{status}</b>" in page.text

    missing = requests.get(console_link(hook.console_url, "refund", "TQ999"), timeout=10)
    assert missing.status_code == 404 and "TQ999" in missing.text
