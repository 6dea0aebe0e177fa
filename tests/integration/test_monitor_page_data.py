"""The nav page's queries (``read_page_data``) on a migrated Airflow metadata DB (issue 18).

Rows are written the way Airflow stores them (task instances, rendered fields, the waits' recorded
last status in ``task_state_store``, push asset events); the page must then show, per wait, the
newer of the recorded and the pushed status, only for orders and refunds, only when the user may
read assets, never a stale message, and nothing of a DAG outside the readable set.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from xportcn_provider.api import monitoring as mon

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.fixture
def page_rows(airflow_db: Path) -> dict[str, str]:
    """Four sensor waits over two DAGs with their recorded statuses, two waiting operators, push
    events; returns the ids used."""
    tag = uuid.uuid4().hex[:8]
    ids = {
        "dag": f"page_data_{tag}",
        "hidden_dag": f"page_data_hidden_{tag}",
        "order": f"26{int(tag, 16):017d}",
        "refund": f"TQ{int(tag, 16)}",
        "conn": f"page_{tag}",
    }
    db = sqlite3.connect(airflow_db)
    db.execute("PRAGMA foreign_keys = OFF")  # no DAG files needed for the page's queries
    run_id = f"manual__{tag}"
    waits = [
        # (dag, task, operator, rendered fields)
        (ids["dag"], "wait_order", "XportcnOrderStatusSensor", {"order_id": ids["order"]}),
        (ids["dag"], "wait_refund", "XportcnRefundStatusSensor", {"refund_id": ids["refund"]}),
        (ids["dag"], "wait_shipped", "XportcnLogisticsStatusSensor", {"order_id": ids["order"]}),
        (ids["hidden_dag"], "wait_order", "XportcnOrderStatusSensor", {"order_id": ids["order"]}),
    ]
    for n, (dag_id, task_id, operator, fields) in enumerate(waits):
        db.execute(
            "INSERT INTO task_instance (id, task_id, dag_id, run_id, map_index, start_date, state,"
            " try_number, pool, pool_slots, operator) VALUES (?, ?, ?, ?, -1, ?, 'deferred', 1,"
            " 'default_pool', 1, ?)",
            (uuid.uuid4().hex, task_id, dag_id, run_id, _ts(T0), operator),
        )
        db.execute(
            "INSERT INTO rendered_task_instance_fields (dag_id, task_id, run_id, map_index,"
            " rendered_fields) VALUES (?, ?, ?, -1, ?)",
            (dag_id, task_id, run_id, json.dumps({"xportcn_conn_id": ids["conn"], **fields})),
        )
        recorded = mon.LastStatus("waitsellersend", T0 + timedelta(minutes=1), mon.VIA_BEFORE_DEFER)
        db.execute(
            'INSERT INTO task_state_store (dag_run_id, task_id, map_index, "key", dag_id, run_id,'
            " value, updated_at) VALUES (?, ?, -1, ?, ?, ?, ?, ?)",
            (
                int(tag, 16) * 10 + n,  # a dag_run id of its own per fixture
                task_id,
                mon.LAST_STATUS_KEY,
                dag_id,
                run_id,
                json.dumps(recorded.stored()),
                _ts(T0),
            ),
        )
    # Earlier, finished indexes of a mapped create_refund in the same run: their XComs are read
    # first by the database and must not crowd out the one in flight.
    for index in range(40):
        db.execute(
            'INSERT INTO xcom (dag_run_id, task_id, map_index, "key", dag_id, run_id, value, timestamp)'
            " VALUES (?, 'create_refund', ?, 'refund_id', ?, ?, ?, ?)",
            (int(tag, 16), index, ids["dag"], run_id, json.dumps(f"TQ-done-{index}"), _ts(T0)),
        )
    # Waiting operators: one deferred (waits on the refund it created, named by its XCom), one
    # still creating its order (running, nothing recorded yet: not a wait).
    for task_id, operator, state, xcoms in (
        (
            "create_refund",
            "XportcnCreateRefundOperator",
            "deferred",
            {"refund_id": ids["refund"] + "9", "order_id": ids["order"]},
        ),
        ("create_order", "XportcnCreateOrderOperator", "running", {"order_id": ids["order"]}),
    ):
        db.execute(
            "INSERT INTO task_instance (id, task_id, dag_id, run_id, map_index, start_date, state,"
            " try_number, pool, pool_slots, operator) VALUES (?, ?, ?, ?, -1, ?, ?, 1,"
            " 'default_pool', 1, ?)",
            (uuid.uuid4().hex, task_id, ids["dag"], run_id, _ts(T0), state, operator),
        )
        for key, value in xcoms.items():
            db.execute(
                'INSERT INTO xcom (dag_run_id, task_id, map_index, "key", dag_id, run_id, value, timestamp)'
                " VALUES (?, ?, -1, ?, ?, ?, ?, ?)",
                (int(tag, 16), task_id, key, ids["dag"], run_id, json.dumps(value), _ts(T0)),
            )
    events = [
        # (kind, extra, received at): a newer order message, an older refund message, a newer
        # but stale refund message
        ("orders", {"order_id": ids["order"], "status": "waitbuyerreceive"}, T0 + timedelta(minutes=5)),
        ("refunds", {"refund_id": ids["refund"], "status": "refundsuccess"}, T0),
        (
            "refunds",
            {"refund_id": ids["refund"], "status": "refundclose", "stale": True},
            T0 + timedelta(minutes=9),
        ),
    ]
    for kind, extra, at in events:
        uri = f"xportcn://{ids['conn']}/{kind}"
        asset_id = db.execute("SELECT id FROM asset WHERE uri = ?", (uri,)).fetchone()
        if asset_id is None:
            cursor = db.execute(
                'INSERT INTO asset (name, uri, "group", extra, created_at, updated_at)'
                " VALUES (?, ?, 'asset', '{}', ?, ?)",
                (uri, uri, _ts(T0), _ts(T0)),
            )
            asset_id = (cursor.lastrowid,)
        db.execute(
            "INSERT INTO asset_event (asset_id, extra, timestamp) VALUES (?, ?, ?)",
            (asset_id[0], json.dumps({"kind": kind, **extra}), _ts(at)),
        )
    db.commit()
    db.close()
    return ids


def _by_task(waits: list[mon.WaitRow], dag_id: str) -> dict[str, mon.WaitRow]:
    return {w.task_id: w for w in waits if w.dag_id == dag_id}


def test_each_wait_shows_the_newer_of_its_recorded_and_its_pushed_status(page_rows: dict[str, str]) -> None:
    from xportcn_provider.plugins.monitor import read_page_data

    waits, _created, messages, truncated = read_page_data({page_rows["dag"]}, may_read_assets=True)
    assert not truncated
    mine = _by_task(waits, page_rows["dag"])
    assert set(mine) == {"wait_order", "wait_refund", "wait_shipped", "create_refund"}
    created = mine["create_refund"]
    assert (created.kind, created.primary_id) == ("refund", ("refund_id", page_rows["refund"] + "9"))
    assert all(w.dag_id != page_rows["hidden_dag"] for w in waits)

    order = mine["wait_order"].last_status
    assert order is not None and (order.status, order.via) == ("waitbuyerreceive", mon.VIA_PUSH)
    assert order.seen_at == T0 + timedelta(minutes=5)
    # the pushed refund message is older than the check, and the newer one is stale
    refund = mine["wait_refund"].last_status
    assert refund is not None and (refund.status, refund.via) == ("waitsellersend", mon.VIA_BEFORE_DEFER)
    # a logistics wait on the same order keeps its own vocabulary: no order message applies
    shipped = mine["wait_shipped"].last_status
    assert shipped is not None and (shipped.status, shipped.via) == ("waitsellersend", mon.VIA_BEFORE_DEFER)
    assert messages is not None and any(m["object"] == page_rows["order"] for m in messages)


def test_without_asset_access_only_the_recorded_status_is_shown(page_rows: dict[str, str]) -> None:
    from xportcn_provider.plugins.monitor import read_page_data

    waits, _created, messages, _ = read_page_data({page_rows["dag"]}, may_read_assets=False)
    assert messages is None
    order = _by_task(waits, page_rows["dag"])["wait_order"].last_status
    assert order is not None and (order.status, order.via) == ("waitsellersend", mon.VIA_BEFORE_DEFER)
