"""Buy on 1688, receive and inspect in the Xport warehouse, ship abroad — or refund on a failed QC.

Copy this file into your DAGs folder, create the ``xportcn_default`` connection (README,
"Connection"), and trigger it from the UI: the trigger form shows every ``Param`` below.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, XComArg, task

from xportcn_provider.operators.logistics import (
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnFreightPreviewOperator,
)
from xportcn_provider.operators.orders import (
    XportcnCreateOrderOperator,
    XportcnPayOrderOperator,
    XportcnPreviewOrderOperator,
)
from xportcn_provider.operators.refunds import XportcnCreateRefundOperator
from xportcn_provider.operators.wms import XportcnForecastPackageOperator
from xportcn_provider.retry_policy import XPORTCN_RETRY_POLICY
from xportcn_provider.sensors.status import XportcnLogisticsStatusSensor, XportcnPackageStatusSensor

#: Seconds between status checks. 60 s suits production; the demo and tests set it lower.
POLL_SECONDS = float(os.environ.get("XPORTCN_EXAMPLE_POLL_SECONDS", "60"))
#: An Airflow pool capping concurrent Xportcn calls across the whole cluster (README, "Running at
#: scale"); unset = Airflow's default pool. Deferred waits hold no pool slot.
POOL = os.environ.get("XPORTCN_EXAMPLE_POOL") or None
#: Runs of this DAG at once (raise it with the pool and the workers).
MAX_ACTIVE_RUNS = int(os.environ.get("XPORTCN_EXAMPLE_MAX_ACTIVE_RUNS", "4"))

#: Where 1688 sellers ship to: the Xport warehouse in China (your account's warehouse address).
WAREHOUSE_ADDRESS = {
    "fullName": "Xport Warehouse",
    "mobile": "13800000000",
    "provinceText": "浙江省",
    "cityText": "金华市",
    "areaText": "义乌市",
    "address": "Xport Warehouse, Gate 3",
    "postCode": "322000",
}

DEFAULT_RECEIVER = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+1 555 0100",
    "mobilePhone": "+1 555 0100",
    "address": "1 Main Street",
    "country": "US",
    "city": "Springfield",
    "state": "IL",
    "zip": "62701",
}

DOC_MD = """
### Xportcn fulfilment

`preview_order` → `create_order` (idempotent: a retry never buys twice; refuses above
`max_total_fen`) → `pay_order` → `wait_until_shipped` (deferrable: no worker slot while the seller
ships) → `forecast_package` (tells the warehouse the domestic tracking number) →
`wait_until_inspected` (deferrable) → `qc_branch`:

* **QC passed** → `freight_preview` → `create_international_logistics` (keyed by the order's
  `out_order_id`, so a retry never books twice);
* **QC failed** → `refund_failed_qc` (return-and-refund of the whole order; reuses an open refund).

