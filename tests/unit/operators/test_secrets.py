"""The access secret never reaches XCom, rendered template fields or the operators' log lines."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from xportcn_provider.api.errors import XportcnError
from xportcn_provider.operators.orders import XportcnCreateOrderOperator, XportcnPayOrderOperator
from xportcn_provider.operators.refunds import XportcnCancelRefundOperator

from .conftest import FakeStore, FakeTI, make_context

ADDRESS = {"fullName": "A", "mobile": "1", "address": "B"}
CARGO = [{"offerId": "1", "quantity": 1}]


def _rendered(op, context) -> str:
    op.render_template_fields(context)
    return json.dumps(
        {name: getattr(op, name) for name in op.template_fields}, default=str, ensure_ascii=False
    )


def test_secret_absent_from_xcom_rendered_fields_logs_and_store(api, secret):
    api.on("order_list", {"list": [], "total": 0})
    api.on("order_create", {"orderId": "9", "outOrderId": "x", "status": "waitbuyerpay", "duplicate": False})
    api.on("order_detail", {"orderId": "9", "status": "waitbuyerpay"})
    api.on("order_pay", {"orderId": "9", "payUrl": "https://pay.test/9"})
    api.on("refund_detail", {"refundId": "TQ1", "status": "refundclose"})
    ti, store = FakeTI(), FakeStore()
    context = make_context(ti, store)
    operators = [
        XportcnCreateOrderOperator(
            task_id="c", address_param=ADDRESS, cargo_param_list=CARGO, out_order_id="{{ run_id }}"
        ),
        XportcnPayOrderOperator(task_id="p", order_id="9"),
        XportcnCancelRefundOperator(task_id="r", refund_id="TQ1"),
    ]
    with capture_logs() as logs:
        rendered = [_rendered(op, context) for op in operators]
        results = [op.execute(context) for op in operators]
    everything = json.dumps(
        [rendered, results, ti.xcom, store.data, [str(e) for e in logs]], default=str, ensure_ascii=False
    )
    assert ti.xcom and store.data and logs
    assert secret not in everything


def test_secret_absent_from_errors(api, secret):
    api.on("order_detail", {"orderId": "9", "status": "waitbuyerpay"})
    api.fail("order_pay", 401, "signature mismatch")
    with pytest.raises(XportcnError) as err:
        XportcnPayOrderOperator(task_id="p", order_id="9").execute(make_context())
    assert secret not in str(err.value) and secret not in repr(err.value)
    assert "signature" in str(err.value)
