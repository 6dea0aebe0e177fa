"""The sandbox's variants (issue 11): how they are switched on and off, and what each one serves.

What the *provider* does against each variant is tested next to the code it concerns
(``tests/reliability/test_variants_*.py``); this file pins the sandbox side, so a variant cannot
silently stop playing its part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xportcn_provider.api.client import XportcnClient
from xportcn_provider.api.errors import XportcnNotFoundError
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.sandbox.client import SandboxControlError
from xportcn_provider.sandbox.variants import VARIANTS

from .test_sandbox_cli import Cli, clean_env, free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def test_variants_switch_on_list_and_reset(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    assert control.variants() == {"available": dict(VARIANTS), "active": []}
    assert control.set_variants("list_null", "total_zero", "list_null") == ["list_null", "total_zero"]
    assert control.config()["variants"] == ["list_null", "total_zero"]
    control.reset()
    assert control.variants()["active"] == []


@pytest.mark.xportcn_variants("list_null", "total_zero")
def test_the_fixture_marker_switches_variants_on(xportcn_sandbox: SandboxHandle) -> None:
    assert xportcn_sandbox.control.variants()["active"] == ["list_null", "total_zero"]


def test_unknown_variant_is_refused_with_the_valid_names(xportcn_sandbox: SandboxHandle) -> None:
    with pytest.raises(SandboxControlError) as err:
        xportcn_sandbox.control.set_variants("nope")
    assert err.value.status == 400
    assert "nope" in str(err.value.detail) and "page_size_cap" in str(err.value.detail)
    assert xportcn_sandbox.control.variants()["active"] == []


def test_every_variant_is_documented() -> None:
    text = DOCS.read_text()
    for name, description in VARIANTS.items():
        assert f"`{name}`" in text, f"docs/sandbox.md does not list variant {name}"
        assert description.strip()


def test_cli_variant_flag() -> None:
    port = free_port()
    cli = Cli(
        ["--port", str(port), "--log-level", "warning", "--variant", "list_null", "--variant", "nested_ids"],
        clean_env(),
    )
    try:
        assert any("variants: list_null, nested_ids" in line for line in cli.lines)
        from xportcn_provider.sandbox.client import SandboxControl

        control = SandboxControl(f"http://127.0.0.1:{port}")
        assert control.variants()["active"] == ["list_null", "nested_ids"]
        control.close()
    finally:
        assert cli.stop() in (0, -15)


def _orders(client: XportcnClient, **body: Any) -> dict[str, Any]:
    return client.call("order_list", {"pageNo": 1, "pageSize": 50, **body})


def test_list_variants_serve_what_they_say(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    control = xportcn_sandbox.control
    ids = control.seed_orders(30, start="2026-01-01T00:00:00Z", step_seconds=3600)
    control.set_variants("page_size_cap", "nested_ids")
    page = _orders(sandbox_client)
    assert len(page["list"]) == 20 and page["total"] == 30 and page["pageSize"] == 50
    assert "orderId" not in page["list"][0] and page["list"][0]["baseInfo"]["id"] == ids[-1]
    control.set_variants("total_zero", "ignore_page")
    assert _orders(sandbox_client, pageSize=10)["total"] == 0
    first = _orders(sandbox_client, pageSize=10)["list"]
    assert _orders(sandbox_client, pageNo=2, pageSize=10)["list"] == first
    control.set_variants("ignore_filters")
    assert len(_orders(sandbox_client, outOrderId="nope")["list"]) == 30
    control.set_variants("list_null")
    assert _orders(sandbox_client, outOrderId="nope") == {
        "list": None,
        "total": 0,
        "pageNo": 1,
        "pageSize": 50,
    }


def test_time_filter_variants(xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient) -> None:
    control = xportcn_sandbox.control
    control.seed_orders(3, start="2026-01-01T23:00:00Z", step_seconds=3600)  # 23:00, 00:00, 01:00
    window = {"createStartTime": "2026-01-01T00:00:00Z", "createEndTime": "2026-01-02T00:00:00Z"}
    assert _orders(sandbox_client, **window)["total"] == 1
    control.set_variants("inclusive_end")
    assert _orders(sandbox_client, **window)["total"] == 2
    control.set_variants("local_time_only")
    assert _orders(sandbox_client, **window)["total"] == 3  # ISO filters ignored
    local = {"createStartTime": "2026-01-02 07:00:00", "createEndTime": "2026-01-02 08:30:00"}
    page = _orders(sandbox_client, **local)
    assert [row["createTime"] for row in page["list"]] == ["2026-01-02 08:00:00", "2026-01-02 07:00:00"]


def test_detail_variants(xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient) -> None:
    control = xportcn_sandbox.control
    (order_id,) = control.seed_orders(1)
    control.set_variants("data_null_not_found", "missing_status", "pay_without_url")
    assert sandbox_client.call("order_detail", {"orderId": "1"}) is None
    assert "status" not in sandbox_client.call("order_detail", {"orderId": order_id})
    assert "payUrl" not in sandbox_client.call("order_pay", {"orderId": order_id})


def test_read_lag_hides_a_new_order_from_its_first_read(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    xportcn_sandbox.control.set_variants("read_lag")
    body = {
        "outOrderId": "lag-1",
        "addressParam": {"fullName": "A", "mobile": "13800000000", "address": "x"},
        "cargoParamList": [{"offerId": "610000000001", "quantity": 1}],
    }
    order_id = sandbox_client.call("order_create", body)["orderId"]
    with pytest.raises(XportcnNotFoundError):
        sandbox_client.call("order_detail", {"orderId": order_id})
    assert sandbox_client.call("order_detail", {"orderId": order_id})["orderId"] == order_id


def test_already_done_and_write_failure(
    xportcn_sandbox: SandboxHandle, sandbox_client: XportcnClient
) -> None:
    control = xportcn_sandbox.control
    (order_id,) = control.seed_orders(1, status="waitsellersend")
    control.set_variants("already_done_500")
    with pytest.raises(Exception) as err:
        sandbox_client.call("order_pay", {"orderId": order_id})
    assert getattr(err.value, "code", None) == 500 and "已支付" in str(getattr(err.value, "msg", ""))
    control.set_variants("write_failure_data")
    assert sandbox_client.call("refund_cancel", {"refundId": "TQ1"}).startswith("售后订单取消失败")
