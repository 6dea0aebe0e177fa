"""The Xportcn status sensors: refunds, orders (1688 and Taobao), warehouse packages, logistics.

Each sensor only maps its arguments to a :class:`~xportcn_provider.api.waits.WaitSpec` (the
one definition of what a status means, shared with the trigger); modes, timeouts, soft_fail,
error tolerance and the returned record come from
:class:`~xportcn_provider.sensors.base.XportcnStatusSensorBase`. See ``docs/sensors.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.waits import (
    WaitSpec,
    domestic_tracking_wait,
    international_wait,
    order_wait,
    package_wait,
    refund_wait,
    taobao_order_wait,
)
from xportcn_provider.sensors.base import XportcnStatusSensorBase

PLATFORMS = ("1688", "taobao")
LEGS = ("domestic", "international")


class XportcnRefundStatusSensor(XportcnStatusSensorBase):
    """Wait for a refund (``refund_detail``) to reach a status.

    :param refund_id: the refund id (``TQ…``), e.g. from ``XportcnCreateRefundOperator``'s XCom.
        Templated.

    Defaults: target ``refundsuccess``; failure ``refundclose``; status field ``status``.
    """

    template_fields: Sequence[str] = (*XportcnStatusSensorBase.template_fields, "refund_id")

    def __init__(self, *, refund_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refund_id = refund_id

    def build_spec(self) -> WaitSpec:
        return refund_wait(self.refund_id, **self._status_kwargs())


class XportcnOrderStatusSensor(XportcnStatusSensorBase):
    """Wait for a 1688 or Taobao order to reach a status (by default: shipped).

    :param order_id: the Xportcn order id. Templated.
    :param platform: ``"1688"`` (``order_detail``, raw 1688 statuses) or ``"taobao"``
        (``taobao_order_list`` filtered by id, numeric ``TaoBaoOrderStatusEnum`` codes). Templated.

    Defaults (1688): target group ``shipped`` = ``waitbuyerreceive``, ``confirm_goods``,
    ``success``; failure ``cancel``, ``terminated``; status field ``status``.
    Defaults (Taobao): target ``shipped`` = ``wait_buyer_confirm`` (11); failure ``closed`` (4),
    ``finance_refused`` (3); status field ``status`` of the listed row whose ``orderId`` is
    ``order_id`` (a service that ignores the filter cannot end the wait with another order).
    """

    template_fields: Sequence[str] = (*XportcnStatusSensorBase.template_fields, "order_id", "platform")

    def __init__(self, *, order_id: str, platform: str = "1688", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_id = order_id
        self.platform = platform

    def build_spec(self) -> WaitSpec:
        platform = str(self.platform).strip().lower()
        if platform == "1688":
            return order_wait(self.order_id, **self._status_kwargs())
        if platform == "taobao":
            return taobao_order_wait(self.order_id, **self._status_kwargs())
        raise XportcnValidationError(
            f"platform must be one of {', '.join(PLATFORMS)}, got {self.platform!r}.", parameter="platform"
        )


class XportcnPackageStatusSensor(XportcnStatusSensorBase):
    """Wait for a warehouse package (``package_detail``) to reach a status (by default: QC passed).

    Identify the package by ``out_order_id`` (the id it was forecast with) or by the domestic
    ``tracking_number`` it arrives with; both templated.

    Defaults: target ``QC_PASSED``; failure ``QC_FAILED``; status field ``status``. Other useful
    targets: ``"inspected"`` (QC_PASSED or QC_FAILED), ``"received"`` (inbound or later),
    ``["SHIPPED", "DELIVERED"]``.
    """

    template_fields: Sequence[str] = (
        *XportcnStatusSensorBase.template_fields,
        "out_order_id",
        "tracking_number",
    )

    def __init__(
        self, *, out_order_id: str | None = None, tracking_number: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.out_order_id = out_order_id
        self.tracking_number = tracking_number

    def build_spec(self) -> WaitSpec:
        return package_wait(
            out_order_id=self.out_order_id, tracking_number=self.tracking_number, **self._status_kwargs()
        )


class XportcnLogisticsStatusSensor(XportcnStatusSensorBase):
    """Wait for an order's logistics: the domestic leg (seller ships) or the international one.

    :param leg: ``"domestic"`` (default): done once ``order_logistics`` shows the seller's
        tracking number for ``order_id`` (``status_field`` defaults to ``trackingNumber``); a
        cancelled/terminated order fails. ``"international"``: done once the warehouse package
        (``out_order_id`` or ``tracking_number``) reaches ``target_statuses`` (default ``SHIPPED``
        or ``DELIVERED``); ``QC_FAILED`` fails. Templated.
    :param order_id: the order id, for the domestic leg. Templated.
    :param out_order_id: the package's out_order_id, for the international leg. Templated.
    :param tracking_number: the package's domestic tracking number, for the international leg.
        Templated.

    The returned record is the ``order_logistics`` answer (domestic) or the package record
    (international, with ``intl_logistics_order_id``).
    """

    template_fields: Sequence[str] = (
        *XportcnStatusSensorBase.template_fields,
        "leg",
        "order_id",
        "out_order_id",
        "tracking_number",
    )

    def __init__(
        self,
        *,
        leg: str = "domestic",
        order_id: str | None = None,
        out_order_id: str | None = None,
        tracking_number: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.leg = leg
        self.order_id = order_id
        self.out_order_id = out_order_id
        self.tracking_number = tracking_number

    def build_spec(self) -> WaitSpec:
        leg = str(self.leg).strip().lower()
        if leg == "domestic":
            for name in ("target_statuses", "failure_statuses"):
                if getattr(self, name) is not None:
                    raise XportcnValidationError(
                        f"{name} does not apply to leg='domestic' (it waits for the tracking number to "
                        "exist); use leg='international' to wait for package statuses.",
                        parameter=name,
                    )
            if self.order_id in (None, ""):
                raise XportcnValidationError("order_id is required for leg='domestic'.", parameter="order_id")
            return domestic_tracking_wait(self.order_id, tracking_field=self.status_field or "trackingNumber")
        if leg == "international":
            return international_wait(
                out_order_id=self.out_order_id,
                tracking_number=self.tracking_number,
                **self._status_kwargs(),
            )
        raise XportcnValidationError(
            f"leg must be one of {', '.join(LEGS)}, got {self.leg!r}.", parameter="leg"
        )
