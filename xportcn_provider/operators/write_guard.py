"""An Airflow retry never re-sends a write blindly, even through the generic operator.

Within one try the hook already settles a lost answer (``endpoints.RETRY_RULES``). An *Airflow*
retry is another matter: the worker may have been killed mid-call, or the try failed after the
hook gave up, and the next try would send the same write again. The dedicated operators know
their write and guard it (a caller key, a look-up, a "sent" mark). :func:`send_write` gives the
generic ``XportcnApiOperator`` the same guard for any write endpoint:

1. a "sent" mark goes to ``task_state_store`` just before the write is sent, keyed by the
   endpoint and a digest of the exact payload (another payload is another write);
2. a try that finds the mark of an earlier try asks the endpoint's look-up
   (:data:`~xportcn_provider.api.verify.VERIFIERS`) when it has one: found → that is the answer,
   nothing is sent; not found → sent again (the look-up proves it was not processed). A look-up
   that cannot decide, or an endpoint without one, fails the task with
   :class:`~xportcn_provider.api.errors.XportcnOutcomeUnknownError` naming the caller key and
   the console, unless ``on_unknown_outcome="resend"``;
3. a try whose write was *definitely* not applied (refused before processing, or answered with a
   business error) turns the mark into "refused", so the next try sends without asking.

Without a task state store (``dag.test()`` on older Airflow, a direct ``execute``) there is no
mark and no guard beyond the hook's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.errors import (
    XportcnAuthError,
    XportcnBusinessError,
    XportcnEndpointNotFoundError,
    XportcnError,
    XportcnOutcomeUnknownError,
    XportcnValidationError,
)
from xportcn_provider.api.verify import VERIFIERS, caller_key, run_lookup

if TYPE_CHECKING:
    from airflow.sdk import Context

    from xportcn_provider.operators.base import XportcnBaseOperator

#: What ``on_unknown_outcome`` may say.
ON_UNKNOWN_OUTCOME = ("fail", "resend")
#: The mark's states.
SENT, REFUSED = "sent", "refused"


def write_mark_key(operator: XportcnBaseOperator, endpoint: str, payload: Mapping[str, Any]) -> str:
    """``xportcn:api:<endpoint>:<digest>``: one mark per exact write."""
    canonical = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()[:20]
    return operator.state_key("api", endpoint, digest)


def definitely_not_applied(err: BaseException) -> bool:
    """Whether a write that raised ``err`` certainly changed nothing on the server.

    Refused before processing (connection refused, 429, 503 with ``Retry-After``, a rejected
    signature, an unknown path) or answered with a business or validation error. Everything else
    (a timeout after sending, a bare 5xx, a broken body, a killed worker) leaves it unknown.
    """
    if not isinstance(err, XportcnError) or isinstance(err, XportcnOutcomeUnknownError):
        return False
    return err.not_processed or isinstance(
        err, XportcnAuthError | XportcnBusinessError | XportcnValidationError | XportcnEndpointNotFoundError
    )


def _unknown(
    operator: XportcnBaseOperator, endpoint: str, payload: Mapping[str, Any], why: str
) -> XportcnOutcomeUnknownError:
    key = caller_key(endpoint, payload)
    keys = ", ".join(f"{k}={v}" for k, v in key.items()) or "the payload of this task"
    return XportcnOutcomeUnknownError(
        f"{endpoint}: an earlier try of this task sent this write and its outcome is unknown; {why} "
        f"It was NOT sent again, so nothing is done twice. Look in the Xportcn console "
        f"({operator.hook.console_url}) for {keys}. If it is not there, run the task again with "
        "on_unknown_outcome='resend'.",
        key=key,
        check=f"{keys} in the console",
        endpoint=endpoint,
    )


def send_write(
    operator: XportcnBaseOperator,
    context: Context,
    endpoint: str,
    payload: dict[str, Any],
    *,
    resend: bool,
) -> tuple[Any, str | None]:
    """Send write ``endpoint`` once across Airflow retries; return ``(data, requestId)``."""
    mark_key = write_mark_key(operator, endpoint, payload)
    mark = operator.recall(context, mark_key)
    if isinstance(mark, Mapping) and mark.get("state") == SENT:
        sent_at = float(mark.get("at") or 0.0)
        if CATALOGUE[endpoint].retry == "verify":
            try:
                found = run_lookup(VERIFIERS[endpoint](payload, sent_at), operator.hook.call)
            except XportcnError as err:
                if not resend:
                    raise _unknown(
                        operator, endpoint, payload, f"the look-up could not tell ({err.message})."
                    ) from None
                operator.log.warning(
                    "Xportcn %s: an earlier try sent this write and the look-up could not tell (%s); "
                    "sending it again (on_unknown_outcome='resend').",
                    endpoint,
                    err.message,
                )
            else:
                if found is not None:
                    operator.log_action(
                        endpoint,
                        caller_key(endpoint, payload),
                        "an earlier try's write was found by the look-up; not sent again",
                    )
                    return found, None
                operator.log.warning(
                    "Xportcn %s: an earlier try sent this write; the look-up finds nothing, so it is "
                    "sent again.",
                    endpoint,
                )
        elif not resend:
            raise _unknown(
                operator, endpoint, payload, "this endpoint has no look-up to tell whether it was processed."
            )
        else:
            operator.log.warning(
                "Xportcn %s: an earlier try sent this write without a known outcome; sending it again "
                "(on_unknown_outcome='resend': relies on the service refusing a repeat).",
                endpoint,
            )
    operator.remember(context, mark_key, {"state": SENT, "at": time.time()})
    try:
        envelope = operator.hook.call_envelope(endpoint, payload)
    except BaseException as err:
        if definitely_not_applied(err):
            operator.remember(context, mark_key, {"state": REFUSED, "at": time.time()})
        raise
    return envelope.data, envelope.request_id
