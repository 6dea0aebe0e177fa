"""``XportcnApiOperator`` writes across Airflow retries (``operators.write_guard``), on the sandbox.

A "sent" mark in the task state store (a ``FakeStore`` shared by the tries, as Airflow shares its
store across the tries of one task instance) makes a second try ask the endpoint's look-up
instead of sending again; an endpoint without a look-up fails for a person, unless told to
resend; a write refused outright leaves nothing to ask about. Run against a sandbox that
deduplicates and one that does not: the count of created objects is the proof.
"""

from __future__ import annotations

import base64
import time

import pytest

from xportcn_provider.api.errors import (
    XportcnOutcomeUnknownError,
    XportcnRateLimitError,
    XportcnValidationError,
)
from xportcn_provider.operators.generic import XportcnApiOperator
from xportcn_provider.operators.write_guard import REFUSED, SENT, write_mark_key

from .operators_support import FakeStore, FakeTI, endpoints_called, make_context, use_sandbox

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(32))).decode()


def _forecast(out_order_id: str, **kwargs: object) -> XportcnApiOperator:
    payload = {"out_order_id": out_order_id, "logistics_tracking_number": f"SF{out_order_id[-12:]}"}
    return XportcnApiOperator(task_id="forecast", endpoint="package_forecast", payload=payload, **kwargs)


def _upload(**kwargs: object) -> XportcnApiOperator:
    payload = {"imageBase64": PNG, "fileName": "box.png"}
    return XportcnApiOperator(task_id="voucher", endpoint="refund_voucher_upload", payload=payload, **kwargs)


def _mark_sent(store: FakeStore, op: XportcnApiOperator, endpoint: str) -> None:
    """What a try leaves behind when it is killed right after sending."""
    store.set(write_mark_key(op, endpoint, dict(op.payload)), {"state": SENT, "at": time.time() - 5})


def test_a_retry_finds_the_write_of_a_killed_try_instead_of_sending_it_again(
    any_sandbox, monkeypatch
) -> None:
    use_sandbox(monkeypatch, any_sandbox, max_retries=0)
    out_id = f"OUT-{time.time_ns()}"
    store, ti = FakeStore(), FakeTI(task_id="forecast")
    # try 1: sent (the mark), processed by the service, then the worker died before the answer
    first = _forecast(out_id)
    _mark_sent(store, first, "package_forecast")
    first.hook.call("package_forecast", dict(first.payload))  # processed; its answer never recorded
    before = any_sandbox.control.state()["packages"]
    any_sandbox.control.clear_calls()
    # try 2 finds it through package_detail and sends nothing
    data = _forecast(out_id).execute(make_context(ti, store))
    assert data["out_order_id"] == out_id
    assert "package_forecast" not in endpoints_called(any_sandbox)
    assert any_sandbox.control.state()["packages"] == before


def test_a_retry_sends_again_when_the_look_up_proves_nothing_was_processed(any_sandbox, monkeypatch) -> None:
    use_sandbox(monkeypatch, any_sandbox, max_retries=0)
    out_id = f"OUT-{time.time_ns()}"
    store, ti = FakeStore(), FakeTI(task_id="forecast")
    _mark_sent(store, _forecast(out_id), "package_forecast")  # sent, but it never arrived
    before = any_sandbox.control.state()["packages"]
    _forecast(out_id).execute(make_context(ti, store))
    assert endpoints_called(any_sandbox).count("package_forecast") == 1
    assert any_sandbox.control.state()["packages"] == before + 1


def test_a_write_without_a_look_up_is_not_sent_twice_unless_told(any_sandbox, monkeypatch) -> None:
    use_sandbox(monkeypatch, any_sandbox, max_retries=0)
    store, ti = FakeStore(), FakeTI(task_id="voucher")
    # try 1: the answer is lost; the hook's rule for the upload is "never": outcome unknown
    any_sandbox.control.inject("commit_then_drop", endpoint="refund_voucher_upload")
    with pytest.raises(XportcnOutcomeUnknownError):
        _upload().execute(make_context(ti, store))
    assert any_sandbox.control.state()["vouchers"] == 1
    any_sandbox.control.clear_calls()
    # try 2: refuses to send it again, says what to look for
    with pytest.raises(XportcnOutcomeUnknownError, match="NOT sent again") as err:
        _upload().execute(make_context(ti, store))
    assert "on_unknown_outcome='resend'" in str(err.value) and "fileName=box.png" in str(err.value)
    assert endpoints_called(any_sandbox) == [] and any_sandbox.control.state()["vouchers"] == 1
    # a person checked: resend on purpose
    _upload(on_unknown_outcome="resend").execute(make_context(ti, store))
    assert endpoints_called(any_sandbox) == ["refund_voucher_upload"]


def test_a_write_refused_before_processing_is_simply_sent_again(any_sandbox, monkeypatch) -> None:
    use_sandbox(monkeypatch, any_sandbox, max_retries=0)
    store, ti = FakeStore(), FakeTI(task_id="voucher")
    any_sandbox.control.inject("http_429", endpoint="refund_voucher_upload", count=1)
    with pytest.raises(XportcnRateLimitError):
        _upload().execute(make_context(ti, store))
    op = _upload()
    assert store.data[write_mark_key(op, "refund_voucher_upload", dict(op.payload))]["state"] == REFUSED
    _upload().execute(make_context(ti, store))
    assert any_sandbox.control.state()["vouchers"] == 1


def test_another_payload_is_another_write_and_a_bad_choice_fails_first(any_sandbox, monkeypatch) -> None:
    use_sandbox(monkeypatch, any_sandbox, max_retries=0)
    store, ti = FakeStore(), FakeTI(task_id="voucher")
    _mark_sent(store, _upload(), "refund_voucher_upload")
    other = XportcnApiOperator(
        task_id="voucher",
        endpoint="refund_voucher_upload",
        payload={"imageBase64": PNG, "fileName": "other.png"},
    )
    other.execute(make_context(ti, store))  # not the marked write: sent
    with pytest.raises(XportcnValidationError, match="on_unknown_outcome"):
        _upload(on_unknown_outcome="maybe").execute(make_context(ti, store))
    assert endpoints_called(any_sandbox) == ["refund_voucher_upload"]
