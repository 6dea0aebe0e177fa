"""Run-time options of the sandbox: life-cycle delays and scripted outcomes.

Life cycles are derived from timestamps on read (see :mod:`.lifecycle`), so a delay is simply
"how long after entering a state the next one is due". Defaults are a few seconds so a demo DAG
visibly moves; tests call ``configure(all_delays=0.05)`` or ``advance(seconds)`` instead of
sleeping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from xportcn_provider.sandbox.variants import VariantError, check_variants

#: What the seller does with a refund once ``refund_agree_delay`` has passed.
REFUND_OUTCOMES = ("auto", "agree_refund", "request_return", "refuse")
#: How the warehouse's inspection ends once ``package_qc_delay`` has passed.
QC_OUTCOMES = ("pass", "fail")


class ConfigError(ValueError):
    """An unknown option or a bad value given to ``configure``."""


@dataclass
class SandboxConfig:
    """Every option ``configure()`` / ``--delay`` may change; a reset restores these defaults."""

    #: ``waitsellersend`` -> ``waitbuyerreceive`` (the seller ships; a tracking number appears).
    order_ship_delay: float = 2.0
    #: ``waitbuyerreceive`` -> ``confirm_goods``.
    order_receive_delay: float = 2.0
    #: ``confirm_goods`` -> ``success``.
    order_success_delay: float = 1.0
    #: Taobao ``0`` (wait buyer pay) -> ``10`` (paid on the payment period, wait seller send).
    taobao_pay_delay: float = 1.0
    #: Taobao ``10`` -> ``11`` (shipped, wait buyer confirm).
    taobao_ship_delay: float = 2.0
    #: ``waitselleragree`` -> the seller's decision (see ``refund_outcome``).
    refund_agree_delay: float = 2.0
    #: ``waitsellerreceive`` -> ``refundsuccess`` (returned goods received).
    refund_receive_delay: float = 2.0
    #: ``FORECASTED`` -> ``INBOUND`` (the parcel reaches the warehouse).
    package_inbound_delay: float = 2.0
    #: ``INBOUND`` -> ``QC_PASSED``/``QC_FAILED`` (see ``qc_outcome``).
    package_qc_delay: float = 1.0
    #: international logistics ``CREATED`` -> ``IN_TRANSIT`` (tracking number assigned).
    logistics_transit_delay: float = 2.0
    #: international logistics ``IN_TRANSIT`` -> ``DELIVERED`` (the package becomes ``DELIVERED``).
    logistics_deliver_delay: float = 2.0
    #: Default seller decision: ``auto`` agrees (refund only -> ``refundsuccess``, return and
    #: refund -> ``waitbuyersend``); ``refuse`` -> ``waitbuyermodify``.
    refund_outcome: str = "auto"
    #: Default inspection result of packages whose inspection runs on the clock.
    qc_outcome: str = "pass"
    #: ``False`` freezes every clock-driven transition (only API calls and ``force`` move states).
    auto_advance: bool = True
    #: Largest ``pageSize`` a list endpoint accepts.
    max_page_size: int = 100
    #: ``True``: the service deduplicates, as the provider once assumed (an ``outOrderId`` or
    #: ``tmallOrderId`` seen before answers the existing record, a second refund on a sub-order
    #: with an open or succeeded refund is refused, paying a paid order is a conflict).
    #: ``False`` (``--no-dedupe``): a service that trusts its client — every create creates,
    #: every pay charges again. The provider must make no duplicate against either.
    dedupe: bool = True
    #: Active variants (names from :data:`~.variants.VARIANTS`): answers the way a real service
    #: could differ from the contract's assumptions. Empty: the assumed shapes.
    variants: tuple[str, ...] = ()

    def update(self, **options: Any) -> None:
        """Apply options after checking every one (nothing changes when one is bad).

        ``all_delays=<seconds>`` sets every ``*_delay`` at once.
        """
        known = {f.name: f for f in fields(self)}
        staged: dict[str, Any] = {}
        if "all_delays" in options:
            value = _delay("all_delays", options.pop("all_delays"))
            staged.update({name: value for name in DELAY_NAMES})
        for name, value in options.items():
            if name not in known:
                valid = ", ".join(sorted([*known, "all_delays"]))
                raise ConfigError(f"unknown sandbox option {name!r}; valid: {valid}")
            staged[name] = _check(name, value)
        for name, value in staged.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DELAY_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SandboxConfig) if f.name.endswith("_delay"))


def _delay(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check(name: str, value: Any) -> Any:
    if name.endswith("_delay"):
        return _delay(name, value)
    if name == "refund_outcome":
        if value not in REFUND_OUTCOMES:
            raise ConfigError(f"refund_outcome must be one of {', '.join(REFUND_OUTCOMES)}, got {value!r}")
        return value
    if name == "qc_outcome":
        if value not in QC_OUTCOMES:
            raise ConfigError(f"qc_outcome must be one of {', '.join(QC_OUTCOMES)}, got {value!r}")
        return value
    if name in ("auto_advance", "dedupe"):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if name == "variants":
        try:
            return check_variants(value)
        except VariantError as err:
            raise ConfigError(str(err)) from None
    if name == "max_page_size":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"max_page_size must be a whole number >= 1, got {value!r}")
        return value
    raise ConfigError(f"unknown sandbox option {name!r}")  # pragma: no cover - guarded by update()
