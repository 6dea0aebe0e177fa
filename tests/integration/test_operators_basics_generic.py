"""Address and generic operators against the sandbox (``dag.test()`` for both)."""

from __future__ import annotations

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.operators.basics import XportcnSaveAddressOperator
from xportcn_provider.operators.generic import XportcnApiOperator

from .operators_support import endpoints_called, make_context, run_dag, try_numbers, use_sandbox, xcoms

ADDRESS = {
    "name": "张三",
    "province": "浙江省",
    "city": "杭州市",
    "address": "文一西路 969 号",
    "phone": "13800000000",
}


def test_address_and_api_dag_with_a_lost_save_answer(xportcn_sandbox, airflow_db, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    before = xportcn_sandbox.control.state()["addresses"]  # the sandbox ships its warehouse address
    xportcn_sandbox.control.seed_orders(25, status="waitsellersend")
    xportcn_sandbox.control.clear_calls()
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="address_save")
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_basics_generic",
        f"""
        from xportcn_provider.operators.basics import XportcnSaveAddressOperator
        from xportcn_provider.operators.generic import XportcnApiOperator
        address = XportcnSaveAddressOperator(
            task_id="save_address", retries=1, retry_delay=dt.timedelta(seconds=0), **{ADDRESS!r}
        )
        orders = XportcnApiOperator(
            task_id="sync_orders",
            endpoint="order_list",
            payload={{"status": "waitsellersend"}},
            paginate=True,
            page_size=10,
        )
        companies = XportcnApiOperator(task_id="companies", endpoint="logistics_companies")
        address >> orders >> companies
        """,
    )
    assert run.state == "success"
    assert try_numbers(run)["save_address"] == ("success", 1)  # the look-up found the saved address
    assert xportcn_sandbox.control.state()["addresses"] == before + 1
    pushed = xcoms(run)
    assert pushed["save_address"]["address_id"] == pushed["save_address"]["return_value"]
    orders = pushed["sync_orders"]["return_value"]
    assert len(orders) == 25 and len({o["orderId"] for o in orders}) == 25
    assert any(c["companyNo"] == "YTO" for c in pushed["companies"]["return_value"])
    calls = endpoints_called(xportcn_sandbox)
    assert calls.count("address_save") == 1
    assert calls.count("order_list") == 3


def test_saving_the_same_address_again_reuses_it(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    before = xportcn_sandbox.control.state()["addresses"]
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="address_save")
    lost = XportcnSaveAddressOperator(task_id="a", **ADDRESS).execute(make_context())  # found by look-up
    first = XportcnSaveAddressOperator(task_id="a", **ADDRESS).execute(make_context())
    assert first == lost
    updated = XportcnSaveAddressOperator(
        task_id="a", address_id=first, **{**ADDRESS, "phone": "13900000000"}
    ).execute(make_context())
    assert updated == first
    assert xportcn_sandbox.control.state()["addresses"] == before + 1
    assert xportcn_sandbox.control.calls()[-1]["endpoint"] == "address_save"


def test_paginate_guard_stops_a_runaway_list(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    xportcn_sandbox.control.seed_orders(30)
    op = XportcnApiOperator(task_id="g", endpoint="order_list", paginate=True, page_size=10, max_items=15)
    with pytest.raises(XportcnValidationError, match="more than 15") as err:
        op.execute(make_context())
    assert err.value.parameter == "max_items"


def test_product_search_pages(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    op = XportcnApiOperator(
        task_id="g",
        endpoint="product_search",
        payload={"keyword": "mug", "country": "en"},
        paginate=True,
        page_size=50,
    )
    items = op.execute(make_context())
    assert items and all("offerId" in i for i in items)
    pages = [c for c in xportcn_sandbox.control.calls() if c["endpoint"] == "product_search"]
    # Every item once, and no page more than needed (the last page is short or reaches ``total``).
    assert len({i["offerId"] for i in items}) == len(items)
    assert len(pages) == -(-len(items) // 50)
