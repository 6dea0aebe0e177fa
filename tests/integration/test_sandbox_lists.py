"""List endpoints: paging over 1,000 seeded orders, filters, and create idempotency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from xportcn_provider.api.client import XportcnClient
from xportcn_provider.api.errors import EnvelopeCode, XportcnBusinessError
from xportcn_provider.sandbox import SandboxHandle

ADDRESS = {"fullName": "Li Lei", "mobile": "13800000000", "address": "文一西路 1 号"}
CARGO = [{"offerId": "610000000123", "quantity": 1}]
START = "2026-01-01T00:00:00Z"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iter_orders_over_1000_seeded_orders(xportcn_default_conn: SandboxHandle) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    seeded = xportcn_default_conn.control.seed_orders(1000)
    assert len(set(seeded)) == 1000
    xportcn_default_conn.control.clear_calls()
    seen = [o["orderId"] for o in XportcnHook().iter_orders(page_size=50)]
    assert sorted(seen) == sorted(seeded)  # every id exactly once
    calls = xportcn_default_conn.control.calls("order_list")
    assert len(calls) == 20 and {c["code"] for c in calls} == {200}


def test_client_paginate_newest_first_with_uneven_pages(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    seeded = xportcn_sandbox.control.seed_orders(1000, start=START, step_seconds=60)
    items = list(sandbox_client.paginate("order_list", {}, page_size=33))
    assert [o["orderId"] for o in items] == list(reversed(seeded))
    assert len(xportcn_sandbox.control.calls("order_list")) == 31  # ceil(1000 / 33)
    first = sandbox_client.call("order_list", {"pageNo": 1, "pageSize": 10})
    assert (first["total"], first["pageNo"], first["pageSize"], len(first["list"])) == (1000, 1, 10, 10)
    beyond = sandbox_client.call("order_list", {"pageNo": 200, "pageSize": 10})
    assert (beyond["total"], beyond["list"]) == (1000, [])


def test_filters_status_time_range_and_out_order_id(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    control = xportcn_sandbox.control
    unpaid = control.seed_orders(30, start=START, step_seconds=60)
    shipped = control.seed_orders(
        20, status="waitbuyerreceive", start="2026-02-01T00:00:00Z", step_seconds=60
    )

    def ids(**filters: Any) -> list[str]:
        return [o["orderId"] for o in sandbox_client.paginate("order_list", filters, page_size=100)]

    assert sorted(ids(status="waitbuyerreceive")) == sorted(shipped)
    assert sorted(ids(status="WAITING_FOR_PAYMENT")) == sorted(unpaid)  # push-message spelling works too
    # createStartTime inclusive, createEndTime exclusive: minutes 10..19 of the first batch.
    window = ids(createStartTime="2026-01-01T00:10:00Z", createEndTime="2026-01-01T00:20:00Z")
    assert sorted(window) == sorted(unpaid[10:20])
    assert ids(createStartTime="2026-01-31T00:00:00+00:00") == list(reversed(shipped))
    as_unix = int(datetime(2026, 2, 1, 0, 5, tzinfo=UTC).timestamp())
    assert len(ids(createStartTime=str(as_unix), status="waitbuyerreceive")) == 15
    detail = control.get("order", unpaid[3])
    assert ids(outOrderId=detail["outOrderId"]) == [unpaid[3]]
    assert ids(outOrderId="no-such-order") == []


def test_seeded_orders_have_realistic_fields(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    [order_id] = xportcn_sandbox.control.seed_orders(1, status="success", start=START, quantity=4)
    detail = sandbox_client.call("order_detail", {"orderId": order_id})
    assert detail["status"] == "success" and detail["createTime"] == START
    assert detail["payTime"] == START
    assert detail["productItems"][0]["quantity"] == 4
    assert detail["sumPayment"] == detail["productItems"][0]["itemAmount"] + detail["sumCarriage"]


def test_duplicate_out_order_id_creates_one_order(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    body = {"outOrderId": "dag-run-1", "addressParam": ADDRESS, "cargoParamList": CARGO}
    first = sandbox_client.call("order_create", body)
    second = sandbox_client.call(
        "order_create", {**body, "cargoParamList": [{"offerId": "9", "quantity": 5}]}
    )
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["orderId"] == first["orderId"]
    assert second["totalSuccessAmount"] == first["totalSuccessAmount"]
    assert xportcn_sandbox.control.state()["orders"] == 1
    found = sandbox_client.call("order_list", {"outOrderId": "dag-run-1"})
    assert [o["orderId"] for o in found["list"]] == [first["orderId"]]


def test_concurrent_creates_are_atomic(xportcn_sandbox: SandboxHandle) -> None:
    """Ten clients racing on one outOrderId make one order; distinct ids all get created."""
    from .conftest import make_client

    def create(out_order_id: str) -> dict[str, Any]:
        client = make_client(xportcn_sandbox)
        try:
            body = {"outOrderId": out_order_id, "addressParam": ADDRESS, "cargoParamList": CARGO}
            return dict(client.call("order_create", body))
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        same = list(pool.map(create, ["race"] * 10))
        distinct = list(pool.map(create, [f"own-{i}" for i in range(20)]))
    assert len({a["orderId"] for a in same}) == 1
    assert sorted(a["duplicate"] for a in same) == [False] + [True] * 9
    assert len({a["orderId"] for a in distinct}) == 20
    assert xportcn_sandbox.control.state()["orders"] == 21


def test_duplicate_taobao_out_order_id(xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient) -> None:
    body = {"items": [{"itemId": "7", "quantity": 1}], "address": ADDRESS, "outOrderId": "tb-dup"}
    first = sandbox_client.call("taobao_order_create", body)
    second = sandbox_client.call("taobao_order_create", body)
    assert second == {**first, "duplicate": True}
    assert xportcn_sandbox.control.state()["taobao_orders"] == 1
    listed = sandbox_client.call("taobao_order_list", {"outOrderId": "tb-dup"})
    assert listed["total"] == 1


def test_product_search_pages_are_stable(sandbox_client: XportcnClient) -> None:
    everything = list(sandbox_client.paginate("product_search", {"keyword": "mug"}, page_size=7))
    first = sandbox_client.call("product_search", {"keyword": "mug", "beginPage": 1, "pageSize": 7})
    assert everything[0] == first["list"][0]
    assert len(everything) == first["total"]
    assert len({p["offerId"] for p in everything}) == len(everything)
    detail = sandbox_client.call("product_detail", {"offerId": everything[0]["offerId"]})
    preview = sandbox_client.call(
        "order_preview",
        {
            "addressParam": ADDRESS,
            "cargoParamList": [
                {"offerId": detail["offerId"], "specId": detail["skus"][0]["specId"], "quantity": 3}
            ],
        },
    )
    assert preview["cargoList"][0]["unitPrice"] == detail["skus"][0]["price"]  # one price everywhere
    assert preview["sumPayment"] == preview["sumCarriage"] + preview["sumPaymentNoCarriage"]


def test_page_size_limit(sandbox_client: XportcnClient) -> None:
    with pytest.raises(XportcnBusinessError, match="pageSize must be between 1 and 100") as caught:
        sandbox_client.call("order_list", {"pageSize": 101})
    assert caught.value.code == EnvelopeCode.INVALID_PARAMETER
