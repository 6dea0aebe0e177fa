"""The status sensors without Airflow's scheduler: poke(), execute() per mode, execute_complete().

The sync hook talks to ``requests_mock``; nothing touches the network or a database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from xportcn_provider.api.errors import XportcnAuthError, XportcnValidationError
from xportcn_provider.sensors.base import XportcnStatusSensorBase
from xportcn_provider.sensors.status import (
    XportcnLogisticsStatusSensor,
    XportcnOrderStatusSensor,
    XportcnPackageStatusSensor,
    XportcnRefundStatusSensor,
)
from xportcn_provider.triggers.status import XportcnStatusTrigger
from xportcn_provider.waiting import XportcnWaitError, XportcnWaitFailure, XportcnWaitTimeout

from ._helpers import BASE_URL, envelope

REFUND_URL = BASE_URL + "/alibaba/ka/refund/detail"
ORDER_URL = BASE_URL + "/alibaba/ka/order/detail"
TAOBAO_URL = BASE_URL + "/open/purchase/page"
PACKAGE_URL = BASE_URL + "/wms/package/detail"
LOGISTICS_URL = BASE_URL + "/alibaba/ka/order/logistics"


def ok(data: Any) -> dict[str, Any]:
    return {"text": envelope(data=data)}


def refund(value: str) -> dict[str, Any]:
    return ok({"refundId": "TQ1", "status": value})


def refund_sensor(**kwargs: Any) -> XportcnRefundStatusSensor:
    kwargs.setdefault("task_id", "wait_refund")
    kwargs.setdefault("refund_id", "TQ1")
    kwargs.setdefault("poke_interval", 0.01)
    kwargs.setdefault("deferrable", False)
    return XportcnRefundStatusSensor(**kwargs)


# --- construction: no I/O, templated fields --------------------------------------------------------


def test_init_does_no_io_and_needs_no_connection(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_XPORTCN_DEFAULT", raising=False)
    sensor = refund_sensor(refund_id="{{ ti.xcom_pull('create') }}", xportcn_conn_id="{{ var }}")
    assert sensor.refund_id == "{{ ti.xcom_pull('create') }}"
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("cls", "ids"),
    [
        (XportcnRefundStatusSensor, {"refund_id"}),
        (XportcnOrderStatusSensor, {"order_id", "platform"}),
        (XportcnPackageStatusSensor, {"out_order_id", "tracking_number"}),
        (XportcnLogisticsStatusSensor, {"leg", "order_id", "out_order_id", "tracking_number"}),
    ],
)
def test_template_fields_cover_conn_id_ids_and_statuses(cls: type, ids: set[str]) -> None:
    common = {"xportcn_conn_id", "target_statuses", "failure_statuses", "status_field", "extra_statuses"}
    assert set(cls.template_fields) == common | ids
    assert issubclass(cls, XportcnStatusSensorBase)


def test_templated_ids_are_rendered_before_the_wait_is_built(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("refundsuccess"))
    sensor = refund_sensor(refund_id="{{ params.rid }}", target_statuses=["{{ params.target }}"])
    sensor.render_template_fields({"params": {"rid": "TQ77", "target": "REFUND_SUCCESS"}})
    assert sensor.spec.body == {"refundId": "TQ77"}
    assert sensor.spec.targets == frozenset({"refundsuccess"})


def test_poke_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="poke_interval"):
        refund_sensor(poke_interval=0)


def test_max_consecutive_errors_is_validated() -> None:
    with pytest.raises(XportcnValidationError) as info:
        refund_sensor(max_consecutive_errors=0)
    assert info.value.parameter == "max_consecutive_errors"


def test_default_deferrable_comes_from_airflow_config() -> None:
    code = (
        "from xportcn_provider.sensors.status import XportcnRefundStatusSensor as S;"
        "print(S(task_id='t', refund_id='x').deferrable)"
    )
    env_on = {"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(env_on), check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "True"


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


# --- validation before any HTTP call -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sensor", "parameter"),
    [
        (lambda: refund_sensor(refund_id=""), "refund_id"),
        (lambda: refund_sensor(refund_id=None), "refund_id"),
        (lambda: refund_sensor(target_statuses=["paid"]), "target_statuses"),
        (lambda: refund_sensor(failure_statuses="nope"), "failure_statuses"),
        (lambda: refund_sensor(target_statuses=[]), "target_statuses"),
        (lambda: refund_sensor(status_field=" "), "status_field"),
        (lambda: XportcnOrderStatusSensor(task_id="o", order_id="1", platform="amazon"), "platform"),
        (lambda: XportcnOrderStatusSensor(task_id="o", order_id=""), "order_id"),
        (lambda: XportcnPackageStatusSensor(task_id="p"), "out_order_id"),
        (
            lambda: XportcnPackageStatusSensor(task_id="p", out_order_id="X", target_statuses="lost"),
            "target_statuses",
        ),
        (lambda: XportcnLogisticsStatusSensor(task_id="l"), "order_id"),
        (
            lambda: XportcnLogisticsStatusSensor(task_id="l", order_id="1", target_statuses="SHIPPED"),
            "target_statuses",
        ),
        (lambda: XportcnLogisticsStatusSensor(task_id="l", leg="intl", order_id="1"), "leg"),
        (
            lambda: XportcnLogisticsStatusSensor(task_id="l", leg="international", order_id="1"),
            "out_order_id",
        ),
    ],
)
@pytest.mark.parametrize("deferrable", [False, True])
def test_bad_input_fails_in_execute_naming_the_parameter_before_any_http(
    sensor: Any, parameter: str, deferrable: bool, xportcn_conn: str, requests_mock: Any
) -> None:
    op = sensor()
    op.deferrable = deferrable
    with pytest.raises(XportcnValidationError) as info:
        op.execute({})
    assert info.value.parameter == parameter
    assert requests_mock.call_count == 0


# --- poke ---------------------------------------------------------------------------------------


def test_poke_returns_the_record_when_done(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("REFUND_SUCCESS"))
    sensor = refund_sensor()
    result = sensor.poke({})
    assert isinstance(result, PokeReturnValue)
    assert result.is_done and result.xcom_value == {"refundId": "TQ1", "status": "REFUND_SUCCESS"}
    assert requests_mock.last_request.json() == {"refundId": "TQ1"}


@pytest.mark.parametrize("value", ["waitselleragree", "WAIT_BUYER_SEND", "something_new"])
def test_poke_is_not_done_for_open_and_unknown_statuses(
    value: str, xportcn_conn: str, requests_mock: Any
) -> None:
    requests_mock.post(REFUND_URL, **refund(value))
    assert not refund_sensor().poke({}).is_done


def test_unknown_status_is_logged_once(
    xportcn_conn: str, requests_mock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    requests_mock.post(REFUND_URL, **refund("brand_new_state"))
    sensor = refund_sensor()
    for _ in range(3):
        assert not sensor.poke({}).is_done
    logged = capsys.readouterr()
    assert (logged.out + logged.err).count("'brand_new_state'") == 1


def test_failure_status_fails_without_retry_naming_status_and_id(
    xportcn_conn: str, requests_mock: Any
) -> None:
    requests_mock.post(REFUND_URL, **refund("refundclose"))
    with pytest.raises(AirflowFailException) as info:
        refund_sensor().poke({})
    assert isinstance(info.value, XportcnWaitFailure)
    assert "refundclose" in str(info.value) and "refund_id=TQ1" in str(info.value)
    assert info.value.status == "refundclose" and info.value.ids == {"refund_id": "TQ1"}


def test_custom_failure_statuses(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("waitbuyermodify"))
    with pytest.raises(XportcnWaitFailure, match="waitbuyermodify"):
        refund_sensor(failure_statuses=["refundclose", "waitbuyermodify"]).poke({})


def test_nested_status_field(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **ok({"refund": {"state": {"code": "refundsuccess"}}}))
    assert refund_sensor(status_field="data.refund.state.code").poke({}).is_done


def test_transient_errors_keep_waiting_up_to_the_bound(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, [{"status_code": 503, "text": "busy"}])
    sensor = refund_sensor(max_consecutive_errors=3)
    assert not sensor.poke({}).is_done
    assert not sensor.poke({}).is_done
    with pytest.raises(XportcnWaitError, match="3 consecutive") as info:
        sensor.poke({})
    assert info.value.ids == {"refund_id": "TQ1"}
    assert requests_mock.call_count == 3


def test_a_good_answer_resets_the_error_count(xportcn_conn: str, requests_mock: Any) -> None:
    busy = {"status_code": 503, "text": "busy"}
    requests_mock.post(
        REFUND_URL,
        [
            busy,
            {"status_code": 429, "text": "slow"},
            refund("waitselleragree"),
            busy,
            busy,
            refund("refundsuccess"),
        ],
    )
    sensor = refund_sensor(max_consecutive_errors=3)
    results = [sensor.poke({}).is_done for _ in range(6)]
    assert results == [False] * 5 + [True]


def test_auth_error_fails_at_once(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, text=envelope(code=401, msg="signature invalid", request_id="req-9"))
    with pytest.raises(XportcnWaitError) as info:
        refund_sensor(max_consecutive_errors=5).poke({})
    assert isinstance(info.value.__cause__, XportcnAuthError)
    assert "requestId=req-9" in str(info.value)
    assert not isinstance(info.value, AirflowFailException)  # task retries still apply


# --- the other sensors ------------------------------------------------------------------------------


def test_order_sensor_waits_for_shipped_by_default(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(
        ORDER_URL, [ok({"orderId": "9", "status": s}) for s in ("WAITING_FOR_SENT", "waitbuyerreceive")]
    )
    sensor = XportcnOrderStatusSensor(task_id="o", order_id="9", poke_interval=0.01, deferrable=False)
    assert not sensor.poke({}).is_done
    assert sensor.poke({}).xcom_value == {"orderId": "9", "status": "waitbuyerreceive"}
    assert requests_mock.last_request.json() == {"orderId": "9"}


def test_order_sensor_cancel_fails(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(ORDER_URL, **ok({"orderId": "9", "status": "CANCEL"}))
    with pytest.raises(XportcnWaitFailure, match="cancel"):
        XportcnOrderStatusSensor(task_id="o", order_id="9", deferrable=False).poke({})


def test_order_sensor_accepts_group_and_raw_targets(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(ORDER_URL, **ok({"orderId": "9", "status": "waitsellersend"}))
    assert XportcnOrderStatusSensor(task_id="o", order_id="9", target_statuses="paid").poke({}).is_done
    assert (
        not XportcnOrderStatusSensor(task_id="o", order_id="9", target_statuses=["received"]).poke({}).is_done
    )


def test_taobao_order_sensor_reads_numeric_codes_from_the_list(xportcn_conn: str, requests_mock: Any) -> None:
    page = {"list": [{"orderId": "4105", "status": 11}], "total": 1, "pageNo": 1, "pageSize": 1}
    requests_mock.post(TAOBAO_URL, [ok({**page, "list": [{"orderId": "4105", "status": 10}]}), ok(page)])
    sensor = XportcnOrderStatusSensor(task_id="o", order_id="4105", platform="Taobao")
    assert not sensor.poke({}).is_done
    assert sensor.poke({}).is_done
    assert requests_mock.last_request.json() == {"orderId": "4105", "pageNo": 1, "pageSize": 20}


def test_taobao_order_sensor_reads_the_row_of_its_order_not_the_first(
    xportcn_conn: str, requests_mock: Any
) -> None:
    """Issue 11 item 3: a service ignoring the orderId filter ended a wait with another order's status."""
    other = {"orderId": "4109", "status": 11}
    requests_mock.post(
        TAOBAO_URL,
        [
            ok({"list": [other, {"orderId": "4105", "status": 0}], "total": 2}),
            ok({"list": [other], "total": 1}),
        ],
    )
    sensor = XportcnOrderStatusSensor(task_id="o", order_id="4105", platform="taobao")
    assert not sensor.poke({}).is_done  # 4109 is shipped, 4105 is not paid: keep waiting
    with pytest.raises(XportcnWaitFailure, match="none with orderId=4105"):
        sensor.poke({})  # only other orders listed: not "not yet" for ever


