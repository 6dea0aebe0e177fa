"""Anchor for ``bench/parse_cost.py``: ``dags_examples/xportcn_after_sale.py`` written with the HTTP provider.

Same DAG arguments, params, task ids and dependencies; operators become ``HttpOperator`` and the
refund sensors ``HttpSensor`` with a ``response_check`` on the refund status. Not meant to run.
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
WAIT_SECONDS = float(os.environ.get("XPORTCN_EXAMPLE_REFUND_WAIT_SECONDS", str(3 * 24 * 3600)))

PLACEHOLDER_VOUCHER_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
JSON_HEADERS = {"Content-Type": "application/json"}


def envelope_data(response: Any) -> Any:
    return response.json()["data"]


def envelope_ok(response: Any) -> bool:
    return response.json().get("code") == 200


def refund_status_in(*statuses: str) -> Any:
    def check(response: Any) -> bool:
        return envelope_data(response).get("status") in statuses

    return check


with DAG(
    dag_id="http_after_sale",
    description="Return-and-refund with a voucher, return logistics and a clean cancel on timeout",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["xportcn", "anchor", "after-sale"],
    default_args={
        "http_conn_id": "xportcn_http",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
    },
    params={
        "order_id": Param(type="string", minLength=1, title="Xportcn order id to refund"),
        "goods_status": Param("received", enum=["received", "not_received"], title="Goods status"),
        "description": Param("Goods arrived damaged", type="string", title="Refund description"),
        "logistics_company_no": Param("SF", type="string", title="Return carrier code"),
        "freight_bill": Param("SF1234567890", type="string", title="Return tracking number"),
    },
) as dag:
    order_detail = HttpOperator(
        task_id="order_detail",
        endpoint="alibaba/ka/order/detail",
        data='{"orderId": "{{ params.order_id }}"}',
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    refund_reasons = HttpOperator(
        task_id="refund_reasons",
        endpoint="alibaba/ka/refund/reasons",
        data='{"orderId": "{{ params.order_id }}", "goodsStatus": "{{ params.goods_status }}"}',
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=envelope_data,
    )

    upload_voucher = HttpOperator(
        task_id="upload_voucher",
        endpoint="alibaba/ka/refund/voucher/upload",
        data=json.dumps({"imageBase64": PLACEHOLDER_VOUCHER_PNG, "fileName": "damaged-goods.png"}),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=lambda response: envelope_data(response)["url"],
    )

    create_refund = HttpOperator(
        task_id="create_refund",
        endpoint="alibaba/ka/refund/create",
        data=json.dumps(
            {
                "orderId": "{{ params.order_id }}",
                "orderEntryIds": "{{ ti.xcom_pull(task_ids='order_detail')['productItems'] "
                "| map(attribute='subItemID') | list }}",
                "applyPayment": "{{ ti.xcom_pull(task_ids='order_detail')['productItems'] "
                "| sum(attribute='itemAmount') }}",
                "applyReasonId": "{{ ti.xcom_pull(task_ids='refund_reasons')[0]['id'] }}",
                "disputeRequest": "returnRefund",
                "goodsStatus": "{{ params.goods_status }}",
                "description": "{{ params.description }}",
                "vouchers": ["{{ ti.xcom_pull(task_ids='upload_voucher') }}"],
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        response_filter=lambda response: envelope_data(response)["refundId"],
    )

    wait_for_seller = HttpSensor(
        task_id="wait_for_seller",
        endpoint="alibaba/ka/refund/detail",
        method="POST",
        request_params={"refundId": "{{ ti.xcom_pull(task_ids='create_refund') }}"},
        headers=JSON_HEADERS,
        response_check=refund_status_in("refundsuccess", "waitbuyersend"),
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=WAIT_SECONDS,
    )

    @task.branch(task_id="seller_decision")
    def seller_decision(refund: dict[str, Any]) -> list[str]:
        if refund.get("status") == "waitbuyersend":
            return ["submit_return_logistics", "refunded"]
        return ["refunded"]

    submit_return_logistics = HttpOperator(
        task_id="submit_return_logistics",
        endpoint="alibaba/ka/refund/goods/return",
        data=json.dumps(
            {
                "refundId": "{{ ti.xcom_pull(task_ids='create_refund') }}",
                "logisticsCompanyNo": "{{ params.logistics_company_no }}",
                "freightBill": "{{ params.freight_bill }}",
                "description": "Returned via {{ params.logistics_company_no }}",
            }
        ),
        headers=JSON_HEADERS,
        response_check=envelope_ok,
    )

    wait_until_refunded = HttpSensor(
        task_id="wait_until_refunded",
        endpoint="alibaba/ka/refund/detail",
        method="POST",
        request_params={"refundId": "{{ ti.xcom_pull(task_ids='create_refund') }}"},
        headers=JSON_HEADERS,
        response_check=refund_status_in("refundsuccess"),
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=WAIT_SECONDS,
    )

    @task(task_id="refunded", trigger_rule="none_failed_min_one_success")
    def refunded(refund_id: str) -> str:
        return refund_id

    cancel_refund = HttpOperator(
        task_id="cancel_refund",
        endpoint="alibaba/ka/refund/cancel",
        data='{"refundId": "{{ ti.xcom_pull(task_ids=\'create_refund\') }}"}',
        headers=JSON_HEADERS,
        response_check=envelope_ok,
        trigger_rule="one_failed",
    )

    decision = seller_decision(wait_for_seller.output)
    done = refunded(create_refund.output)
    [order_detail, refund_reasons, upload_voucher] >> create_refund >> wait_for_seller >> decision
    decision >> submit_return_logistics >> wait_until_refunded >> done
    decision >> done
    [wait_for_seller, wait_until_refunded] >> cancel_refund
