"""Issue 11 items 10 and 14 and the low items: classification of answers the contract is silent on.

Unknown envelope codes used to be final business errors whatever they said; a busy text is now
retried, an "already done" text is a conflict (which the retry-safe operators check against the
record), and a wrong *path* (HTTP 404/405) is its own error, never a business "not found".
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from xportcn_provider.api import errors as E
from xportcn_provider.api.envelope import interpret_response
from xportcn_provider.api.errors import classify_envelope, parse_retry_after

from .._support import envelope


@pytest.mark.parametrize(
    ("code", "msg", "kind"),
    [
        (500, "系统繁忙，请稍后再试", "transient"),
        (500, "System busy, please try again later", "transient"),
        (10001, "服务繁忙", "transient"),
        (500, "订单已支付，请勿重复支付", "conflict"),
        (400, "售后单已关闭", "conflict"),
        (4001, "order already paid", "conflict"),
        (4004, "订单不存在", "not_found"),
        (500, "内部错误", "business"),
        (400, "参数错误: orderId", "business"),
        (409, "state conflict", "conflict"),
    ],
)
def test_envelope_texts_decide_unknown_codes(code: int, msg: str, kind: str) -> None:
    assert classify_envelope(code, msg) == kind


def test_busy_500_is_retried_but_not_proof_that_a_write_was_skipped() -> None:
    with pytest.raises(E.XportcnTransientError) as err:
        interpret_response(
            endpoint="order_detail", http_status=200, body=envelope(500, "系统繁忙，请稍后再试")
        )
    assert err.value.retryable and not err.value.not_processed
    with pytest.raises(E.XportcnTransientError) as explicit:
        interpret_response(endpoint="order_detail", http_status=200, body=envelope(503, "busy"))
    assert explicit.value.not_processed


@pytest.mark.parametrize("status", [404, 405])
def test_wrong_path_is_not_a_business_not_found(status: int) -> None:
    with pytest.raises(E.XportcnEndpointNotFoundError) as err:
        interpret_response(endpoint="package_detail", http_status=status, body='{"detail": "No endpoint"}')
    assert not isinstance(err.value, E.XportcnNotFoundError)
    assert not err.value.retryable and "endpoint_overrides" in str(err.value)
    with pytest.raises(E.XportcnNotFoundError):
        interpret_response(
            endpoint="package_detail", http_status=200, body=envelope(404, "package not found")
        )


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(90)
    assert (
        parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now.timestamp()) == 0.0
    )


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "soon", "", "  "])
def test_unusable_retry_after_is_no_hint(value: str) -> None:
    assert parse_retry_after(value) is None


def test_nan_retry_after_does_not_break_the_retry_wait() -> None:
    with pytest.raises(E.XportcnRateLimitError) as err:
        interpret_response(endpoint="order_detail", http_status=429, body="", retry_after="nan")
    assert err.value.retry_after is None
    assert parse_retry_after("2.5") == 2.5 and not math.isnan(parse_retry_after("0") or 0.0)
