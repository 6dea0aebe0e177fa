"""Logistics, warehouse and address operators over requests-mock."""

from __future__ import annotations

import pytest
import requests

from xportcn_provider.api.errors import (
    XportcnConflictError,
    XportcnOutcomeUnknownError,
    XportcnValidationError,
)
from xportcn_provider.operators.basics import XportcnSaveAddressOperator
from xportcn_provider.operators.logistics import (
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnFreightPreviewOperator,
    XportcnUpdateDomesticLogisticsOperator,
)
from xportcn_provider.operators.wms import (
    XportcnForecastPackageOperator,
    XportcnPackageInboundOperator,
    XportcnUpdatePackageOperator,
)

from .conftest import CONSOLE_URL, FakeStore, FakeTI, make_context

RECEIVER = {
    "name": "John Doe",
    "country": "US",
    "address": "1 Main St",
    "city": "Springfield",
    "zip": "12345",
}
ITEMS = [{"itemId": "610947572360", "skuId": "s1", "quantity": 2}]
OPTIONS = [
    {"serviceId": "XP-STANDARD", "serviceName": "Std", "currency": "CNY", "price": 5800, "days": 10},
    {"serviceId": "XP-ECONOMY", "serviceName": "Eco", "currency": "CNY", "price": 3900, "days": 18},
]


def booking(tmall: str, duplicate: bool = False) -> dict:
    return {
        "logisticsOrderId": "LP0001",
        "tmallOrderId": tmall,
        "renderId": "FF2026112500001",
        "status": "CREATED",
        "trackingNumber": None,
        "duplicate": duplicate,
    }


def book_op(**kwargs) -> XportcnCreateInternationalLogisticsOrderOperator:
    return XportcnCreateInternationalLogisticsOrderOperator(
        task_id="book", render_id="FF2026112500001", receiver_address=RECEIVER, line_items=ITEMS, **kwargs
    )


def test_freight_preview_pushes_render_id_and_cheapest(api):
    api.on("freight_preview", {"renderId": "FF2026112500001", "options": OPTIONS})
    ti = FakeTI()
    op = XportcnFreightPreviewOperator(task_id="fp", receiver_address=RECEIVER, render_items=ITEMS)
    assert op.execute(make_context(ti))["renderId"] == "FF2026112500001"
    assert ti.xcom == {"render_id": "FF2026112500001", "cheapest_service_id": "XP-ECONOMY"}
    assert api.body("freight_preview") == {"receiverAddress": RECEIVER, "renderItems": ITEMS}


def test_booking_sends_tmall_order_id_and_remembers(api):
    api.on("intl_logistics_create", booking("x"))
    store, ti = FakeStore(), FakeTI()
    assert book_op().execute(make_context(ti, store)) == "LP0001"
    tmall = api.body("intl_logistics_create")["tmallOrderInfo"]["tmallOrderId"]
    assert tmall.startswith("af-") and len(tmall) == 32
    assert ti.xcom == {
        "logistics_order_id": "LP0001",
        "tmall_order_id": tmall,
        "logistics_url": f"{CONSOLE_URL}/logistics/detail?logisticsOrderId=LP0001",
    }
    # The retry reconnects from the store, with no call.
    assert book_op().execute(make_context(ti, store)) == "LP0001"
    assert api.names == ["intl_logistics_create"]


def test_booking_after_lost_answer_is_never_sent_again_by_default(api):
    """No endpoint reads a booking back: a lost answer fails with the key, the retry does not resend."""
    context = make_context(FakeTI(), FakeStore())
    api.on("intl_logistics_create", requests.ConnectionError("lost"), booking("PKG-1", duplicate=True))
    for _ in range(2):  # the try that lost the answer, then a retry of the task
        with pytest.raises(XportcnOutcomeUnknownError, match="tmallOrderId PKG-1") as failure:
            book_op(tmall_order_id="PKG-1").execute(context)
        assert failure.value.key == {"tmallOrderId": "PKG-1"}
        assert CONSOLE_URL in str(failure.value)
    assert api.names == ["intl_logistics_create"]


def test_booking_resend_is_an_explicit_choice(api):
    """``on_unknown_outcome="resend"`` trusts the service's tmallOrderId dedup, and says so."""
    context = make_context(FakeTI(), FakeStore())
    api.on("intl_logistics_create", requests.ConnectionError("lost"), booking("PKG-1", duplicate=True))
    assert book_op(tmall_order_id="PKG-1", on_unknown_outcome="resend").execute(context) == "LP0001"
    bodies = [b for n, b in api.calls if n == "intl_logistics_create"]
    assert [b["tmallOrderInfo"]["tmallOrderId"] for b in bodies] == ["PKG-1", "PKG-1"]


def test_booking_on_unknown_outcome_is_checked_before_any_call(api):
    with pytest.raises(XportcnValidationError, match="on_unknown_outcome"):
        book_op(tmall_order_id="PKG-1", on_unknown_outcome="maybe").execute(make_context())
    assert api.calls == []


def test_domestic_update(api):
    api.on("domestic_logistics_update", True)
    infos = [
        {
            "lineItem": {"itemId": "1", "quantity": 1},
            "logisticNumer": "YT1",
            "domesticLogisticInfo": [
                {"logisticNumer": "YT1", "logisticCompanyName": "圆通", "rtsTime": 1764057600}
            ],
        }
    ]
    ti = FakeTI()
    op = XportcnUpdateDomesticLogisticsOperator(task_id="d", order_id="LP0001", logistic_infos=infos)
    assert op.execute(make_context(ti)) == "LP0001"
    assert ti.xcom == {"order_id": "LP0001", "tracking_numbers": ["YT1"]}
    assert api.body("domestic_logistics_update") == {"orderId": "LP0001", "logisticInfos": infos}


