"""Anchor for ``bench/parse_cost.py``: ``dags_examples/xportcn_fulfilment.py`` written with the HTTP provider.

Same DAG arguments, params, task ids and dependencies; each Xportcn operator becomes an
``HttpOperator`` (JSON body, ``response_filter`` to the envelope's ``data``) and each sensor an
``HttpSensor`` with a ``response_check`` on the status. Signing is left out (a user would need a
custom ``auth_type``), which only makes this file cheaper to parse. Not meant to run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor
from airflow.sdk import DAG, Param, task

POLL_SECONDS = float(os.environ.get("XPORTCN_EXAMPLE_POLL_SECONDS", "60"))

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

JSON_HEADERS = {"Content-Type": "application/json"}


def envelope_data(response: Any) -> Any:
    return response.json()["data"]


def envelope_ok(response: Any) -> bool:
    return response.json().get("code") == 200


with DAG(
    dag_id="http_fulfilment",
    description="1688 order → Xport warehouse QC → international shipment (refund on failed QC)",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    render_template_as_native_obj=True,
    tags=["xportcn", "anchor", "fulfilment"],
    default_args={
        "http_conn_id": "xportcn_http",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
    },
    params={
        "offer_id": Param("610000000001", type="string", title="1688 offer id"),
        "spec_id": Param("899fa7d32920ea4c73dd0385cf8c2244", type="string", title="1688 spec (SKU) id"),
        "quantity": Param(2, type="integer", minimum=1, title="Quantity"),
        "max_total_fen": Param(500_000, type="integer", minimum=1, title="Budget (fen)"),
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

    preview_order = HttpOperator(
        task_id="preview_order",
        endpoint="alibaba/ka/order/create/preview",
        data=json.dumps({"addressParam": WAREHOUSE_ADDRESS, "cargoParamList": cargo}),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    create_order = HttpOperator(
        task_id="create_order",
        endpoint="alibaba/ka/order/create",
        data=json.dumps(
            {
                "outOrderId": "{{ dag.dag_id }}-{{ run_id }}",
                "addressParam": WAREHOUSE_ADDRESS,
                "cargoParamList": cargo,
                "message": "Ship to Xport warehouse",
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=lambda response: envelope_data(response)["orderId"],
    )
    order_id = create_order.output

    pay_order = HttpOperator(
        task_id="pay_order",
        endpoint="alibaba/ka/order/pay",
        data='{"orderId": "{{ ti.xcom_pull(task_ids=\'create_order\') }}"}',
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    wait_until_shipped = HttpSensor(
        task_id="wait_until_shipped",
        endpoint="alibaba/ka/order/logistics",
        method="POST",
        request_params={"orderId": "{{ ti.xcom_pull(task_ids='create_order') }}"},
        headers=JSON_HEADERS,
        response_check=lambda response: bool(envelope_data(response).get("trackingNumber")),
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=timedelta(days=7).total_seconds(),
    )

    forecast_package = HttpOperator(
        task_id="forecast_package",
        endpoint="wms/package/forecast",
        data=json.dumps(
            {
                "out_order_id": "{{ dag.dag_id }}-{{ run_id }}",
                "alibaba_order_id": "{{ ti.xcom_pull(task_ids='create_order') }}",
                "logistics_tracking_number": "{{ ti.xcom_pull(task_ids='wait_until_shipped') }}",
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    wait_until_inspected = HttpSensor(
        task_id="wait_until_inspected",
        endpoint="wms/package/detail",
        method="POST",
        request_params={"out_order_id": "{{ dag.dag_id }}-{{ run_id }}"},
        headers=JSON_HEADERS,
        response_check=lambda response: envelope_data(response).get("status") in ("QC_PASSED", "QC_FAILED"),
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=timedelta(days=14).total_seconds(),
    )

    @task.branch(task_id="qc_branch")
    def qc_branch(package: dict[str, Any]) -> str:
        return "freight_preview" if package.get("status") == "QC_PASSED" else "order_lines"

    freight_preview = HttpOperator(
        task_id="freight_preview",
        endpoint="open/pp/logistics/orderRenderFreight",
        data=json.dumps(
            {
                "receiverAddress": "{{ params.receiver }}",
                "renderItems": [
                    {
                        "itemId": "{{ params.offer_id }}",
                        "skuId": "{{ params.spec_id }}",
                        "quantity": "{{ params.quantity }}",
                    }
                ],
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    create_international_logistics = HttpOperator(
        task_id="create_international_logistics",
        endpoint="open/pp/logistics/orderBookingFreight",
        data=json.dumps(
            {
                "renderId": "{{ ti.xcom_pull(task_ids='freight_preview')['renderId'] }}",
                "receiverAddress": "{{ params.receiver }}",
                "lineItems": [
                    {
                        "itemId": "{{ params.offer_id }}",
                        "skuId": "{{ params.spec_id }}",
                        "quantity": "{{ params.quantity }}",
                        "title": "1688 offer {{ params.offer_id }}",
                    }
                ],
                "tmallOrderInfo": {"tmallOrderId": "{{ dag.dag_id }}-{{ run_id }}"},
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    @task(task_id="order_lines")
    def order_lines(order: str) -> dict[str, Any]:
        from airflow.providers.http.hooks.http import HttpHook

        response = HttpHook(method="POST", http_conn_id="xportcn_http").run(
            "alibaba/ka/order/detail", data=json.dumps({"orderId": order}), headers=JSON_HEADERS
        )
        items = envelope_data(response).get("productItems") or []
        return {
            "order_entry_ids": [str(item["subItemID"]) for item in items],
            "apply_payment": sum(int(item.get("itemAmount") or 0) for item in items) or 1,
        }

    lines = order_lines(order_id)

    refund_failed_qc = HttpOperator(
        task_id="refund_failed_qc",
        endpoint="alibaba/ka/refund/create",
        data=json.dumps(
            {
                "orderId": "{{ ti.xcom_pull(task_ids='create_order') }}",
                "orderEntryIds": "{{ ti.xcom_pull(task_ids='order_lines')['order_entry_ids'] }}",
                "applyPayment": "{{ ti.xcom_pull(task_ids='order_lines')['apply_payment'] }}",
                "disputeRequest": "returnRefund",
                "goodsStatus": "received",
                "description": "Failed quality inspection in the Xport warehouse",
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
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
