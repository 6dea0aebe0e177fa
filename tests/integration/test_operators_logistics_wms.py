"""Logistics and warehouse operators against the sandbox, each through ``dag.test()`` with a lost
answer and an Airflow retry, plus the domestic waybill update."""

from __future__ import annotations

import pytest

from xportcn_provider.api.errors import XportcnOutcomeUnknownError
from xportcn_provider.operators.logistics import (
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnFreightPreviewOperator,
    XportcnUpdateDomesticLogisticsOperator,
)

from .operators_support import (
    CONSOLE_URL,
    RECEIVER,
    FakeStore,
    FakeTI,
    endpoints_called,
    make_context,
    run_dag,
    try_numbers,
    use_sandbox,
    xcoms,
)

LINES = [
    {"itemId": "610947572360", "skuId": "s1", "quantity": 2, "title": "Mug", "imageUrl": "https://i/1.jpg"}
]


BOOKING_DAG = f"""
from xportcn_provider.operators.logistics import (
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnFreightPreviewOperator,
)
preview = XportcnFreightPreviewOperator(
    task_id="freight_preview", receiver_address={RECEIVER!r}, render_items={LINES!r}
)
book = XportcnCreateInternationalLogisticsOrderOperator(
    task_id="book",
    render_id="{{{{ ti.xcom_pull(task_ids='freight_preview', key='render_id') }}}}",
    receiver_address={RECEIVER!r},
    line_items={LINES!r},
    on_unknown_outcome=ON_UNKNOWN,
    retries=1,
    retry_delay=dt.timedelta(seconds=0),
)
preview >> book
"""


def test_booking_with_a_lost_answer_fails_without_booking_twice(
    any_sandbox, airflow_db, monkeypatch, tmp_path
):
    """No endpoint reads a booking back: both tries fail with the tmallOrderId to check, one booking."""
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="intl_logistics_create")
    run = run_dag(
        monkeypatch, tmp_path / "bundle", "xp_ops_intl_lost", BOOKING_DAG.replace("ON_UNKNOWN", "'fail'")
    )
    assert run.state == "failed"
    assert try_numbers(run)["book"] == ("failed", 2)
    assert xportcn_sandbox.control.state()["logistics_orders"] == 1
    assert endpoints_called(xportcn_sandbox).count("intl_logistics_create") == 1


@pytest.mark.parametrize("dedupe", [True, False], ids=["dedupe", "no-dedupe"])
def test_booking_resend_is_only_as_safe_as_the_service(
    xportcn_sandbox, airflow_db, monkeypatch, tmp_path, dedupe
):
    """``on_unknown_outcome="resend"`` trusts the service: one booking if it deduplicates
    ``tmallOrderId``, two if it does not — which is why it is not the default."""
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.set_dedupe(dedupe)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="intl_logistics_create")
    run = run_dag(
        monkeypatch, tmp_path / "bundle", "xp_ops_intl_resend", BOOKING_DAG.replace("ON_UNKNOWN", "'resend'")
    )
    assert run.state == "success"
    assert xportcn_sandbox.control.state()["logistics_orders"] == (1 if dedupe else 2)


