"""Declares the pushed-orders asset for ``bench/push_latency.py`` (Airflow only records events on
assets a parsed DAG references). The benchmark keeps it paused so task runs don't compete with
the api-server for the two cores; the receiver's work per push is the same either way."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from xportcn_provider.assets import order_messages

with DAG(
    dag_id="push_latency_consumer",
    schedule=order_messages(),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    is_paused_upon_creation=True,
):

    @task
    def count(triggering_asset_events=None) -> int:  # type: ignore[no-untyped-def]
        return sum(len(events) for events in (triggering_asset_events or {}).values())

    count()