def package(status: str = "FORECASTED", tracking: str = "YT1") -> dict:
    return {"out_order_id": "PKG-1", "logistics_tracking_number": tracking, "status": status}


def test_forecast_new_package(api):
    # Unknown first (data null), then read back after the forecast (issue 11 item 12).
    api.on("package_detail", None, package())
    api.on("package_forecast", package())
    ti = FakeTI()
    op = XportcnForecastPackageOperator(task_id="f", out_order_id="PKG-1", logistics_tracking_number="YT1")
    assert op.execute(make_context(ti)) == "PKG-1"
    assert api.names == ["package_detail", "package_forecast", "package_detail"]
    assert ti.xcom == {
        "out_order_id": "PKG-1",
        "tracking_number": "YT1",
        "package_status": "FORECASTED",
        "package_url": f"{CONSOLE_URL}/wms/package/detail?outOrderId=PKG-1",
    }


def test_forecast_again_is_skipped(api):
    api.on("package_detail", package("INBOUND"))
    op = XportcnForecastPackageOperator(task_id="f", out_order_id="PKG-1", logistics_tracking_number="YT1")
    assert op.execute(make_context()) == "PKG-1"
    assert api.names == ["package_detail"]


def test_update_package_requires_something_to_update(api):
    with pytest.raises(XportcnValidationError, match="nothing to update"):
        XportcnUpdatePackageOperator(task_id="u", out_order_id="PKG-1").execute(make_context())
    assert api.calls == []


def test_update_package(api):
    api.on("package_update", package(tracking="YT2"))
    api.on("package_detail", package(tracking="YT2"))  # the read-back
    ti = FakeTI()
    op = XportcnUpdatePackageOperator(task_id="u", out_order_id="PKG-1", logistics_tracking_number="YT2")
    assert op.execute(make_context(ti)) == "PKG-1"
    assert ti.xcom["tracking_number"] == "YT2"


def test_inbound_with_inspection(api):
    api.on("package_inbound", package("QC_PASSED"))
    qc = {
        "status": "PASSED",
        "weight": 1.2,
        "length": 30,
        "width": 20,
        "height": 10,
        "images": ["https://i/1.jpg"],
    }
    ti = FakeTI()
    op = XportcnPackageInboundOperator(
        task_id="i", out_order_id="PKG-1", logistics_tracking_number="YT1", quality_inspection_info=qc
    )
    assert op.execute(make_context(ti)) == "PKG-1"
    assert ti.xcom["package_status"] == "QC_PASSED"
    assert api.body("package_inbound")["quality_inspection_info"] == qc


def test_inbound_conflict_on_a_received_package_is_success(api):
    api.fail("package_inbound", 409, "package PKG-1 is already SHIPPED")
    api.on("package_detail", package("SHIPPED"))
    op = XportcnPackageInboundOperator(task_id="i", out_order_id="PKG-1", logistics_tracking_number="YT1")
    assert op.execute(make_context()) == "PKG-1"


def test_inbound_conflict_on_a_forecast_package_is_raised(api):
    api.fail("package_inbound", 409, "refused")
    api.on("package_detail", package("FORECASTED"))
    op = XportcnPackageInboundOperator(task_id="i", out_order_id="PKG-1", logistics_tracking_number="YT1")
    with pytest.raises(XportcnConflictError):
        op.execute(make_context())


ADDRESS = {
    "name": "张三",
    "province": "浙江省",
    "city": "杭州市",
    "address": "文一西路 969 号",
    "phone": "13800000000",
}


def test_save_new_address_once(api):
    api.on("address_list", [])
    api.on("address_save", {"id": "A1"})
    store, ti = FakeStore(), FakeTI()
    assert XportcnSaveAddressOperator(task_id="a", **ADDRESS).execute(make_context(ti, store)) == "A1"
    assert api.names == ["address_list", "address_save"]
    assert ti.xcom == {"address_id": "A1"}
    assert XportcnSaveAddressOperator(task_id="a", **ADDRESS).execute(make_context(ti, store)) == "A1"
    assert api.names == ["address_list", "address_save"]


def test_identical_saved_address_is_reused(api):
    api.on("address_list", [{"id": "A7", "district": None, **ADDRESS}])
    assert XportcnSaveAddressOperator(task_id="a", **ADDRESS).execute(make_context()) == "A7"
    assert api.names == ["address_list"]


def test_update_address_by_id(api):
    api.on("address_save", {"id": "A7"})
    op = XportcnSaveAddressOperator(task_id="a", address_id="A7", **ADDRESS)
    assert op.execute(make_context()) == "A7"
    assert api.names == ["address_save"]
    assert api.body("address_save")["id"] == "A7"


def test_domestic_update_with_a_bare_tracking_number(api):
    api.on("domestic_logistics_update", True)
    ti = FakeTI()
    op = XportcnUpdateDomesticLogisticsOperator(
        task_id="d", order_id="LP0001", logistic_infos=[{"logisticNumer": "YT7"}]
    )
    assert op.execute(make_context(ti)) == "LP0001"
    assert ti.xcom["tracking_numbers"] == ["YT7"]