def test_freight_preview_then_booking(xportcn_sandbox, airflow_db, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    run = run_dag(
        monkeypatch, tmp_path / "bundle", "xp_ops_intl_logistics", BOOKING_DAG.replace("ON_UNKNOWN", "'fail'")
    )
    assert run.state == "success"
    assert try_numbers(run)["book"] == ("success", 1)
    assert xportcn_sandbox.control.state()["logistics_orders"] == 1
    pushed = xcoms(run)
    logistics_order_id = pushed["book"]["return_value"]
    assert (
        pushed["book"]["logistics_url"]
        == f"{CONSOLE_URL}/logistics/detail?logisticsOrderId={logistics_order_id}"
    )
    assert pushed["book"]["_link_XportcnLogisticsLink"] == pushed["book"]["logistics_url"]
    assert pushed["freight_preview"]["render_id"] == pushed["freight_preview"]["return_value"]["renderId"]
    assert pushed["freight_preview"]["cheapest_service_id"] == "XP-ECONOMY"
    assert endpoints_called(xportcn_sandbox).count("intl_logistics_create") == 1
    record = xportcn_sandbox.control.get("logistics", logistics_order_id)
    assert record["tmallOrderId"] == pushed["book"]["tmall_order_id"]


def test_booking_retry_from_the_store_sends_nothing(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    render_id = XportcnFreightPreviewOperator(
        task_id="fp", receiver_address=RECEIVER, render_items=LINES
    ).execute(make_context())["renderId"]
    context = make_context(FakeTI(), FakeStore())
    op = XportcnCreateInternationalLogisticsOrderOperator(
        task_id="book",
        render_id=render_id,
        receiver_address=RECEIVER,
        line_items=LINES,
        tmall_order_id="TM-1",
    )
    first = op.execute(context)
    xportcn_sandbox.control.clear_calls()
    assert op.execute(context) == first
    assert endpoints_called(xportcn_sandbox) == []


def test_booking_after_lost_answer_is_not_resent_within_the_try(any_sandbox, monkeypatch):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    render_id = XportcnFreightPreviewOperator(
        task_id="fp", receiver_address=RECEIVER, render_items=LINES
    ).execute(make_context())["renderId"]
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="intl_logistics_create")
    op = XportcnCreateInternationalLogisticsOrderOperator(
        task_id="book",
        render_id=render_id,
        receiver_address=RECEIVER,
        line_items=LINES,
        tmall_order_id="TM-2",
    )
    with pytest.raises(XportcnOutcomeUnknownError, match="tmallOrderId TM-2") as failure:
        op.execute(make_context())
    assert failure.value.key == {"tmallOrderId": "TM-2"}
    assert CONSOLE_URL in str(failure.value)
    assert xportcn_sandbox.control.state()["logistics_orders"] == 1
    assert endpoints_called(xportcn_sandbox).count("intl_logistics_create") == 1


def test_domestic_waybill_update(xportcn_sandbox, monkeypatch):
    use_sandbox(monkeypatch, xportcn_sandbox)
    order_id = xportcn_sandbox.control.seed_orders(1, status="waitsellersend")[0]
    infos = [
        {
            "lineItem": LINES[0],
            "logisticNumer": "YT100200300",
            "domesticLogisticInfo": [
                {"logisticNumer": "YT100200300", "logisticCompanyName": "圆通速递", "rtsTime": 1764057600}
            ],
        }
    ]
    ti = FakeTI()
    op = XportcnUpdateDomesticLogisticsOperator(task_id="d", order_id=order_id, logistic_infos=infos)
    assert op.execute(make_context(ti)) == order_id
    assert op.execute(make_context(ti)) == order_id  # an update may be sent again
    assert ti.xcom["tracking_numbers"] == ["YT100200300"]


def test_warehouse_dag_forecast_update_inbound_with_a_lost_forecast_answer(
    any_sandbox, airflow_db, monkeypatch, tmp_path
):
    xportcn_sandbox = any_sandbox
    use_sandbox(monkeypatch, xportcn_sandbox, max_retries=0)
    xportcn_sandbox.control.configure(auto_advance=False)
    xportcn_sandbox.control.inject("commit_then_drop", endpoint="package_forecast")
    run = run_dag(
        monkeypatch,
        tmp_path / "bundle",
        "xp_ops_wms",
        """
        from xportcn_provider.operators.wms import (
            XportcnForecastPackageOperator,
            XportcnPackageInboundOperator,
            XportcnUpdatePackageOperator,
        )
        forecast = XportcnForecastPackageOperator(
            task_id="forecast",
            out_order_id="PKG-{{ ds_nodash }}",
            logistics_tracking_number="YT555",
            alibaba_order_id="2618493058261900001",
            items=[{"offerId": "610947572360", "quantity": 2}],
            retries=1,
            retry_delay=dt.timedelta(seconds=0),
        )
        update = XportcnUpdatePackageOperator(
            task_id="update", out_order_id=forecast.output, items=[{"offerId": "610947572360", "quantity": 3}]
        )
        inbound = XportcnPackageInboundOperator(
            task_id="inbound",
            out_order_id=forecast.output,
            logistics_tracking_number="YT555",
            quality_inspection_info={
                "status": "PASSED", "weight": 1.5, "length": 30, "width": 20, "height": 10
            },
        )
        forecast >> update >> inbound
        """,
    )
    assert run.state == "success"
    assert try_numbers(run)["forecast"] == ("success", 1)  # the look-up settled the lost answer
    assert xportcn_sandbox.control.state()["packages"] == 1
    pushed = xcoms(run)
    out_order_id = pushed["forecast"]["return_value"]
    assert out_order_id.startswith("PKG-")
    assert pushed["inbound"]["package_status"] == "QC_PASSED"
    assert pushed["update"]["package_url"] == f"{CONSOLE_URL}/wms/package/detail?outOrderId={out_order_id}"
    assert pushed["inbound"]["_link_XportcnPackageLink"] == pushed["inbound"]["package_url"]
    record = xportcn_sandbox.control.get("package", out_order_id)
    assert record["items"] == [{"offerId": "610947572360", "quantity": 3}]
    assert record["status"] == "QC_PASSED"
    calls = endpoints_called(xportcn_sandbox)
    assert calls.count("package_forecast") == 1
