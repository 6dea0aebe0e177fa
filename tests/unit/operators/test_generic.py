"""XportcnApiOperator: any endpoint by name, pagination with a max_items guard."""

from __future__ import annotations

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.operators.generic import XportcnApiOperator

from .conftest import FakeTI, make_context


def page(items, total, page_no, size=2):
    return {"list": items, "total": total, "pageNo": page_no, "pageSize": size}


def test_single_call_returns_data_and_request_id(api):
    api.on("product_detail", {"offerId": "1", "title": "t", "skus": []})
    ti = FakeTI()
    op = XportcnApiOperator(task_id="g", endpoint="product_detail", payload={"offerId": "1", "country": "en"})
    assert op.execute(make_context(ti)) == {"offerId": "1", "title": "t", "skus": []}
    assert api.body("product_detail") == {"offerId": "1", "country": "en"}
    assert ti.xcom == {"request_id": "req-product_detail-1"}


def test_get_endpoint(api):
    api.on("logistics_companies", [{"companyNo": "YTO", "companyName": "圆通"}])
    assert (
        XportcnApiOperator(task_id="g", endpoint="logistics_companies").execute(make_context())[0][
            "companyNo"
        ]
        == "YTO"
    )


def test_paginate_collects_every_page_and_filters_the_status_on_the_rows(api):
    rows = [{"orderId": "1", "status": "waitsellersend"}, {"orderId": "2", "status": "WAITING_FOR_SENT"}]
    api.on("order_list", page(rows, 3, 1), page([{"orderId": "3", "status": "waitbuyerpay"}], 3, 2))
    op = XportcnApiOperator(
        task_id="g", endpoint="order_list", payload={"status": "waitsellersend"}, paginate=True, page_size=2
    )
    assert [r["orderId"] for r in op.execute(make_context())] == ["1", "2"]  # any spelling
    assert [b["pageNo"] for _, b in api.calls] == [1, 2]
    assert all("status" not in b and b["pageSize"] == 2 for _, b in api.calls)  # never sent


def test_paginate_max_items_guard(api):
    api.on(
        "order_list",
        page([{"orderId": "1"}, {"orderId": "2"}], 10, 1),
        page([{"orderId": "3"}, {"orderId": "4"}], 10, 2),
    )
    op = XportcnApiOperator(task_id="g", endpoint="order_list", paginate=True, page_size=2, max_items=3)
    with pytest.raises(XportcnValidationError, match="more than 3 items") as err:
        op.execute(make_context())
    assert err.value.parameter == "max_items"


def test_payload_as_json_text(api):
    api.on("product_category", {"categoryId": "0", "children": []})
    op = XportcnApiOperator(task_id="g", endpoint="product_category", payload='{"categoryId": "0"}')
    op.execute(make_context())
    assert api.body("product_category") == {"categoryId": "0"}