def test_taobao_closed_order_fails(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(TAOBAO_URL, **ok({"list": [{"orderId": "4105", "status": "4"}], "total": 1}))
    with pytest.raises(XportcnWaitFailure, match="closed"):
        XportcnOrderStatusSensor(task_id="o", order_id="4105", platform="taobao").poke({})


def test_taobao_order_not_listed_fails_unless_a_grace_is_given(xportcn_conn: str, requests_mock: Any) -> None:
    """Issue 11 item 8: an empty list is not "not yet" for ever (a wrong id waited 7 days)."""
    requests_mock.post(TAOBAO_URL, **ok({"list": [], "total": 0}))
    with pytest.raises(XportcnWaitFailure, match="listed no row"):
        XportcnOrderStatusSensor(task_id="o", order_id="4105", platform="taobao").poke({})
    sensor = XportcnOrderStatusSensor(task_id="o", order_id="4105", platform="taobao", not_found_grace=1)
    assert not sensor.poke({}).is_done
    with pytest.raises(XportcnWaitFailure, match="after 2 read"):
        sensor.poke({})


def test_package_sensor_by_tracking_number(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(PACKAGE_URL, [ok({"status": "INBOUND"}), ok({"status": "QC_PASSED"})])
    sensor = XportcnPackageStatusSensor(task_id="p", tracking_number="SF123")
    assert not sensor.poke({}).is_done
    assert sensor.poke({}).is_done
    assert requests_mock.last_request.json() == {"logistics_tracking_number": "SF123"}


def test_package_sensor_qc_failed_fails(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(PACKAGE_URL, **ok({"out_order_id": "OUT1", "status": "QC_FAILED"}))
    with pytest.raises(XportcnWaitFailure, match="out_order_id=OUT1"):
        XportcnPackageStatusSensor(task_id="p", out_order_id="OUT1").poke({})


def test_logistics_domestic_waits_for_a_tracking_number(xportcn_conn: str, requests_mock: Any) -> None:
    before = {"orderId": "9", "status": "waitsellersend", "trackingNumber": None}
    after = {**before, "status": "waitbuyerreceive", "trackingNumber": "SF777"}
    requests_mock.post(LOGISTICS_URL, [ok(before), ok(after)])
    sensor = XportcnLogisticsStatusSensor(task_id="l", order_id="9")
    assert not sensor.poke({}).is_done
    assert sensor.poke({}).xcom_value == after


def test_logistics_domestic_cancelled_order_fails(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(LOGISTICS_URL, **ok({"orderId": "9", "status": "cancel", "trackingNumber": None}))
    with pytest.raises(XportcnWaitFailure, match="order_id=9"):
        XportcnLogisticsStatusSensor(task_id="l", order_id="9").poke({})


def test_logistics_international_waits_for_shipped(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(PACKAGE_URL, [ok({"status": "QC_PASSED"}), ok({"status": "SHIPPED"})])
    sensor = XportcnLogisticsStatusSensor(task_id="l", leg="international", out_order_id="OUT1")
    assert not sensor.poke({}).is_done
    assert sensor.poke({}).is_done


# --- poke mode (BaseSensorOperator loop) ------------------------------------------------------------


def test_poke_mode_execute_returns_the_record(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, [refund("waitselleragree"), refund("refundsuccess")])
    assert refund_sensor().execute({}) == {"refundId": "TQ1", "status": "refundsuccess"}
    assert requests_mock.call_count == 2


def test_poke_mode_timeout(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("waitselleragree"))
    with pytest.raises(AirflowSensorTimeout):
        refund_sensor(timeout=0.05).execute({})


def test_poke_mode_timeout_with_soft_fail_skips(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("waitselleragree"))
    with pytest.raises(AirflowSkipException):
        refund_sensor(timeout=0.05, soft_fail=True).execute({})


# --- deferrable mode --------------------------------------------------------------------------------


def test_deferrable_done_on_first_poke_does_not_defer(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("refundsuccess"))
    assert refund_sensor(deferrable=True).execute({}) == {"refundId": "TQ1", "status": "refundsuccess"}
    assert requests_mock.call_count == 1


def test_deferrable_pokes_once_then_defers_with_an_absolute_deadline(
    xportcn_conn: str, requests_mock: Any
) -> None:
    requests_mock.post(REFUND_URL, **refund("waitselleragree"))
    sensor = refund_sensor(
        deferrable=True,
        poke_interval=12,
        timeout=600,
        exponential_backoff=True,
        max_wait=timedelta(minutes=5),
        max_consecutive_errors=4,
        xportcn_conn_id="xportcn_default",
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    after = time.time()
    assert requests_mock.call_count == 1
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    trigger = deferred.trigger
    assert isinstance(trigger, XportcnStatusTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["wait"] == sensor.spec.to_dict()
    assert kwargs["conn_id"] == "xportcn_default"
    assert kwargs["poll_interval"] == 12
    assert kwargs["exponential_backoff"] is True
    assert kwargs["max_poll_interval"] == 300
    assert kwargs["max_consecutive_errors"] == 4
    assert before + 600 <= kwargs["deadline"] <= after + 600
    # The deferral timeout backs the trigger's own deadline up: a bit more than the time left.
    assert timedelta(seconds=600) <= deferred.timeout <= timedelta(seconds=600 + 120)
    json.dumps(kwargs)


def test_deferrable_carries_errors_of_the_first_poke_into_the_trigger(
    xportcn_conn: str, requests_mock: Any
) -> None:
    requests_mock.post(REFUND_URL, status_code=503, text="busy")
    with pytest.raises(TaskDeferred) as info:
        refund_sensor(deferrable=True, max_consecutive_errors=3).execute({})
    assert info.value.trigger.serialize()[1]["consecutive_errors"] == 1


def test_deferrable_first_poke_failure_fails(xportcn_conn: str, requests_mock: Any) -> None:
    requests_mock.post(REFUND_URL, **refund("refundclose"))
    with pytest.raises(XportcnWaitFailure):
        refund_sensor(deferrable=True).execute({})


def test_deferrable_first_poke_failure_with_soft_fail_skips_like_poke_mode(
    xportcn_conn: str, requests_mock: Any
) -> None:
    requests_mock.post(REFUND_URL, **refund("refundclose"))
    for deferrable in (False, True):
        with pytest.raises(AirflowSkipException):
            refund_sensor(deferrable=deferrable, soft_fail=True).execute({})


def test_deferrable_with_zero_timeout_times_out_after_the_first_poke(
    xportcn_conn: str, requests_mock: Any
) -> None:
    requests_mock.post(REFUND_URL, **refund("waitselleragree"))
    with pytest.raises(XportcnWaitTimeout):
        refund_sensor(deferrable=True, timeout=0).execute({})
    with pytest.raises(AirflowSkipException):
        refund_sensor(deferrable=True, timeout=0, soft_fail=True).execute({})


def _event(status: str, value: str | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "value": value,
        "record": {"refundId": "TQ1", "status": value},
        "message": f"ended with {status}",
        "ids": {"refund_id": "TQ1"},
        "wait": "refund status (refund_id=TQ1)",
    }


def _resume(sensor: XportcnRefundStatusSensor, event: dict[str, Any]) -> Any:
    return sensor.resume_execution("execute_complete", {"event": event}, {})


def test_resume_success_returns_the_record() -> None:
    assert _resume(refund_sensor(deferrable=True), _event("success", "refundsuccess")) == {
        "refundId": "TQ1",
        "status": "refundsuccess",
    }


@pytest.mark.parametrize(
    ("status", "exc"),
    [("failure", AirflowFailException), ("timeout", AirflowSensorTimeout), ("error", XportcnWaitError)],
)
def test_resume_raises_the_matching_error_with_ids(status: str, exc: type[Exception]) -> None:
    with pytest.raises(exc) as info:
        _resume(refund_sensor(deferrable=True), _event(status, "waitselleragree"))
    assert "refund_id=TQ1" in str(info.value)


@pytest.mark.parametrize("status", ["failure", "timeout"])
def test_resume_with_soft_fail_skips_failures_and_timeouts(status: str) -> None:
    with pytest.raises(AirflowSkipException):
        _resume(refund_sensor(deferrable=True, soft_fail=True), _event(status, "refundclose"))


def test_resume_error_is_not_skipped_by_soft_fail_as_in_poke_mode() -> None:
    with pytest.raises(XportcnWaitError):
        _resume(refund_sensor(deferrable=True, soft_fail=True), _event("error"))


def test_resume_with_a_malformed_event_fails() -> None:
    with pytest.raises(XportcnWaitError, match="Unexpected event"):
        _resume(refund_sensor(deferrable=True), {"status": "maybe"})
