"""Issue 11 items 3, 8 and 11: waits against sandbox variants (real HTTP, real sensors/operators).

Each test names the variant that broke the old code; the fix either keeps the wait right or fails
it at once with a message naming the id or field — never a green task with another order's
status, never a wrong id waiting out a 7-day timeout.
"""

from __future__ import annotations

import logging

import pytest

from xportcn_provider.api.waits import order_wait
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.operators.orders import XportcnCreateOrderOperator
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.sensors.status import XportcnOrderStatusSensor, XportcnPackageStatusSensor
from xportcn_provider.waiting import XportcnWaitFailure, wait_sync

from .conftest import make_context

ADDRESS = {"fullName": "张三", "mobile": "13800000000", "address": "文一西路 969 号"}
CARGO = [{"offerId": "610000000001", "quantity": 1}]
TB_ITEMS = [{"itemId": "700000000001", "quantity": 1}]
TB_ADDRESS = {"name": "张三", "phone": "13800000000", "address": "文一西路 969 号"}
log = logging.getLogger(__name__)


def _taobao_order(hook: XportcnHook, out_order_id: str) -> str:
    data = hook.call(
        "taobao_order_create", {"outOrderId": out_order_id, "items": TB_ITEMS, "address": TB_ADDRESS}
    )
    return str(data["orderId"])


def test_taobao_wait_never_ends_on_another_orders_status(xportcn_default_conn: SandboxHandle) -> None:
    """Item 3: with the orderId filter ignored, row 0 (order B, shipped) used to end A's wait."""
    control = xportcn_default_conn.control
    hook = XportcnHook()
    order_a = _taobao_order(hook, "tb-a")
    control.force("taobao_order", order_a, 0, hold=True)  # A: waiting for payment, for good
    order_b = _taobao_order(hook, "tb-b")
    control.force("taobao_order", order_b, 11, hold=True)  # B (newest, listed first): shipped
    control.set_variants("ignore_filters")
    sensor = XportcnOrderStatusSensor(task_id="wait_a", order_id=order_a, platform="taobao")
    assert not sensor.poke({}).is_done
    assert not sensor.poke({}).is_done
    control.force("taobao_order", order_a, 11, hold=True)
    assert sensor.poke({}).is_done


def test_wrong_id_with_data_null_fails_at_once(xportcn_default_conn: SandboxHandle) -> None:
    """Item 8: ``data: null`` for an unknown id used to count as "not yet" (7-day default wait)."""
    xportcn_default_conn.control.set_variants("data_null_not_found")
    sensor = XportcnOrderStatusSensor(task_id="wait", order_id="2618000000000000000", poke_interval=0.01)
    with pytest.raises(XportcnWaitFailure, match="data: null"):
        sensor.poke({})


def test_missing_status_field_fails_naming_the_field(xportcn_default_conn: SandboxHandle) -> None:
    """Item 8: an answer without ``status`` used to count as "not yet"."""
    (order_id,) = xportcn_default_conn.control.seed_orders(1)
    xportcn_default_conn.control.set_variants("missing_status")
    sensor = XportcnOrderStatusSensor(task_id="wait", order_id=order_id, target_statuses="waitbuyerpay")
    with pytest.raises(XportcnWaitFailure, match="no status at 'status'") as err:
        sensor.poke({})
    assert "orderId" in str(err.value)  # the answer's keys, to find the right path


def test_statuses_the_provider_does_not_list_can_be_targeted(xportcn_default_conn: SandboxHandle) -> None:
    """Item 8: real statuses outside the vocabulary (1688's, an unpublished package one)."""
    control = xportcn_default_conn.control
    (order_id,) = control.seed_orders(1, status="waitsellersend")
    control.force("order", order_id, "waitlogisticstakein", hold=True)
    assert (
        XportcnOrderStatusSensor(task_id="o", order_id=order_id, target_statuses="waitlogisticstakein")
        .poke({})
        .is_done
    )
    hook = XportcnHook()
    hook.call("package_forecast", {"out_order_id": "PKG-X", "logistics_tracking_number": "YT1"})
    # A status the provider does not know, laid over the served record.
    control.force("package", "PKG-X", "INBOUND", hold=True, overrides={"status": "SORTING"})
    sensor = XportcnPackageStatusSensor(
        task_id="p", out_order_id="PKG-X", extra_statuses=["sorting"], target_statuses=["SORTING"]
    )
    assert sensor.poke({}).is_done
    waiting = XportcnPackageStatusSensor(task_id="p2", out_order_id="PKG-X", extra_statuses=["SORTING"])
    assert not waiting.poke({}).is_done  # known to be real, not the target: keep waiting


def test_waiting_create_operator_survives_read_after_write_lag(xportcn_default_conn: SandboxHandle) -> None:
    """Item 11: one "not found" right after order_create used to fail a waiting create operator."""
    xportcn_default_conn.control.set_variants("read_lag")
    op = XportcnCreateOrderOperator(
        task_id="buy",
        out_order_id="lag-order",
        address_param=ADDRESS,
        cargo_param_list=CARGO,
        wait_for="waitbuyerpay",
        deferrable=False,
        poll_interval=0.05,
    )
    order_id = op.execute(make_context())
    details = [c["code"] for c in xportcn_default_conn.control.calls("order_detail")]
    assert order_id and details[0] == 404 and details[-1] == 200


def test_sensor_right_after_a_create_survives_lag_with_a_grace(xportcn_default_conn: SandboxHandle) -> None:
    """Item 11 for sensors: ``not_found_grace`` lets a sensor started right after a create wait."""
    xportcn_default_conn.control.set_variants("read_lag")
    order_id = _taobao_order(XportcnHook(), "lag-tb")
    sensor = XportcnOrderStatusSensor(
        task_id="tb", order_id=order_id, platform="taobao", target_statuses="0", not_found_grace=1
    )
    assert not sensor.poke({}).is_done  # listed nothing: the lag
    assert sensor.poke({}).is_done


def test_a_wait_that_never_finds_its_object_fails_after_the_grace(
    xportcn_default_conn: SandboxHandle,
) -> None:
    """The grace is bounded: a wrong id still fails (after 1 + grace reads), it does not wait."""
    spec = order_wait("2618000000000000000").after_write(2)
    with pytest.raises(Exception) as err:
        wait_sync(XportcnHook(), spec, poll_interval=0.01, timeout=60, log=log)
    assert "not found" in str(err.value).lower()
    assert len(xportcn_default_conn.control.calls("order_detail")) == 3


def test_create_operator_can_buy_when_an_empty_lookup_answers_list_null(
    xportcn_default_conn: SandboxHandle,
) -> None:
    """Item 9: ``{"list": null, "total": 0}`` failed the pre-create look-up, so it could never buy."""
    xportcn_default_conn.control.set_variants("list_null")
    op = XportcnCreateOrderOperator(
        task_id="buy", out_order_id="null-list-1", address_param=ADDRESS, cargo_param_list=CARGO
    )
    order_id = op.execute(make_context())
    assert order_id and xportcn_default_conn.control.state()["orders"] == 1
    assert [c["endpoint"] for c in xportcn_default_conn.control.calls()] == ["order_list", "order_create"]
