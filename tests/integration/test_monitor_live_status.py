"""The task tab's live reads against the sandbox over real HTTP (issue 18, item 2).

Each object is read with the same request its sensor polls (``mon.live_objects`` builds the
sensor's :class:`WaitSpec`), so the tab's status is what the wait itself would see; reads are
cached for 30 s; an international booking (no read endpoint) is not called at all; a failing read
is a one-line message with no secret in it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from xportcn_provider.api import monitoring as mon
from xportcn_provider.sandbox import SandboxHandle

from .conftest import make_client


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    from xportcn_provider.plugins import monitor

    monitor._live_cache.clear()
    yield
    monitor._live_cache.clear()


def _sensor(operator: str, **rendered: object) -> mon.WaitRow:
    row = mon.describe_wait(
        dag_id="d",
        run_id="r",
        task_id="t",
        map_index=-1,
        state="deferred",
        operator=operator,
        rendered=rendered,
        since=None,
    )
    assert row is not None
    return row


def _live(wait: mon.WaitRow | None, xcoms: dict[str, object] | None = None) -> list[dict[str, object]]:
    from xportcn_provider.plugins.monitor import live_status

    return [live_status("xportcn_default", o) for o in mon.live_objects(wait, xcoms or {}, operator="")]


def test_each_kind_shows_what_its_sensor_sees(xportcn_default_conn: SandboxHandle, fresh_cache: None) -> None:
    handle = xportcn_default_conn
    handle.control.configure(auto_advance=False)
    [unshipped, shipped] = handle.control.seed_orders(2, status="waitsellersend")
    handle.control.force("order", shipped, "waitbuyerreceive", hold=True)
    out_id, tracking = f"OUT-{time.time_ns()}", f"SF{time.time_ns()}"
    client = make_client(handle)
    try:
        client.call("package_forecast", {"out_order_id": out_id, "logistics_tracking_number": tracking})
    finally:
        client.close()
    handle.control.clear_calls()

    [order] = _live(_sensor("XportcnOrderStatusSensor", order_id=unshipped))
    assert order["status"] == "waitsellersend" and order["base_url"] == handle.url
    assert order["console"].endswith(f"/order/detail?orderId={unshipped}")
    [waiting] = _live(_sensor("XportcnLogisticsStatusSensor", order_id=unshipped, leg="domestic"))
    assert waiting["status"] == "waitsellersend (no trackingNumber yet)"
    assert waiting["reason"] == "trackingNumber is not set yet"
    [done] = _live(_sensor("XportcnLogisticsStatusSensor", order_id=shipped, leg="domestic"))
    assert str(done["status"]).startswith("waitbuyerreceive (trackingNumber ") and "reason" not in done
    [package] = _live(_sensor("XportcnPackageStatusSensor", tracking_number=tracking))
    assert package["status"] == "FORECASTED" and "console" not in package  # no console page by tracking
    assert [c["endpoint"] for c in handle.control.calls()] == [
        "order_detail",
        "order_logistics",
        "order_logistics",
        "package_detail",
    ]
    # a second view within 30 s is served from the cache: no call
    [again] = _live(_sensor("XportcnOrderStatusSensor", order_id=unshipped))
    assert again["cached"] is True and len(handle.control.calls()) == 4


def test_a_booking_is_not_read_and_a_failed_read_is_one_line(
    xportcn_default_conn: SandboxHandle, fresh_cache: None
) -> None:
    handle = xportcn_default_conn
    handle.control.clear_calls()
    [booking] = _live(None, {"logistics_order_id": "LP5000000000001"})
    assert booking["note"] == mon.NO_READ_LOGISTICS and "status" not in booking
    assert str(booking["console"]).endswith("/logistics/detail?logisticsOrderId=LP5000000000001")
    handle.control.inject("http_500", endpoint="refund_detail", count=1)
    [failed] = _live(_sensor("XportcnRefundStatusSensor", refund_id="TQ123456789"))
    message = str(failed["error"])
    assert message.startswith("Could not read refund TQ123456789: ") and "\n" not in message
    assert "Traceback" not in message and "sandbox-secret" not in message
    assert [c["endpoint"] for c in handle.control.calls()] == ["refund_detail"]  # the booking: no call
