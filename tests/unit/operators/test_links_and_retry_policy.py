"""Extra links read from XCom; the retry policy's decisions for each kind of failure."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from airflow.sdk import ExceptionRetryPolicy, RetryAction

from xportcn_provider import links
from xportcn_provider.api.errors import (
    XportcnAuthError,
    XportcnClockSkewError,
    XportcnConflictError,
    XportcnNotFoundError,
    XportcnProtocolError,
    XportcnRateLimitError,
    XportcnTimeoutError,
    XportcnTransientError,
    XportcnValidationError,
)
from xportcn_provider.operators.orders import XportcnOrderOverBudgetError
from xportcn_provider.retry_policy import XPORTCN_RETRY_POLICY, XportcnRetryPolicy, xportcn_retry_policy
from xportcn_provider.waiting import XportcnWaitError

from .conftest import FakeTI, make_context


def test_console_link_quotes_the_id():
    assert (
        links.console_link("https://c.test/", "refund", "TQ 1/2")
        == "https://c.test/refund/detail?refundId=TQ%201%2F2"
    )
    with pytest.raises(ValueError, match="No console URL pattern"):
        links.console_link("https://c.test", "spaceship", "1")


@pytest.mark.parametrize("link_cls", links.ALL_LINKS, ids=lambda c: c.__name__)
def test_link_reads_its_xcom_key(link_cls):
    ti_key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    with mock.patch("airflow.sdk.execution_time.xcom.XCom.get_value", return_value="https://c.test/x") as get:
        assert link_cls().get_link(mock.Mock(), ti_key=ti_key) == "https://c.test/x"
    get.assert_called_once_with(key=link_cls.url_key, ti_key=ti_key)
    with mock.patch("airflow.sdk.execution_time.xcom.XCom.get_value", return_value=None):
        assert link_cls().get_link(mock.Mock(), ti_key=ti_key) == ""


def test_link_persist_pushes_under_its_key():
    ti = FakeTI()
    links.XportcnRefundLink.persist(make_context(ti), "https://c.test/r")
    assert ti.xcom == {"refund_url": "https://c.test/r"}


def test_link_names_are_unique():
    assert len({cls.name for cls in links.ALL_LINKS}) == len(links.ALL_LINKS)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (XportcnValidationError("bad", parameter="x"), RetryAction.FAIL),
        (XportcnOrderOverBudgetError("too dear", parameter="max_total_fen"), RetryAction.FAIL),
        (XportcnAuthError("signature"), RetryAction.FAIL),
        (XportcnClockSkewError("clock"), RetryAction.FAIL),
        (XportcnNotFoundError("gone"), RetryAction.FAIL),
        (XportcnConflictError("state"), RetryAction.FAIL),
        (XportcnRateLimitError("slow down"), RetryAction.RETRY),
        (XportcnTransientError("503"), RetryAction.RETRY),
        (XportcnTimeoutError("timeout"), RetryAction.RETRY),
        (XportcnProtocolError("html"), RetryAction.DEFAULT),
        (XportcnWaitError("gave up", status=None, ids={}), RetryAction.DEFAULT),
        (ValueError("someone else's"), RetryAction.DEFAULT),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_policy_decisions(error, action):
    decision = XPORTCN_RETRY_POLICY.evaluate(error, try_number=1, max_tries=3)
    assert decision.action is action
    if action is not RetryAction.DEFAULT:
        assert decision.reason


def test_policy_delays_and_retry_after():
    policy = xportcn_retry_policy(transient_delay=5, rate_limit_delay=timedelta(seconds=10))
    assert policy.evaluate(XportcnTransientError("x"), 1, 3).retry_delay == timedelta(seconds=5)
    assert policy.evaluate(XportcnRateLimitError("x"), 1, 3).retry_delay == timedelta(seconds=10)
    # The server asks for longer: it wins.
    assert policy.evaluate(XportcnRateLimitError("x", retry_after=90), 1, 3).retry_delay == timedelta(
        seconds=90
    )
    # Shorter than ours: ours stays.
    assert policy.evaluate(XportcnRateLimitError("x", retry_after=2), 1, 3).retry_delay == timedelta(
        seconds=10
    )
    # Absurd: capped at an hour.
    assert policy.evaluate(XportcnTransientError("x", retry_after=10**7), 1, 3).retry_delay == timedelta(
        hours=1
    )


@pytest.mark.parametrize("bad", [-1, "30s", None, True])
def test_policy_factory_refuses_bad_delays(bad):
    with pytest.raises((TypeError, ValueError)):
        xportcn_retry_policy(transient_delay=bad)


def test_policy_serializes_like_an_exception_policy():
    data = XPORTCN_RETRY_POLICY.serialize()
    assert isinstance(XPORTCN_RETRY_POLICY, ExceptionRetryPolicy)
    rebuilt = XportcnRetryPolicy.deserialize(data)
    assert isinstance(rebuilt, XportcnRetryPolicy)
    assert rebuilt.serialize() == data
    assert rebuilt.evaluate(XportcnAuthError("x"), 1, 3).action is RetryAction.FAIL