Every task pushes its ids to XCom; the order, package and logistics tasks show an *Xportcn*
link to the console.
"""

with DAG(
    dag_id="xportcn_fulfilment",
    description="1688 order → Xport warehouse QC → international shipment (refund on failed QC)",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=MAX_ACTIVE_RUNS,
    render_template_as_native_obj=True,
    tags=["xportcn", "example", "fulfilment"],
    default_args={
        "xportcn_conn_id": "xportcn_default",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "retry_policy": XPORTCN_RETRY_POLICY,
        "pool": POOL,
    },
    params={
        "offer_id": Param("610000000001", type="string", title="1688 offer id"),
        "spec_id": Param("899fa7d32920ea4c73dd0385cf8c2244", type="string", title="1688 spec (SKU) id"),
        "quantity": Param(2, type="integer", minimum=1, title="Quantity"),
        "max_total_fen": Param(
            500_000, type="integer", minimum=1, title="Budget (fen)", description="Refuse to buy above this."
        ),
        "receiver": Param(DEFAULT_RECEIVER, type="object", title="Receiver abroad"),
    },
) as dag:
    cargo = [
        {
            "offerId": "{{ params.offer_id }}",
            "specId": "{{ params.spec_id }}",
            "quantity": "{{ params.quantity }}",
        }
    ]

    preview_order = XportcnPreviewOrderOperator(
        task_id="preview_order",
        address_param=WAREHOUSE_ADDRESS,
        cargo_param_list=cargo,
    )

    create_order = XportcnCreateOrderOperator(
        task_id="create_order",
        address_param=WAREHOUSE_ADDRESS,
        cargo_param_list=cargo,
        max_total_fen="{{ params.max_total_fen }}",
        message="Ship to Xport warehouse",
    )
    order_id = create_order.output
    out_order_id = XComArg(create_order, key="out_order_id")

    pay_order = XportcnPayOrderOperator(task_id="pay_order", order_id=order_id)

    wait_until_shipped = XportcnLogisticsStatusSensor(
        task_id="wait_until_shipped",
        leg="domestic",
        order_id=order_id,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=timedelta(days=7),
    )

    forecast_package = XportcnForecastPackageOperator(
        task_id="forecast_package",
        out_order_id=out_order_id,
        alibaba_order_id=order_id,
        logistics_tracking_number="{{ ti.xcom_pull(task_ids='wait_until_shipped')['trackingNumber'] }}",
    )

    wait_until_inspected = XportcnPackageStatusSensor(
        task_id="wait_until_inspected",
        out_order_id=out_order_id,
        target_statuses=["inspected"],
        failure_statuses=[],
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=timedelta(days=14),
    )

    @task.branch(task_id="qc_branch")
    def qc_branch(package: dict[str, Any]) -> str:
        """Route on the warehouse's quality inspection."""
        return "freight_preview" if package.get("status") == "QC_PASSED" else "order_lines"

    freight_preview = XportcnFreightPreviewOperator(
        task_id="freight_preview",
        receiver_address="{{ params.receiver }}",
        render_items=[
            {
                "itemId": "{{ params.offer_id }}",
                "skuId": "{{ params.spec_id }}",
                "quantity": "{{ params.quantity }}",
            }
        ],
    )

    create_international_logistics = XportcnCreateInternationalLogisticsOrderOperator(
        task_id="create_international_logistics",
        render_id=XComArg(freight_preview, key="render_id"),
        receiver_address="{{ params.receiver }}",
        line_items=[
            {
                "itemId": "{{ params.offer_id }}",
                "skuId": "{{ params.spec_id }}",
                "quantity": "{{ params.quantity }}",
                "title": "1688 offer {{ params.offer_id }}",
                "freightInfo": {
                    "serviceId": "{{ ti.xcom_pull(task_ids='freight_preview', key='cheapest_service_id') }}"
                },
            }
        ],
        tmall_order_id=out_order_id,
    )

    @task(task_id="order_lines")
    def order_lines(order: str) -> dict[str, Any]:
        """Sub-order ids and paid amount of the order, for a whole-order refund."""
        from xportcn_provider.hooks.xportcn import XportcnHook

        detail = XportcnHook().order_detail(order_id=order)
        items = detail.get("productItems") or []
        return {
            "order_entry_ids": [str(item["subItemID"]) for item in items],
            "apply_payment": sum(int(item.get("itemAmount") or 0) for item in items) or 1,
        }

    lines = order_lines(order_id)

    refund_failed_qc = XportcnCreateRefundOperator(
        task_id="refund_failed_qc",
        order_id=order_id,
        order_entry_ids="{{ ti.xcom_pull(task_ids='order_lines')['order_entry_ids'] }}",
        apply_payment="{{ ti.xcom_pull(task_ids='order_lines')['apply_payment'] }}",
        dispute_request="returnRefund",
        goods_status="received",
        description="Failed quality inspection in the Xport warehouse",
    )

    branch = qc_branch(wait_until_inspected.output)
    (
        preview_order
        >> create_order
        >> pay_order
        >> wait_until_shipped
        >> forecast_package
        >> wait_until_inspected
    )
    branch >> freight_preview >> create_international_logistics
    branch >> lines >> refund_failed_qc
