"""Id formats: one check per id kind, in one place, run before any HTTP call (issue 14 item 2).

``XportcnPayOrderOperator(order_id="ORDER-abc")`` used to make a call and fail with a 404 that
did not name ``order_id``. The operators, sensors, the status trigger and the hook's typed
methods now all ask this module, so a malformed id fails at once with an error naming the
parameter, and nothing is sent.

What is checked, and how sure we are (``xportcn-api.md``):

============== ================================= ==============================================
kind           format                            evidence
============== ================================= ==============================================
1688 order     digits (``2618493058261900001``)  contract §2 examples; 1688 order ids are numbers
1688 sub-order digits (``subItemID``)            1688 ``orderEntryIds`` are numbers; the sandbox
Taobao order   digits (``4108220193550000001``)  Taobao order ids are numbers
refund         2 letters + digits (``TQ26…042``) contract: ``refund_cancel`` example
============== ================================= ==============================================

Every other id keeps the loose check of :func:`loose_id` (non-empty, no whitespace, at most 128
characters) because no page shows its format: caller-chosen ids (``outOrderId``,
``out_order_id``, ``tmallOrderId``), the freight ``renderId`` (one example, ``FF2024080200007``),
logistics order ids, the ``orderId`` of ``domestic_logistics_update`` (not said whether it is the
1688 order or Xport's own), offer/SKU/item ids, address and reason ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xportcn_provider.api.errors import XportcnValidationError


@dataclass(frozen=True)
class IdKind:
    """One id format: a pattern over the whole id, a name and an example for the message."""

    name: str
    pattern: re.Pattern[str]
    example: str
    rule: str

    def check(self, value: Any, parameter: str, *, endpoint: str | None = None) -> str:
        """The id as a stripped string, or an error naming ``parameter``, the format and an example."""
        text = loose_id(value, parameter, endpoint=endpoint)
        if not self.pattern.fullmatch(text):
            raise XportcnValidationError(
                f"{parameter}: {text[:40]!r} is not a {self.name} ({self.rule}, e.g. {self.example}).",
                parameter=parameter,
                endpoint=endpoint,
            )
        return text


ORDER_1688 = IdKind("1688 order id", re.compile(r"\d{1,32}"), "2618493058261900001", "digits only")
SUB_ORDER_1688 = IdKind(
    "1688 sub-order id (subItemID)", re.compile(r"\d{1,32}"), "3618493058261900001", "digits only"
)
TAOBAO_ORDER = IdKind("Taobao order id", re.compile(r"\d{1,32}"), "4108220193550000001", "digits only")
REFUND = IdKind(
    "refund id", re.compile(r"[A-Za-z]{2}\d{1,32}"), "TQ260923837649136042", "two letters then digits"
)

#: Body fields whose format is known, per endpoint: field -> (kind, keyword argument name).
#: Endpoints and fields not listed get the loose check only (see the module docstring).
_ORDER_AND_ENTRIES = {
    "orderId": (ORDER_1688, "order_id"),
    "orderEntryIds": (SUB_ORDER_1688, "order_entry_ids"),
}
BODY_IDS: Mapping[str, Mapping[str, tuple[IdKind, str]]] = {
    "order_pay": {"orderId": (ORDER_1688, "order_id")},
    "order_detail": {"orderId": (ORDER_1688, "order_id")},
    "order_logistics": {"orderId": (ORDER_1688, "order_id")},
    "refund_reasons": {
        "orderId": (ORDER_1688, "order_id"),
        "orderEntryIds": (SUB_ORDER_1688, "order_entry_ids"),
    },
    "refund_create": {
        "orderId": (ORDER_1688, "order_id"),
        "orderEntryIds": (SUB_ORDER_1688, "order_entry_ids"),
    },
    "refund_detail": {"refundId": (REFUND, "refund_id")},
    "refund_cancel": {"refundId": (REFUND, "refund_id")},
    "refund_return_submit": {"refundId": (REFUND, "refund_id")},
    "taobao_order_list": {"orderId": (TAOBAO_ORDER, "order_id")},
    "package_forecast": {"alibaba_order_id": (ORDER_1688, "alibaba_order_id")},
    "package_inbound": {"alibaba_order_id": (ORDER_1688, "alibaba_order_id")},
    "package_update": {"alibaba_order_id": (ORDER_1688, "alibaba_order_id")},
}


def loose_id(value: Any, parameter: str, *, endpoint: str | None = None) -> str:
    """Any id: a non-empty string or integer, no whitespace, at most 128 characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise XportcnValidationError(
            f"{parameter}: is required (a non-empty id).", parameter=parameter, endpoint=endpoint
        )
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise XportcnValidationError(
            f"{parameter}: must be a string or an integer id, got {type(value).__name__}.",
            parameter=parameter,
            endpoint=endpoint,
        )
    text = str(value).strip()
    if len(text) > 128 or any(ch.isspace() for ch in text):
        raise XportcnValidationError(
            f"{parameter}: {text[:40]!r} does not look like an id (no spaces, at most 128 chars).",
            parameter=parameter,
            endpoint=endpoint,
        )
    return text


def check_body_ids(endpoint: str, body: Mapping[str, Any], *, names: Mapping[str, str] | None = None) -> None:
    """Check the ids of a request body whose format is known; errors name the keyword argument.

    ``names`` overrides the parameter named in the error per body field.
    """
    for field, (kind, parameter) in BODY_IDS.get(endpoint, {}).items():
        if field not in body or body[field] is None:
            continue
        shown = (names or {}).get(field, parameter)
        value = body[field]
        if isinstance(value, list | tuple):
            for index, item in enumerate(value):
                _check_one(kind, item, f"{shown}[{index}]", shown, endpoint)
        else:
            _check_one(kind, value, shown, shown, endpoint)


def _check_one(kind: IdKind, value: Any, where: str, parameter: str, endpoint: str) -> None:
    try:
        kind.check(value, where, endpoint=endpoint)
    except XportcnValidationError as err:
        raise XportcnValidationError(err.message, parameter=parameter, endpoint=endpoint) from None
