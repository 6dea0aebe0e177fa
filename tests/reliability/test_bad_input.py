"""Bad input, across operators, sensors, the trigger and the connection: refused before any call.

Design rule (``design.md``): "Bad input is rejected before any HTTP call, with a message naming the
parameter and what is expected." Every row of :data:`CASES` runs the real entry point against the
live sandbox — ``execute(context)`` for operators and sensors, the trigger's constructor (what the
triggerer rebuilds it with), and a hook / operator / sensor on a broken connection — then asserts
that the error names the parameter and that the sandbox's call log is still **empty**.

``tests/integration/test_operators_validation.py`` already holds 60 operator cases; the operator
rows here are a representative spread of *other* inputs (a type, a sign, a size, a name per
operator family), and the rows for sensors, the trigger and the connection are new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.operators import (
    XportcnApiOperator,
    XportcnCancelRefundOperator,
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnCreateOrderOperator,
    XportcnCreateRefundOperator,
    XportcnForecastPackageOperator,
    XportcnFreightPreviewOperator,
    XportcnPackageInboundOperator,
    XportcnPayOrderOperator,
    XportcnRefundReasonsOperator,
    XportcnSaveAddressOperator,
    XportcnSubmitReturnLogisticsOperator,
    XportcnTaobaoCreateOrderOperator,
)
from xportcn_provider.operators.validation import MAX_PAYLOAD_BYTES
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.sensors.status import (
    XportcnLogisticsStatusSensor,
    XportcnOrderStatusSensor,
    XportcnPackageStatusSensor,
    XportcnRefundStatusSensor,
)
from xportcn_provider.triggers.status import XportcnStatusTrigger
from xportcn_provider.waiting import XportcnWaitError

from .conftest import make_context, set_default_conn

T = "t"
ADDRESS = {"fullName": "张三", "mobile": "13800000000", "address": "文一西路 969 号"}
CARGO = [{"offerId": "610947572360", "quantity": 1}]
RECEIVER = {"name": "John Doe", "country": "US", "address": "1 Main St"}
LINE = [{"itemId": "1", "quantity": 1}]
ORDER = {"address_param": ADDRESS, "cargo_param_list": CARGO}
REFUND = {
    "order_id": "2618493058261900001",
    "order_entry_ids": ["1"],
    "dispute_request": "refund",
    "apply_payment": 100,
}


def execute(task: Any) -> Any:
    """What the worker does with a task: ``execute`` with a (minimal) context."""
    return task.execute(make_context())


def op(cls: type, **kwargs: Any) -> Callable[[], Any]:
    """Build an operator and execute it (building never validates what a template could change)."""
    return lambda: execute(cls(task_id=T, **kwargs))


def sensor(cls: type, **kwargs: Any) -> Callable[[], Any]:
    """Build and execute a poke-mode sensor with a short timeout (it never gets to poke twice)."""
    return lambda: execute(cls(task_id=T, poke_interval=0.01, timeout=1, mode="poke", **kwargs))


def trigger(wait: dict[str, Any], **kwargs: Any) -> Callable[[], Any]:
    return lambda: XportcnStatusTrigger(wait=wait, **kwargs)


REFUND_WAIT = {
    "endpoint": "refund_detail",
    "body": {"refundId": "TQ1"},
    "status_field": "status",
    "vocabulary": "refund",
    "targets": ["refundsuccess"],
}


def read_orders() -> Any:
    return XportcnHook().order_list(page_no=1, page_size=10)


@dataclass(frozen=True)
class Case:
    """``attempt`` must raise ``error`` naming ``parameter`` before reaching the sandbox.

    ``conn`` changes the sandbox connection first (``set_default_conn`` keyword arguments).
    """

    id: str
    attempt: Callable[[], Any]
    parameter: str
    conn: dict[str, Any] = field(default_factory=dict)
    error: type[Exception] = XportcnValidationError


CASES: list[Case] = [
    # --- operators (a spread not already in test_operators_validation.py) ----------------------
    Case(
        "order: out_order_id a list",
        op(XportcnCreateOrderOperator, **ORDER, out_order_id=["o-1"]),
        "out_order_id",
    ),
    Case(
        "order: max_total_fen negative",
        op(XportcnCreateOrderOperator, **ORDER, max_total_fen=-100),
        "max_total_fen",
    ),
    Case(
        "order: cargo quantity boolean",
        op(
            XportcnCreateOrderOperator,
            **{**ORDER, "cargo_param_list": [{"offerId": "6109", "quantity": True}]},
        ),
        "cargo_param_list",
    ),
    Case("pay: order_id a float", op(XportcnPayOrderOperator, order_id=2.5), "order_id"),
    Case(
        "taobao: items a string",
        op(XportcnTaobaoCreateOrderOperator, items="i-1", address={"name": "a"}),
        "items",
    ),
    Case(
        "refund: apply_payment negative",
        op(XportcnCreateRefundOperator, **{**REFUND, "apply_payment": -500}),
        "apply_payment",
    ),
    Case(
        "refund: order_entry_ids a dict",
        op(XportcnCreateRefundOperator, **{**REFUND, "order_entry_ids": {"id": "1"}}),
        "order_entry_ids",
    ),
    Case("refund reasons: missing order_id", op(XportcnRefundReasonsOperator, order_id=None), "order_id"),
    Case("cancel refund: refund_id a list", op(XportcnCancelRefundOperator, refund_id=["TQ1"]), "refund_id"),
    Case(
        "return goods: missing refund_id",
        op(
            XportcnSubmitReturnLogisticsOperator,
            refund_id=None,
            logistics_company_no="YTO",
            freight_bill="YT1",
        ),
        "refund_id",
    ),
    Case(
        "freight preview: zero quantity",
        op(
            XportcnFreightPreviewOperator,
            receiver_address=RECEIVER,
            render_items=[{"itemId": "1", "quantity": 0}],
        ),
        "render_items",
    ),
    Case(
        "booking: tmall_order_id with a space",
        op(
            XportcnCreateInternationalLogisticsOrderOperator,
            render_id="FF1",
            receiver_address=RECEIVER,
            line_items=LINE,
            tmall_order_id="tm 1",
        ),
        "tmall_order_id",
    ),
    Case(
        "inbound: missing out_order_id",
        op(XportcnPackageInboundOperator, out_order_id=None, logistics_tracking_number="YT1"),
        "out_order_id",
    ),
    Case(
        "address: phone too long",
        op(XportcnSaveAddressOperator, name="a", province="b", city="c", address="d", phone="1" * 41),
        "phone",
    ),
    Case(
        "api: unknown endpoint name",
        op(XportcnApiOperator, endpoint="refund_apply", payload={"orderId": "1"}),
        "endpoint",
    ),
    Case(
        "api: payload over the limit",
        op(XportcnApiOperator, endpoint="product_search", payload={"keyword": "x" * MAX_PAYLOAD_BYTES}),
        "payload",
    ),
    # --- sensors (validated in execute, before the first poke) ----------------------------------
    Case("refund sensor: missing refund_id", sensor(XportcnRefundStatusSensor, refund_id=None), "refund_id"),
    Case(
        "refund sensor: refund_id a dict",
        sensor(XportcnRefundStatusSensor, refund_id={"id": "TQ1"}),
        "refund_id",
    ),
    Case(
        "refund sensor: unknown target status",
        sensor(XportcnRefundStatusSensor, refund_id="TQ1", target_statuses=["refunded"]),
        "target_statuses",
    ),
    Case(
        "refund sensor: status both target and failure",
        sensor(
            XportcnRefundStatusSensor,
            refund_id="TQ1",
            target_statuses="refundclose",
            failure_statuses="refundclose",
        ),
        "failure_statuses",
    ),
    Case(
        "refund sensor: empty status_field",
        sensor(XportcnRefundStatusSensor, refund_id="TQ1", status_field=" "),
        "status_field",
    ),
    Case(
        "order sensor: unknown failure status",
        sensor(XportcnOrderStatusSensor, order_id="1", failure_statuses=["lost"]),
        "failure_statuses",
    ),
    Case(
        "order sensor: 1688 status for a taobao order",
        sensor(XportcnOrderStatusSensor, order_id="1", platform="taobao", target_statuses="waitsellersend"),
        "target_statuses",
    ),
    Case(
        "order sensor: unknown platform",
        sensor(XportcnOrderStatusSensor, order_id="1", platform="amazon"),
        "platform",
    ),
    Case("package sensor: neither id", sensor(XportcnPackageStatusSensor), "out_order_id"),
    Case("logistics sensor: bad leg", sensor(XportcnLogisticsStatusSensor, leg="air", order_id="1"), "leg"),
    Case("logistics sensor: domestic without order_id", sensor(XportcnLogisticsStatusSensor), "order_id"),
    Case(
        "logistics sensor: statuses on the domestic leg",
        sensor(XportcnLogisticsStatusSensor, order_id="1", target_statuses="SHIPPED"),
        "target_statuses",
    ),
    # --- the status trigger (the triggerer rebuilds it from its serialized kwargs) -------------
    Case("trigger: write endpoint", trigger({**REFUND_WAIT, "endpoint": "refund_cancel"}), "endpoint"),
    Case("trigger: unknown endpoint", trigger({**REFUND_WAIT, "endpoint": "refund_status"}), "endpoint"),
    Case("trigger: no target", trigger({**REFUND_WAIT, "targets": []}), "target_statuses"),
    Case("trigger: poll_interval zero", trigger(REFUND_WAIT, poll_interval=0), "poll_interval"),
    Case(
        "trigger: max_consecutive_errors zero",
        trigger(REFUND_WAIT, max_consecutive_errors=0),
        "max_consecutive_errors",
    ),
    # --- id formats (issue 14 item 2; api/ids.py): a malformed id fails naming it, no call -------
    Case("pay: order_id not a 1688 order id", op(XportcnPayOrderOperator, order_id="ORDER-abc"), "order_id"),
    Case(
        "refund reasons: order_id not a 1688 order id",
        op(XportcnRefundReasonsOperator, order_id="ORDER-abc"),
        "order_id",
    ),
    Case(
        "refund: sub-order id not a number",
        op(XportcnCreateRefundOperator, **{**REFUND, "order_entry_ids": ["entry-1"]}),
        "order_entry_ids",
    ),
    Case(
        "cancel refund: refund_id without its letters",
        op(XportcnCancelRefundOperator, refund_id="12345"),
        "refund_id",
    ),
    Case(
        "return goods: refund_id not a refund id",
        op(
            XportcnSubmitReturnLogisticsOperator,
            refund_id="refund-1",
            logistics_company_no="YTO",
            freight_bill="YT1",
        ),
        "refund_id",
    ),
    Case(
        "forecast: alibaba_order_id not a 1688 order id",
        op(
            XportcnForecastPackageOperator,
            out_order_id="PKG-1",
            logistics_tracking_number="YT1",
            alibaba_order_id="ali-1",
        ),
        "alibaba_order_id",
    ),
    Case(
        "order sensor: order_id not a 1688 order id",
        sensor(XportcnOrderStatusSensor, order_id="ORDER-abc"),
        "order_id",
    ),
    Case(
        "order sensor: order_id not a Taobao order id",
        sensor(XportcnOrderStatusSensor, order_id="T5", platform="taobao"),
        "order_id",
    ),
    Case(
        "refund sensor: refund_id not a refund id",
        sensor(XportcnRefundStatusSensor, refund_id="R-1"),
        "refund_id",
    ),
    Case(
        "logistics sensor: order_id not a 1688 order id",
        sensor(XportcnLogisticsStatusSensor, order_id="ORDER-abc"),
        "order_id",
    ),
    Case(
        "trigger: refundId not a refund id", trigger({**REFUND_WAIT, "body": {"refundId": "x1"}}), "refund_id"
    ),
    Case(
        "trigger: orderId not a 1688 order id",
        trigger(
            {
                "endpoint": "order_detail",
                "body": {"orderId": "ORDER-abc"},
                "status_field": "status",
                "vocabulary": "order",
                "targets": ["success"],
            }
        ),
        "order_id",
    ),
    Case("hook: order_detail order_id", lambda: XportcnHook().order_detail(order_id="ORDER-abc"), "order_id"),
    Case("hook: refund_cancel refund_id", lambda: XportcnHook().refund_cancel(refund_id="abc"), "refund_id"),
    Case(
        "hook: refund_create order_entry_ids",
        lambda: XportcnHook().refund_create(
            order_id="2618493058261900001",
            order_entry_ids=["1", "e2"],
            dispute_request="refund",
            apply_payment=1,
        ),
        "order_entry_ids",
    ),
    # --- the connection (read on first use: hook, operator and sensor alike) -------------------
    Case("conn: no user_id", read_orders, "extra.user_id", conn={"drop": ("extra.user_id",)}),
    Case("conn: no login", read_orders, "login", conn={"drop": ("login",)}),
    Case("conn: no password", read_orders, "password", conn={"drop": ("password",)}),
    Case(
        "conn: no login or password, via an operator",
        op(XportcnPayOrderOperator, order_id="2618493058261900001"),
        "login",
        conn={"drop": ("login", "password")},
    ),
    Case("conn: timeout not a number", read_orders, "timeout", conn={"extra": {"timeout": "fast"}}),
    Case("conn: timeout negative", read_orders, "timeout", conn={"extra": {"timeout": -5}}),
    Case("conn: max_retries a fraction", read_orders, "max_retries", conn={"extra": {"max_retries": 2.5}}),
    Case("conn: max_retries negative", read_orders, "max_retries", conn={"extra": {"max_retries": "-1"}}),
    Case("conn: max_retries boolean", read_orders, "max_retries", conn={"extra": {"max_retries": True}}),
    Case(
        "conn: override of an unknown endpoint",
        read_orders,
        "endpoint_overrides",
        conn={"extra": {"endpoint_overrides": {"refund_apply": "/alibaba/ka/refund/apply"}}},
    ),
    Case(
        "conn: overrides not JSON",
        read_orders,
        "endpoint_overrides",
        conn={"extra": {"endpoint_overrides": "{refund_create: /x"}},
    ),
    Case(
        "conn: overrides a list",
        read_orders,
        "endpoint_overrides",
        conn={"extra": {"endpoint_overrides": ["/alibaba/ka/refund/apply"]}},
    ),
    Case(
        "conn: override not a path",
        read_orders,
        "endpoint_overrides",
        conn={"extra": {"endpoint_overrides": {"refund_create": "alibaba/ka/refund/apply"}}},
    ),
    Case("conn: host not http(s)", read_orders, "host", conn={"host": "ftp://127.0.0.1/api"}),
    Case("conn: port contradicts the host URL", read_orders, "port", conn={"port": 1}),
    Case(
        "conn: bad, via an api operator",
        op(XportcnApiOperator, endpoint="order_list", payload={"pageNo": 1}),
        "timeout",
        conn={"extra": {"timeout": "30s"}},
    ),
    # A sensor treats a failed read as a failed wait: XportcnWaitError, caused by the validation error.
    Case(
        "conn: bad, via a sensor",
        sensor(XportcnRefundStatusSensor, refund_id="TQ1"),
        "extra.user_id",
        conn={"drop": ("extra.user_id",)},
        error=XportcnWaitError,
    ),
]


def test_the_table_is_big_enough_and_spans_every_entry_point() -> None:
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)
    prefixes = [c.id.split(":")[0] for c in CASES]
    assert sum(p.endswith("sensor") for p in prefixes) >= 8
    assert prefixes.count("trigger") >= 3
    assert prefixes.count("conn") >= 10
    assert len(prefixes) - sum(p.endswith("sensor") or p in ("trigger", "conn") for p in prefixes) >= 12


def validation_error_of(err: BaseException | None) -> XportcnValidationError | None:
    """``err`` itself or the validation error it was raised from."""
    while err is not None and not isinstance(err, XportcnValidationError):
        err = err.__cause__
    return err


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_refused_before_any_call(
    case: Case, xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    if case.conn:
        set_default_conn(monkeypatch, xportcn_default_conn, **case.conn)
    with pytest.raises(Exception) as caught:
        case.attempt()
    err = caught.value
    assert type(err) is case.error, repr(err)
    cause = validation_error_of(err)
    assert cause is not None, repr(err)
    assert cause.parameter == case.parameter, str(err)
    assert case.parameter in str(err)
    assert xportcn_default_conn.control.calls() == []
