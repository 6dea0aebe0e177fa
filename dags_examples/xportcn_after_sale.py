"""After-sale: open a return-and-refund on an order and see it through — or cancel it cleanly.

Trigger it with the order id (UI trigger form or ``airflow dags test xportcn_after_sale -c
'{"order_id": "..."}'``). If the seller does not answer within the wait timeout, or the return
is never confirmed, the refund is cancelled so nothing is left half-done.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, XComArg, task

from xportcn_provider.operators.generic import XportcnApiOperator
from xportcn_provider.operators.refunds import (
    XportcnCancelRefundOperator,
    XportcnCreateRefundOperator,
    XportcnRefundReasonsOperator,
    XportcnSubmitReturnLogisticsOperator,
    XportcnUploadRefundVoucherOperator,
)
from xportcn_provider.retry_policy import XPORTCN_RETRY_POLICY
from xportcn_provider.sensors.status import XportcnRefundStatusSensor

#: Seconds between status checks (60 s in production; the demo and tests set it lower).
POLL_SECONDS = float(os.environ.get("XPORTCN_EXAMPLE_POLL_SECONDS", "60"))
#: How long the seller may take to answer, and the return to be confirmed, before we cancel.
WAIT_SECONDS = float(os.environ.get("XPORTCN_EXAMPLE_REFUND_WAIT_SECONDS", str(3 * 24 * 3600)))
#: An Airflow pool capping concurrent Xportcn calls across the whole cluster (README, "Running at
#: scale"); unset = Airflow's default pool. Deferred waits hold no pool slot.
POOL = os.environ.get("XPORTCN_EXAMPLE_POOL") or None

#: A 1x1 PNG standing in for the photo of the damaged goods (use ``file_path=`` or ``url=``).
PLACEHOLDER_VOUCHER_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)

#: Jinja for the order's lines, as read by the ``order_detail`` task.
ORDER_ITEMS = "ti.xcom_pull(task_ids='order_detail')['productItems']"

DOC_MD = """
### Xportcn after-sale (return and refund)

`order_detail` → `refund_reasons` → `upload_voucher` → `create_refund` (reuses an open refund on
the same order lines instead of opening a second one) → `wait_for_seller` (deferrable) →
`seller_decision`:

* seller asks for the goods back (`waitbuyersend`) → `submit_return_logistics` →
  `wait_until_refunded` (deferrable, `refundsuccess`);
* seller refunds straight away (`refundsuccess`) → `refunded`.

`cancel_refund` runs only when a wait fails or times out (`trigger_rule="one_failed"`); cancelling
a refund that is already closed counts as success.
"""

with DAG(
    dag_id="xportcn_after_sale",
    description="Return-and-refund with a voucher, return logistics and a clean cancel on timeout",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["xportcn", "example", "after-sale"],
    default_args={
        "xportcn_conn_id": "xportcn_default",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "retry_policy": XPORTCN_RETRY_POLICY,
        "pool": POOL,
    },
    params={
        "order_id": Param(type="string", minLength=1, title="Xportcn order id to refund"),
        "goods_status": Param("received", enum=["received", "not_received"], title="Goods status"),
        "description": Param("Goods arrived damaged", type="string", title="Refund description"),
        "logistics_company_no": Param("SF", type="string", title="Return carrier code"),
        "freight_bill": Param("SF1234567890", type="string", title="Return tracking number"),
    },
) as dag:
    order_detail = XportcnApiOperator(
        task_id="order_detail",
        endpoint="order_detail",
        payload={"orderId": "{{ params.order_id }}"},
    )

    refund_reasons = XportcnRefundReasonsOperator(
        task_id="refund_reasons",
        order_id="{{ params.order_id }}",
        goods_status="{{ params.goods_status }}",
    )

    upload_voucher = XportcnUploadRefundVoucherOperator(
        task_id="upload_voucher",
        content=PLACEHOLDER_VOUCHER_PNG,
        file_name="damaged-goods.png",
    )

    create_refund = XportcnCreateRefundOperator(
        task_id="create_refund",
        order_id="{{ params.order_id }}",
        order_entry_ids=f"{{{{ {ORDER_ITEMS} | map(attribute='subItemID') | list }}}}",
        apply_payment=f"{{{{ {ORDER_ITEMS} | sum(attribute='itemAmount') }}}}",
        apply_reason_id="{{ ti.xcom_pull(task_ids='refund_reasons')[0]['id'] }}",
        dispute_request="returnRefund",
        goods_status="{{ params.goods_status }}",
        description="{{ params.description }}",
        vouchers=[XComArg(upload_voucher)],
    )
    refund_id = create_refund.output

    wait_for_seller = XportcnRefundStatusSensor(
        task_id="wait_for_seller",
        refund_id=refund_id,
        target_statuses=["refundsuccess", "waitbuyersend"],
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=WAIT_SECONDS,
    )

    @task.branch(task_id="seller_decision")
    def seller_decision(refund: dict[str, Any]) -> list[str]:
        """The seller either wants the goods back first, or has refunded already."""
        if refund.get("status") == "waitbuyersend":
            return ["submit_return_logistics", "refunded"]  # `refunded` then waits for the return
        return ["refunded"]

    submit_return_logistics = XportcnSubmitReturnLogisticsOperator(
        task_id="submit_return_logistics",
        refund_id=refund_id,
        logistics_company_no="{{ params.logistics_company_no }}",
        freight_bill="{{ params.freight_bill }}",
        description="Returned via {{ params.logistics_company_no }}",
    )

    wait_until_refunded = XportcnRefundStatusSensor(
        task_id="wait_until_refunded",
        refund_id=refund_id,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=WAIT_SECONDS,
    )

    @task(task_id="refunded", trigger_rule="none_failed_min_one_success")
    def refunded(refund_id: str) -> str:
        """Single place downstream jobs can wait on: the refund is settled."""
        return refund_id

    cancel_refund = XportcnCancelRefundOperator(
        task_id="cancel_refund",
        refund_id=refund_id,
        trigger_rule="one_failed",
    )

    decision = seller_decision(wait_for_seller.output)
    done = refunded(refund_id)
    [order_detail, refund_reasons, upload_voucher] >> create_refund >> wait_for_seller >> decision
    decision >> submit_return_logistics >> wait_until_refunded >> done
    decision >> done
    [wait_for_seller, wait_until_refunded] >> cancel_refund
