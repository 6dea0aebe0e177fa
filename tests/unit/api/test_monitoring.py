"""What the monitoring pages make of Airflow's rows (``xportcn_provider.api.monitoring``)."""

from __future__ import annotations

import json
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
    assert (package.kind, package.primary_id, package.conn_id) == (
        "package",
        ("out_order_id", "PKG-1"),
        "xportcn_default",
    )
    # none given in the DAG: the sensor's own defaults, said to be defaults
    assert (package.target, package.failure) == (["QC_PASSED"], ["QC_FAILED"])
    assert package.target_is_default and package.failure_is_default
    assert not (refund.target_is_default or refund.failure_is_default)
    shipped = wait("s", "XportcnLogisticsStatusSensor", 1, order_id="2618493058261900001", leg="domestic")
    assert (shipped.target, shipped.failure) == (["trackingNumber present"], ["cancel", "terminated"])
    order = wait(
        "o", "XportcnOrderStatusSensor", 1, order_id="2618493058261900001", failure_statuses="['cancel']"
    )
    assert "waitbuyerreceive" in order.target and order.target_is_default
    assert (order.failure, order.failure_is_default) == (["cancel"], False)
    creating = wait("c", "XportcnCreateRefundOperator", 1, order_id="1")
    assert creating.kind == "refund" and (creating.target, creating.target_is_default) == ([], False)
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


# --- last status seen -------------------------------------------------------------------------------


def test_a_recorded_last_status_round_trips_and_bad_values_are_ignored() -> None:
    seen = mon.LastStatus("waitsellersend", NOW, mon.VIA_BEFORE_DEFER)
    stored = json.dumps(seen.stored())
    assert mon.parse_last_status(stored) == seen
    assert mon.parse_last_status(seen.stored()) == seen
    assert str(seen) == "waitsellersend (check before deferring, 2026-12-02 12:00:00 UTC)"
    naive = json.dumps({"status": "x", "seen_at": "2026-12-02T12:00:00"})
    assert mon.parse_last_status(naive) == mon.LastStatus("x", NOW, mon.VIA_POKE)
    for bad in (None, "", "not json", "[1]", json.dumps({"status": None}), json.dumps({"seen_at": "x"})):
        assert mon.parse_last_status(bad) is None, bad
    assert mon.parse_last_status(json.dumps({"status": "x", "seen_at": "yesterday"})) == mon.LastStatus(
        "x", None, mon.VIA_POKE
    )


def test_pushed_statuses_keep_the_newest_fresh_message_per_order_and_refund() -> None:
    early, late = NOW - timedelta(minutes=5), NOW
    events = [
        (early, {"kind": "orders", "order_id": "O1", "status": "waitsellersend"}),
        (late, {"kind": "orders", "order_id": "O1", "status": "waitbuyerreceive"}),
        (NOW + timedelta(minutes=1), {"kind": "orders", "order_id": "O1", "status": "old", "stale": True}),
        (early, {"kind": "refunds", "refund_id": "TQ1", "order_id": "O9", "status": "refundsuccess"}),
        (late, {"kind": "refunds", "refund_id": None, "order_id": "O2", "status": "x"}),  # no refund id
        (late, {"kind": "packages", "out_order_id": "P1", "status": "x"}),  # never pushed: ignored
        (late, "not a dict"),
        (late, {"kind": "orders", "order_id": "O3", "raw_status": "RAW"}),
    ]
    pushed = mon.pushed_statuses(events)
    assert pushed == {
        ("order", "O1"): mon.LastStatus("waitbuyerreceive", late, mon.VIA_PUSH),
        ("refund", "TQ1"): mon.LastStatus("refundsuccess", early, mon.VIA_PUSH),
        ("order", "O3"): mon.LastStatus("RAW", late, mon.VIA_PUSH),
    }


def test_the_newer_of_recorded_and_pushed_status_wins() -> None:
    recorded = mon.LastStatus("waitsellersend", NOW, mon.VIA_BEFORE_DEFER)
    newer = mon.LastStatus("waitbuyerreceive", NOW + timedelta(seconds=1), mon.VIA_PUSH)
    older = mon.LastStatus("waitbuyerpay", NOW - timedelta(seconds=1), mon.VIA_PUSH)
    assert mon.newest_status(recorded, newer) == newer
    assert mon.newest_status(recorded, older) == recorded
    assert mon.newest_status(recorded, mon.LastStatus("tie", NOW, mon.VIA_PUSH)) == recorded
    assert mon.newest_status(None, older) == older and mon.newest_status(recorded, None) == recorded
    assert mon.newest_status(mon.LastStatus("x", None, mon.VIA_POKE), older) == older


def test_only_order_and_refund_waits_match_pushed_messages() -> None:
    assert wait("a", "XportcnOrderStatusSensor", 1, order_id="O1").pushed_key == ("order", "O1")
    assert wait("b", "XportcnRefundStatusSensor", 1, refund_id="TQ1").pushed_key == ("refund", "TQ1")
    assert wait("c", "XportcnRefundStatusSensor", 1, order_id="O1").pushed_key is None
    assert wait("d", "XportcnLogisticsStatusSensor", 1, order_id="O1").pushed_key is None
    assert wait("e", "XportcnPackageStatusSensor", 1, out_order_id="P1").pushed_key is None


