"""Realistic id generators: numeric 1688 order ids, ``TQ…`` refund ids, tracking numbers.

Ids come from per-kind counters (so two runs produce the same ids after a reset, which keeps
test failures reproducible) and have the shapes the real service uses, so code that checks an
id's format is exercised too.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime


class IdFactory:
    """Counters for every kind of id; a fresh factory comes with every reset."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def _next(self, kind: str) -> int:
        counter = self._counters.setdefault(kind, itertools.count(1))
        return next(counter)

    def order_id(self) -> str:
        """19-digit 1688 order id, e.g. ``2618493058261900001``."""
        return str(2_618_493_058_261_900_000 + self._next("order"))

    def sub_item_id(self) -> str:
        return str(3_618_493_058_261_900_000 + self._next("sub_item"))

    def taobao_order_id(self) -> str:
        return str(4_108_220_193_550_000_000 + self._next("taobao_order"))

    def refund_id(self) -> str:
        """``TQ`` + 18 digits, like ``TQ260923837649136042``."""
        return f"TQ{260_923_837_649_136_000 + self._next('refund')}"

    def render_id(self, now: float) -> str:
        """``FF`` + date + 5 digits, like ``FF2024080200007``."""
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        return f"FF{day}{self._next('render'):05d}"

    def logistics_order_id(self) -> str:
        return f"LP{5_000_000_000_000 + self._next('logistics')}"

    def address_id(self) -> str:
        return str(7_000_000 + self._next("address"))

    def voucher_id(self) -> str:
        return f"{self._next('voucher'):08d}"

    def seed_number(self) -> int:
        return self._next("seed")


def domestic_tracking_number(order_id: str) -> str:
    """The seller's domestic tracking number for an order (YTO style: ``YT`` + 13 digits)."""
    return f"YT{order_id[-13:]}"


def intl_tracking_number(logistics_order_id: str) -> str:
    """International tracking number (UPU S10 style: 2 letters, 9 digits, ``CN``)."""
    digits = "".join(ch for ch in logistics_order_id if ch.isdigit())[-9:].rjust(9, "0")
    return f"XP{digits}CN"


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC with a ``Z`` (the data-shapes page's time format)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
