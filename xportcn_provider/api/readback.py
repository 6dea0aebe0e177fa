"""Reading a write back: an envelope ``code: 200`` is not proof that a write took effect.

A real service may answer a refused write with ``code: 200`` and a ``data`` that says it failed
(``"售后订单取消失败"``, ``{"success": false}``, ``false``), or accept it and change nothing
(issue 11 item 12). The write operators therefore (1) refuse an answer whose ``data`` reports a
failure and (2) read the record back and check the fields they wrote, a few times to allow for
read-after-write lag, before they report success. Either failure raises
:class:`~xportcn_provider.api.errors.XportcnWriteNotAppliedError` saying what the record shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from xportcn_provider.api.errors import XportcnWriteNotAppliedError

#: Words of a failure in a textual answer (Chinese and English).
FAILURE_WORDS = ("失败", "未成功", "错误", "fail", "error", "denied", "refused")
#: Keys whose false value in an object answer means the write did not happen.
SUCCESS_KEYS = ("success", "succeeded", "ok", "result", "isSuccess")
#: Read-back attempts and the pause between them (a record may show a write a moment late).
READBACK_ATTEMPTS = 3
READBACK_DELAY = 1.0

Check = Callable[[Any], "str | None"]
#: The ``msg`` of an envelope the client built from a look-up after a write's answer was lost
#: (``XportcnClient``): that look-up already read the record, so it is not read back again.
VERIFIED_MSG = "verified by look-up after a lost answer"


def was_verified(envelope: Any) -> bool:
    """Whether ``envelope`` (a client's ``last_envelope``) came from a look-up, not the server."""
    return getattr(envelope, "msg", None) == VERIFIED_MSG


def failure_in_answer(data: Any) -> str | None:
    """Why a code-200 answer's ``data`` says the write failed, or ``None`` when it does not."""
    if data is False:
        return "data is false"
    if isinstance(data, str):
        lowered = data.lower()
        if any(word in lowered for word in FAILURE_WORDS):
            return f"data says {data!r}"
        return None
    if isinstance(data, Mapping):
        for key in SUCCESS_KEYS:
            if key in data and data[key] in (False, "false", "FALSE", 0, "0", "fail", "FAIL"):
                detail = data.get("message") or data.get("msg") or data.get("errorMsg") or ""
                return f"data.{key} is {data[key]!r}" + (f" ({detail})" if detail else "")
    return None


def refuse_failed_answer(endpoint: str, answer: Any, *, request_id: str | None = None) -> None:
    """Raise :class:`XportcnWriteNotAppliedError` when a code-200 ``answer`` reports a failure.

    For writes nothing can read back (e.g. domestic waybills: no endpoint shows them).
    """
    reason = failure_in_answer(answer)
    if reason is not None:
        raise XportcnWriteNotAppliedError(
            f"Xportcn {endpoint} answered code 200 but its data reports a failure: {reason}.",
            endpoint=endpoint,
            request_id=request_id,
        )


def confirm_write(
    endpoint: str,
    answer: Any,
    read: Callable[[], Any],
    check: Check,
    *,
    request_id: str | None = None,
    verified: bool = False,
    attempts: int = READBACK_ATTEMPTS,
    delay: float = READBACK_DELAY,
    sleep: Callable[[float], Any] = time.sleep,
) -> Any:
    """Return the record read back once ``check(record)`` is ``None`` (the write shows).

    ``check`` returns what is wrong with the record (e.g. ``"status is waitselleragree"``).
    Raises :class:`XportcnWriteNotAppliedError` when ``answer`` reports a failure (without
    reading anything) or when the record still does not show the write after ``attempts`` reads.
    ``verified=True`` (the answer came from the client's look-up after a lost answer, see
    :func:`was_verified`) returns ``answer`` at once: that look-up already read the record.
    """
    if verified:
        return answer
    refuse_failed_answer(endpoint, answer, request_id=request_id)
    problem = "never read"
    for attempt in range(max(attempts, 1)):
        record = read()
        found = check(record)
        if found is None:
            return record
        problem = found
        if attempt + 1 < attempts:
            sleep(delay)
    raise XportcnWriteNotAppliedError(
        f"Xportcn {endpoint} answered code 200, but reading the record back {attempts} time(s) shows "
        f"the write did not take effect: {problem}.",
        endpoint=endpoint,
        request_id=request_id,
    )


def field_mismatches(record: Any, expected: Mapping[str, Any]) -> str | None:
    """``None`` when every ``expected`` top-level field of ``record`` equals (as text) what was sent."""
    if not isinstance(record, Mapping):
        return f"the record is {type(record).__name__}, not an object"
    wrong = [
        f"{key} is {record.get(key)!r}, not {value!r}"
        for key, value in expected.items()
        if value is not None and _norm(record.get(key)) != _norm(value)
    ]
    return "; ".join(wrong) or None


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    return None if value is None else str(value)
