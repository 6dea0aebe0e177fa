"""A ready-made Airflow 3.3 retry policy for tasks that call Xportcn.

The hook already retries transient failures a bounded number of times inside one try. What
reaches the task is therefore either something a retry cannot fix (bad input, refused
credentials, a business "no" from the server) or a transient failure that outlived the in-hook
retries. Airflow's task ``retries`` treat both the same; this policy tells them apart:

* a write whose outcome is unknown (``XportcnOutcomeUnknownError``: its answer was lost and no
  look-up could tell whether it was done) → **fail now**: a person checks the object it names;
* validation, auth (incl. clock skew) and business errors (not found, state conflict, any
  envelope ``code != 200``) → **fail now**: the next try would send the same request and get the
  same answer, and for a create call a blind retry only adds risk;
* rate limiting → retry after ``rate_limit_delay``, or after the server's ``Retry-After`` when
  it asked for longer;
* transient errors (connection, timeout, 5xx) → retry after ``transient_delay``;
* anything else → Airflow's normal retry behaviour.

A policy can only shorten a task's retries, never add to them: set ``retries`` on the task too.

Usage::

    from xportcn_provider.retry_policy import XPORTCN_RETRY_POLICY

    XportcnCreateOrderOperator(..., retries=3, retry_policy=XPORTCN_RETRY_POLICY)
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryDecision, RetryRule

from xportcn_provider.api.errors import (
    XportcnAuthError,
    XportcnBusinessError,
    XportcnOutcomeUnknownError,
    XportcnRateLimitError,
    XportcnTransientError,
    XportcnValidationError,
)

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context

DEFAULT_TRANSIENT_DELAY = timedelta(seconds=30)
DEFAULT_RATE_LIMIT_DELAY = timedelta(seconds=60)
#: A server ``Retry-After`` longer than this is capped (a typo on the server must not park a task for days).
MAX_RETRY_AFTER = timedelta(hours=1)


def _seconds(value: timedelta | float | int, parameter: str) -> timedelta:
    if isinstance(value, timedelta):
        delay = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        delay = timedelta(seconds=value)
    else:
        raise TypeError(f"{parameter} must be a timedelta or a number of seconds, got {value!r}.")
    if delay < timedelta(0):
        raise ValueError(f"{parameter} must not be negative, got {delay}.")
    return delay


class XportcnRetryPolicy(ExceptionRetryPolicy):
    """:class:`~airflow.sdk.ExceptionRetryPolicy` that also honours the server's ``Retry-After``.

    It stays an ``ExceptionRetryPolicy`` (same rules, same ``serialize``) so it can be inspected
    and combined like any other declarative policy.
    """

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        decision = super().evaluate(exception, try_number, max_tries, context)
        hint = getattr(exception, "retry_after", None)
        if decision.action is not RetryAction.RETRY or not isinstance(hint, int | float) or hint <= 0:
            return decision
        server_delay = min(timedelta(seconds=hint), MAX_RETRY_AFTER)
        if decision.retry_delay is not None and decision.retry_delay >= server_delay:
            return decision
        return RetryDecision.retry(
            delay=server_delay,
            reason=f"{decision.reason} (server asked to retry after {server_delay.total_seconds():g}s)",
        )

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> XportcnRetryPolicy:
        base = ExceptionRetryPolicy.deserialize(data)
        return cls(rules=base.rules, default=base.default)


def xportcn_retry_policy(
    transient_delay: timedelta | float = DEFAULT_TRANSIENT_DELAY,
    rate_limit_delay: timedelta | float = DEFAULT_RATE_LIMIT_DELAY,
    *,
    default: RetryAction = RetryAction.DEFAULT,
) -> XportcnRetryPolicy:
    """Build the policy; delays are ``timedelta`` or seconds.

    :param transient_delay: wait before retrying after a connection error, timeout or 5xx.
    :param rate_limit_delay: wait before retrying after a rate limit (a longer server
        ``Retry-After`` wins).
    :param default: what to do with errors that are not Xportcn's (Airflow's normal behaviour).
    """
    transient = _seconds(transient_delay, "transient_delay")
    rate_limit = _seconds(rate_limit_delay, "rate_limit_delay")
    rules = [
        RetryRule(
            exception=XportcnOutcomeUnknownError,
            action=RetryAction.FAIL,
            reason="A write's answer was lost and no look-up could tell whether it was done: "
            "check the object named in the error before running the task again",
        ),
        RetryRule(
            exception=XportcnValidationError,
            action=RetryAction.FAIL,
            reason="Invalid input: fix the task's arguments; a retry would send the same request",
        ),
        RetryRule(
            exception=XportcnAuthError,
            action=RetryAction.FAIL,
            reason="Xportcn refused the credentials or the clock: check the connection and the clock",
        ),
        RetryRule(
            exception=XportcnBusinessError,
            action=RetryAction.FAIL,
            reason="Xportcn refused the request (business error): a retry would get the same answer",
        ),
        RetryRule(
            exception=XportcnRateLimitError,
            action=RetryAction.RETRY,
            retry_delay=rate_limit,
            reason="Xportcn rate limit: backing off",
        ),
        RetryRule(
            exception=[
                XportcnTransientError,
                "requests.exceptions.ConnectionError",
                "requests.exceptions.Timeout",
                "httpx.TransportError",
            ],
            action=RetryAction.RETRY,
            retry_delay=transient,
            reason="Transient Xportcn failure (connection, timeout or server error)",
        ),
    ]
    return XportcnRetryPolicy(rules=rules, default=default)


#: The policy with default delays, ready to pass as ``retry_policy=``.
XPORTCN_RETRY_POLICY: XportcnRetryPolicy = xportcn_retry_policy()

__all__ = ["XPORTCN_RETRY_POLICY", "XportcnRetryPolicy", "xportcn_retry_policy"]
