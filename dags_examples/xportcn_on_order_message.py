"""Event-driven: runs whenever Xport pushes an order or refund message (no polling).

Scheduled on the assets the provider's push receiver updates (``xportcn://xportcn_default/orders``
and ``.../refunds``, see the README's "Push messages"). Each run journals the messages that
triggered it into a day's JSON Lines file (deduplicated by ``message_key``), then, for a
cancellation or a refund message, reads the order or refund's current state with the hook and
logs how it compares with what was pushed. Stale messages (older than one already recorded for
the same object) are journalled but never acted on.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from xportcn_provider.assets import order_messages, refund_messages
from xportcn_provider.retry_policy import XPORTCN_RETRY_POLICY

log = logging.getLogger(__name__)

DOC_MD = """
### Xportcn: on order message

Triggered by **asset events** from the Xportcn push receiver (`POST /xportcn/push/<conn id>/<token>`
on the api-server): one event per distinct pushed message, on `xportcn://xportcn_default/orders`
or `xportcn://xportcn_default/refunds`.

* `journal_messages` appends the triggering messages to
  `<output_dir>/messages/dt=<day>.jsonl` (param `output_dir`, default `$AIRFLOW_HOME/xportcn_messages`),
  skipping any `message_key` already in the file; it returns the counts and the follow-ups.
* `check_current_state` reads each cancelled order / refunded object once with the hook and logs
  `pushed <status>, now <status>`; it never acts on a stale message.
"""

with DAG(
    dag_id="xportcn_on_order_message",
    description="Xportcn push messages → a daily JSON Lines journal; cancellations and refunds checked",
    doc_md=DOC_MD,
    schedule=order_messages() | refund_messages(),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["xportcn", "example", "push"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_policy": XPORTCN_RETRY_POLICY,
    },
    params={
        "output_dir": Param(
            "", type="string", title="Journal folder (empty: $AIRFLOW_HOME/xportcn_messages)"
        ),
    },
) as dag:

    @task(task_id="journal_messages")
    def journal_messages(
        triggering_asset_events: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append the triggering messages to their day's journal; return counts and follow-ups."""
        from xportcn_provider.message_journal import append_messages

        messages = [
            dict(event.extra or {}) for events in (triggering_asset_events or {}).values() for event in events
        ]
        root = (params or {}).get("output_dir") or os.path.join(
            os.environ.get("AIRFLOW_HOME", "."), "xportcn_messages"
        )
        summary = append_messages(root, messages)
        log.info(
            "Journalled %d message(s) (%d already there, %d stale) into %s",
            summary["appended"],
            summary["duplicates"],
            summary["stale"],
            ", ".join(summary["files"]) or "-",
        )
        return summary

    @task(task_id="check_current_state")
    def check_current_state(summary: dict[str, Any]) -> list[dict[str, Any]]:
        """For each follow-up, read the order or refund now and log what changed since the push."""
        from xportcn_provider.hooks.xportcn import XportcnHook

        hook = XportcnHook(xportcn_conn_id="xportcn_default")
        checked = []
        for item in summary["follow_up"]:
            if item["platform"] != "1688":
                log.info(
                    "Taobao %s %s: pushed %s (no detail read for Taobao)",
                    item["kind"],
                    item["order_id"],
                    item["status"],
                )
                continue
            if item["kind"] == "refunds" and item.get("refund_id"):
                record = hook.refund_detail(refund_id=item["refund_id"])
                what = f"refund {item['refund_id']}"
            else:
                record = hook.order_detail(order_id=item["order_id"])
                what = f"order {item['order_id']}"
            now = record.get("status") if isinstance(record, dict) else None
            change = (
                "unchanged" if str(now).lower() == str(item["status"]).lower() else "changed since the push"
            )
            log.info("Xportcn %s: pushed %s, now %s (%s)", what, item["status"], now, change)
            checked.append({**item, "current_status": now})
        return checked

    check_current_state(journal_messages())
