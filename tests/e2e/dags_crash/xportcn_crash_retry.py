"""Crash-and-retry DAG for ``tests/e2e/test_crash_retry.py``: four write tasks, each retried once.

``create_order`` → ``pay_order`` → ``order_detail`` → ``create_refund`` (refund only, on the order
just bought), and ``create_order`` → ``forecast_package`` → ``package_inbound`` (inspection passed)
→ ``create_international_logistics`` (booked for the package: ``tmallOrderId`` = the package's
``out_order_id`` = the order's ``out_order_id``; ``renderId`` from ``freight_preview``).

The test kills the task process of each write task (the three creates and the payment) while the
sandbox holds its answer (``commit_then_hang``), so the write reached the sandbox but the task never
learnt the result. Only those four tasks have ``retries=1``; any other failure fails the run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, XComArg

from xportcn_provider.operators.generic import XportcnApiOperator
from xportcn_provider.operators.logistics import (
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnFreightPreviewOperator,
)
from xportcn_provider.operators.orders import XportcnCreateOrderOperator, XportcnPayOrderOperator
from xportcn_provider.operators.refunds import XportcnCreateRefundOperator
from xportcn_provider.operators.wms import XportcnForecastPackageOperator, XportcnPackageInboundOperator

#: The create tasks: one retry, one second after the killed try.
RETRY_ONCE: dict[str, Any] = {"retries": 1, "retry_delay": timedelta(seconds=1)}

WAREHOUSE = {
    "fullName": "Xport Warehouse",
    "mobile": "13800000000",
    "provinceText": "浙江省",
    "cityText": "金华市",
    "areaText": "义乌市",
    "address": "Xport Warehouse, Gate 3",
}
OFFER_ID, SPEC_ID = "610000000001", "899fa7d32920ea4c73dd0385cf8c2244"
RECEIVER = {"name": "Jane Doe", "phone": "+1 555 0100", "address": "1 Main Street", "country": "US"}
LINE = {"itemId": OFFER_ID, "skuId": SPEC_ID, "quantity": 1}
ORDER_ITEMS = "ti.xcom_pull(task_ids='order_detail')['productItems']"

with DAG(
    dag_id="xportcn_crash_retry",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["e2e"],
    default_args={"xportcn_conn_id": "xportcn_default", "retries": 0},
):
    create_order = XportcnCreateOrderOperator(
        task_id="create_order",
        address_param=WAREHOUSE,
        cargo_param_list=[{"offerId": OFFER_ID, "specId": SPEC_ID, "quantity": 1}],
        **RETRY_ONCE,
    )
    order_id = create_order.output
    out_order_id = XComArg(create_order, key="out_order_id")

    pay_order = XportcnPayOrderOperator(task_id="pay_order", order_id=order_id, **RETRY_ONCE)
    order_detail = XportcnApiOperator(
        task_id="order_detail", endpoint="order_detail", payload={"orderId": order_id}
    )
    create_refund = XportcnCreateRefundOperator(
        task_id="create_refund",
        order_id=order_id,
        order_entry_ids=f"{{{{ {ORDER_ITEMS} | map(attribute='subItemID') | list }}}}",
        apply_payment=f"{{{{ {ORDER_ITEMS} | sum(attribute='itemAmount') }}}}",
        dispute_request="refund",
        goods_status="not_received",
        description="e2e crash-and-retry",
        **RETRY_ONCE,
    )

    forecast_package = XportcnForecastPackageOperator(
        task_id="forecast_package",
        out_order_id=out_order_id,
        alibaba_order_id=order_id,
        logistics_tracking_number="YT0000000001",
    )
    package_inbound = XportcnPackageInboundOperator(
        task_id="package_inbound",
        out_order_id=out_order_id,
        logistics_tracking_number="YT0000000001",
        alibaba_order_id=order_id,
        quality_inspection_info={"status": "PASSED", "weight": 1.2},
    )
    freight_preview = XportcnFreightPreviewOperator(
        task_id="freight_preview", receiver_address=RECEIVER, render_items=[LINE]
    )
    create_international_logistics = XportcnCreateInternationalLogisticsOrderOperator(
        task_id="create_international_logistics",
        render_id=XComArg(freight_preview, key="render_id"),
        receiver_address=RECEIVER,
        line_items=[{**LINE, "title": f"1688 offer {OFFER_ID}"}],
        tmall_order_id=out_order_id,
        **RETRY_ONCE,
    )

    create_order >> pay_order >> order_detail >> create_refund
    create_order >> forecast_package >> package_inbound >> create_international_logistics
    freight_preview >> create_international_logistics
