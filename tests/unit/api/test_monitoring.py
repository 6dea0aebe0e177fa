"""What the monitoring pages make of Airflow's rows (``xportcn_provider.api.monitoring``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from xportcn_provider.api import monitoring as mon

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def wait(
    task_id: str, operator: str, hours: float | None, dag_id: str = "d", **rendered: object
) -> mon.WaitRow:
    row = mon.describe_wait(
        dag_id=dag_id,
        run_id="r",
        task_id=task_id,
        map_index=-1,
        state="deferred",
        operator=operator,
        rendered=rendered,
        since=None if hours is None else NOW - timedelta(hours=hours),
    )
    assert row is not None
    return row


def test_sensors_and_waiting_operators_are_waits_with_their_ids_and_statuses() -> None:
    refund = wait(
        "w",
        "XportcnRefundStatusSensor",
        2,
        refund_id="TQ1",
        xportcn_conn_id="shop",
        target_statuses="['refundsuccess']",
        failure_statuses=["refundclose"],
    )
    assert (refund.kind, dict(refund.ids), refund.conn_id) == ("refund", {"refund_id": "TQ1"}, "shop")
    assert (refund.target, refund.failure) == (["refundsuccess"], ["refundclose"])
    assert refund.primary_id == ("refund_id", "TQ1") and refund.age_hours(NOW) == 2
    package = wait("p", "XportcnPackageStatusSensor", 1, out_order_id="PKG-1", target_statuses=None)
    assert (package.kind, package.primary_id, package.target, package.conn_id) == (
        "package",
        ("out_order_id", "PKG-1"),
        [],
        "xportcn_default",
    )
    assert wait("c", "XportcnCreateRefundOperator", 1, order_id="1").kind == "refund"
    assert wait("l", "XportcnLogisticsStatusSensor", 1, order_id="7").console_target == ("order", "7")
    assert refund.console_target == ("refund", "TQ1")
    assert (
        mon.describe_wait(
            dag_id="d",
            run_id="r",
            task_id="t",
            map_index=-1,
            state="running",
            operator="PythonOperator",
            rendered={},
            since=None,
        )
        is None
    )


def test_select_filters_and_sorts_oldest_first() -> None:
    rows = [
        wait("new", "XportcnOrderStatusSensor", 1, order_id="1"),
        wait("old", "XportcnOrderStatusSensor", 100, order_id="2"),
        wait("refund", "XportcnRefundStatusSensor", 50, dag_id="other", refund_id="R"),
        wait("unknown_age", "XportcnOrderStatusSensor", None, order_id="3"),
    ]
    assert [r.task_id for r in mon.select_waits(rows, now=NOW)] == ["old", "refund", "new", "unknown_age"]
    assert [r.task_id for r in mon.select_waits(rows, now=NOW, kind="refund")] == ["refund"]
    assert [r.task_id for r in mon.select_waits(rows, now=NOW, dag_id="d", older_than_hours=96)] == ["old"]
    assert mon.parse_hours("4") == 4 and mon.parse_hours("") is None
    assert mon.parse_hours("-1") is None and mon.parse_hours("soon") is None


def test_created_objects_come_from_the_operators_xcom_keys() -> None:
    row = mon.describe_created(
        key="refund_id", value="TQ9", dag_id="d", run_id="r", task_id="t", map_index=-1, at=NOW
    )
    assert row is not None and (row.kind, row.object_id) == ("refund", "TQ9")
    assert (
        mon.describe_created(
            key="order_url", value="x", dag_id="d", run_id="r", task_id="t", map_index=-1, at=None
        )
        is None
    )
    assert (
        mon.describe_created(
            key="order_id", value=None, dag_id="d", run_id="r", task_id="t", map_index=-1, at=None
        )
        is None
    )


def test_an_object_is_listed_once_under_the_task_that_created_it() -> None:
    def row(task_id: str, object_id: str, minutes: int) -> mon.CreatedRow:
        made = mon.describe_created(
            key="order_id",
            value=object_id,
            dag_id="d",
            run_id="r",
            task_id=task_id,
            map_index=-1,
            at=NOW + timedelta(minutes=minutes),
        )
        assert made is not None
        return made

    rows = [row("pay_order", "1", 2), row("create_order", "1", 1), row("create_order", "2", 5)]
    assert [(r.object_id, r.task_id) for r in mon.first_mentions(rows)] == [
        ("2", "create_order"),
        ("1", "create_order"),
    ]
