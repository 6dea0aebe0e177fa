"""The receiver's adapter into Airflow (``plugins/recorder.py``) on a real, migrated metadata DB.

The end-to-end proof through a real api-server is ``tests/e2e/test_push_real_airflow.py``; this
one pins the rules that are slow to provoke there: many concurrent deliveries of one message,
the redelivery window's bounds, and a message for an asset no DAG declares.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xportcn_provider.api.messages import DEDUPE_WINDOW_SECONDS, RECEIPT_RETENTION_SECONDS, parse_push_message
from xportcn_provider.plugins import recorder

NOW_MS = 1_796_178_905_973


def message(order_id: str, sent_at_ms: int, message_type: str = "ORDER_CREATE") -> Any:
    body = {"orderId": order_id, "orderStatus": "WAITING_FOR_PAYMENT"}
    return parse_push_message(
        {
            "messageType": message_type,
            "messageBody": json.dumps(body),
            "messagePlatform": 1,
            "timestamp": str(sent_at_ms),
        }
    )


@pytest.fixture
def conn_id(airflow_db: Path) -> Iterator[str]:
    """A fresh connection id whose orders asset exists (as if a DAG had declared it)."""
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.utils.session import create_session

    conn_id = f"rec_{time.monotonic_ns()}"
    uri = f"xportcn://{conn_id}/orders"
    with create_session() as session:
        session.add(AssetModel(name=uri, uri=uri, group="xportcn"))
        session.add(AssetActive(name=uri, uri=uri))
    yield conn_id


def events(conn_id: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            sa.select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == f"xportcn://{conn_id}/orders")
            .order_by(AssetEvent.id)
        ).all()
        return [dict(row.extra) for row in rows]


def test_one_event_per_message_even_with_eight_racing_deliveries(conn_id: str) -> None:
    msg = message("1", NOW_MS)
    results: list[recorder.Recorded] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        results.append(recorder.record_push(conn_id, msg))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.duplicate for r in results) == [False] + [True] * 7
    [event] = events(conn_id)
    assert event["message_key"] == msg.message_key and event["stale"] is False


def test_stale_and_window(conn_id: str) -> None:
    import sqlalchemy as sa
    from airflow.utils.session import create_session

    newer, older = message("2", NOW_MS + 10), message("2", NOW_MS, "ORDER_PAY_SUCCESS")
    assert not recorder.record_push(conn_id, newer).stale
    assert recorder.record_push(conn_id, older).stale  # recorded, marked
    assert recorder.record_push(conn_id, message("3", NOW_MS)).stale is False  # another object
    assert [e["stale"] for e in events(conn_id)] == [False, True, False]

    # A receipt just inside the 3-hour window still stops a redelivery, even when pruning runs.
    with create_session() as session:
        session.execute(
            sa.update(recorder.RECEIPTS)
            .where(recorder.RECEIPTS.c.conn_id == conn_id)
            .values(received_at=time.time() - DEDUPE_WINDOW_SECONDS - 60)
        )
    recorder._last_prune = 0.0
    assert recorder.record_push(conn_id, newer).duplicate
    assert (
        recorder.record_push(conn_id, message("4", NOW_MS)).duplicate is False
    )  # prunes: nothing old enough

    # Past retention (24 h, far beyond Xport's 2.5 h of retries) receipts are pruned.
    with create_session() as session:
        session.execute(
            sa.update(recorder.RECEIPTS)
            .where(recorder.RECEIPTS.c.conn_id == conn_id)
            .values(received_at=time.time() - RECEIPT_RETENTION_SECONDS - 60)
        )
    recorder._last_prune = 0.0
    recorder.record_push(conn_id, message("5", NOW_MS))
    with create_session() as session:
        left = session.scalar(
            sa.select(sa.func.count())
            .select_from(recorder.RECEIPTS)
            .where(recorder.RECEIPTS.c.conn_id == conn_id)
        )
    assert left == 1  # only the receipt written just now


def test_an_asset_no_dag_declares_gets_a_receipt_but_no_event(airflow_db: Path) -> None:
    result = recorder.record_push("nobody_uses_this", message("9", NOW_MS))
    assert (result.duplicate, result.asset_event_id) == (False, None)
    assert recorder.record_push("nobody_uses_this", message("9", NOW_MS)).duplicate


def test_connection_tokens(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "p" * 40

    def conn(conn_type: str = "xportcn", **extra: Any) -> str:
        return json.dumps(
            {"conn_type": conn_type, "login": "k", "password": "s", "extra": {"user_id": "1", **extra}}
        )

    monkeypatch.setenv("AIRFLOW_CONN_REC_OK", conn(push_token=token))
    monkeypatch.setenv("AIRFLOW_CONN_REC_SHORT", conn(push_token="p" * 31))
    monkeypatch.setenv("AIRFLOW_CONN_REC_NONE", conn())
    monkeypatch.setenv("AIRFLOW_CONN_REC_HTTP", conn("http", push_token=token))
    assert recorder.connection_push_token("rec_ok") == token
    for conn_id in ("rec_short", "rec_none", "rec_http", "rec_missing"):
        assert recorder.connection_push_token(conn_id) is None, conn_id