# --- waiting operators and the task tab's live reads ------------------------------------------------


def test_a_waiting_operator_is_a_wait_only_once_it_waits_and_waits_on_its_own_xcom_ids() -> None:
    def refund_op(state: str, last: mon.LastStatus | None) -> mon.WaitRow | None:
        return mon.describe_wait(
            dag_id="d",
            run_id="r",
            task_id="create_refund",
            map_index=-1,
            state=state,
            operator="XportcnCreateRefundOperator",
            rendered={"order_id": "2618493058261900001"},
            since=NOW,
            last_status=last,
            xcom_ids={"refund_id": "TQ77", "order_id": "2618493058261900001", "refund_url": "x"},
        )

    assert refund_op("running", None) is None  # creating, or not waiting at all
    assert refund_op("queued", None) is None
    deferred = refund_op("deferred", None)
    assert deferred is not None and deferred.primary_id == ("refund_id", "TQ77")
    assert deferred.pushed_key == ("refund", "TQ77")
    polling = refund_op("running", mon.LastStatus("waitselleragree", NOW, mon.VIA_POKE))
    assert polling is not None and polling.ids["refund_id"] == "TQ77"


def _reads(wait: mon.WaitRow | None, xcoms: dict[str, object], operator: str = "") -> list[tuple]:
    return [
        (
            o.kind,
            o.object_id,
            o.console_kind,
            o.spec.endpoint if o.spec else None,
            dict(o.spec.body) if o.spec else o.no_read,
        )
        for o in mon.live_objects(wait, xcoms, operator=operator)
    ]


def test_the_task_tab_reads_each_object_as_its_sensor_would() -> None:
    order = wait("w", "XportcnOrderStatusSensor", 1, order_id="2618493058261900001", platform="1688")
    assert _reads(order, {}) == [
        ("order", "2618493058261900001", "order", "order_detail", {"orderId": "2618493058261900001"})
    ]
    taobao = wait("w", "XportcnOrderStatusSensor", 1, order_id="3300001", platform="taobao")
    [(kind, oid, console, endpoint, _body)] = _reads(taobao, {})
    assert (kind, oid, console, endpoint) == ("order", "3300001", "taobao_order", "taobao_order_list")
    shipped = wait("w", "XportcnLogisticsStatusSensor", 1, order_id="2618493058261900001", leg="domestic")
    assert _reads(shipped, {})[0][3] == "order_logistics"
    abroad = wait("w", "XportcnLogisticsStatusSensor", 1, out_order_id="af-1", leg="international")
    assert _reads(abroad, {}) == [("package", "af-1", "package", "package_detail", {"out_order_id": "af-1"})]
    assert (abroad.target, abroad.target_is_default) == (["DELIVERED", "SHIPPED"], True)  # not QC_PASSED
    abroad_by_tracking = wait(
        "w", "XportcnLogisticsStatusSensor", 1, tracking_number="SF9", leg="international"
    )
    assert _reads(abroad_by_tracking, {}) == [
        ("package", "SF9", None, "package_detail", {"logistics_tracking_number": "SF9"})
    ]
    by_tracking = wait("w", "XportcnPackageStatusSensor", 1, tracking_number="SF123")
    assert _reads(by_tracking, {}) == [
        ("package", "SF123", None, "package_detail", {"logistics_tracking_number": "SF123"})
    ]
    assert by_tracking.console_target is None
    refund = wait("w", "XportcnRefundStatusSensor", 1, refund_id="TQ1")
    # the refund it waits on, then the objects it names in XCom (a duplicate once only)
    assert _reads(refund, {"refund_id": "TQ1", "order_id": "2618493058261900001"}) == [
        ("refund", "TQ1", "refund", "refund_detail", {"refundId": "TQ1"}),
        ("order", "2618493058261900001", "order", "order_detail", {"orderId": "2618493058261900001"}),
    ]


def test_created_objects_are_read_by_kind_and_an_international_booking_has_no_read() -> None:
    assert _reads(None, {"logistics_order_id": "LP5000000000001", "out_order_id": "af-1"}) == [
        ("logistics", "LP5000000000001", "logistics", None, mon.NO_READ_LOGISTICS),
        ("package", "af-1", "package", "package_detail", {"out_order_id": "af-1"}),
    ]
    [(_, _, console, endpoint, _)] = _reads(None, {"order_id": "3300001"}, "XportcnTaobaoCreateOrderOperator")
    assert (console, endpoint) == ("taobao_order", "taobao_order_list")
    [(kind, oid, _, spec, why)] = _reads(None, {"order_id": "not an id!"})
    assert (kind, oid, spec) == ("order", "not an id!", None) and why.startswith("Cannot read it: ")
    assert _reads(None, {"order_id": None, "other": "x"}) == []
