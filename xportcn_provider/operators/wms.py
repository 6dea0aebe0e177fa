"""Xport warehouse (wms): forecast a parcel, update the forecast, record the inbound inspection.

Warehouse bodies are snake_case (contract §2). A package is identified by ``out_order_id``
(your order id) and the domestic ``logistics_tracking_number``. Every operator returns the
``out_order_id`` (what ``XportcnPackageStatusSensor`` waits on) and pushes ``package_status``
and ``package_url``.

Forecasting is made retry-safe by reading the package first: a package already forecast with
the same tracking number is reused. An inbound answered by a state conflict is success when the
package is already inbound or inspected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xportcn_provider.api import statuses as st
from xportcn_provider.api.errors import XportcnConflictError, XportcnNotFoundError, XportcnValidationError
from xportcn_provider.api.readback import confirm_write, field_mismatches, was_verified
from xportcn_provider.api.request_shapes import PackageItem, QualityInspectionInfo
from xportcn_provider.links import XportcnPackageLink
from xportcn_provider.operators.base import (
    XportcnBaseOperator,
)
from xportcn_provider.operators.validation import (
    caller_id,
    optional_id,
    optional_mapping,
    optional_order_id,
    optional_positive_number,
    optional_str,
    optional_str_list,
    require_id,
    require_items,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: ``quality_inspection_info.status`` words (any case): the inspection passed or failed.
QC_RESULTS = ("passed", "failed", "pass", "fail", "qc_passed", "qc_failed")


def _package_items(value: Any) -> list[dict[str, Any]] | None:
    if value in (None, "", []):
        return None
    return require_items(value, "items", quantity_required=False)


class _PackageOperator(XportcnBaseOperator):
    """Shared: the package id fields, the package read and the XCom pushes."""

    operator_extra_links = (XportcnPackageLink(),)

    def _read(self, out_order_id: str) -> dict[str, Any] | None:
        """The package as the warehouse knows it, or ``None`` when it does not exist yet."""
        try:
            data = self.hook.package_detail(out_order_id=out_order_id)
        except XportcnNotFoundError:
            return None
        return dict(data) if isinstance(data, Mapping) else None

    def _finish(self, context: Context, out_order_id: str, package: Any) -> str:
        status = package.get("status") if isinstance(package, Mapping) else None
        self.push(
            context,
            out_order_id=out_order_id,
            tracking_number=package.get("logistics_tracking_number")
            if isinstance(package, Mapping)
            else None,
            package_status=status,
            package_url=self.console_url_of("package", out_order_id),
        )
        return out_order_id


class XportcnForecastPackageOperator(_PackageOperator):
    """Tell the warehouse a parcel is on its way; returns ``out_order_id``.

    :param out_order_id: your order id for the parcel (templated).
    :param logistics_tracking_number: the domestic waybill (templated).
    :param alibaba_order_id: the 1688 order the goods come from (templated).
    :param items: expected contents ``[{offerId/itemId, quantity, ...}]`` (templated).

    XCom: return value = ``out_order_id``; keys ``out_order_id``, ``tracking_number``,
    ``package_status``, ``package_url``.
    """

    endpoint_name = "package_forecast"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "out_order_id",
        "logistics_tracking_number",
        "alibaba_order_id",
        "items",
    )
    template_fields_renderers = {"items": "json", "extra": "json"}

    def __init__(
        self,
        *,
        out_order_id: str,
        logistics_tracking_number: str,
        alibaba_order_id: str | int | None = None,
        items: list[PackageItem] | list[Mapping[str, Any]] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.out_order_id = out_order_id
        self.logistics_tracking_number = logistics_tracking_number
        self.alibaba_order_id = alibaba_order_id
        self.items = items

    def build_request(self) -> dict[str, Any]:
        return {
            "out_order_id": caller_id(self.out_order_id, "out_order_id"),
            "logistics_tracking_number": require_id(
                self.logistics_tracking_number, "logistics_tracking_number"
            ),
            "alibaba_order_id": optional_order_id(self.alibaba_order_id, "alibaba_order_id"),
            "items": _package_items(self.items),
            "extra": self.extra_body(),
        }

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        out_order_id = request["out_order_id"]
        tracking = request["logistics_tracking_number"]
        ids = {"out_order_id": out_order_id, "tracking_number": tracking}
        existing = self._read(out_order_id)
        if existing is not None and str(existing.get("logistics_tracking_number")) == tracking:
            self.log_action(
                "package_detail",
                ids,
                f"already forecast (status {existing.get('status')}); not sending again",
            )
            package: Any = existing
        else:
            answer = self.hook.package_forecast(**request)
            # Read back: a warehouse that keeps an earlier forecast answers code 200 with its old
            # waybill; that is no success (change a forecast with XportcnUpdatePackageOperator).
            package = confirm_write(
                "package_forecast",
                answer,
                lambda: self._read(out_order_id),
                lambda record: _package_differs(record, {"logistics_tracking_number": tracking}),
                request_id=self.hook.last_request_id,
                verified=was_verified(self.hook.client.last_envelope),
                delay=self.readback_delay,
            )
            status = package.get("status") if isinstance(package, Mapping) else None
            self.log_action("package_forecast", ids, f"forecast (status {status}; read back)")
        return self._finish(context, out_order_id, package)


class XportcnUpdatePackageOperator(_PackageOperator):
    """Change a forecast (tracking number, 1688 order, expected items); returns ``out_order_id``.

    An update is idempotent: sending the same values twice leaves the package the same.

    :param out_order_id: the package (templated).
    :param logistics_tracking_number: new waybill (templated).
    :param alibaba_order_id: new 1688 order id (templated).
    :param items: new expected contents (templated).
    """

    endpoint_name = "package_update"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "out_order_id",
        "logistics_tracking_number",
        "alibaba_order_id",
        "items",
    )
    template_fields_renderers = {"items": "json", "extra": "json"}

    def __init__(
        self,
        *,
        out_order_id: str,
        logistics_tracking_number: str | None = None,
        alibaba_order_id: str | int | None = None,
        items: list[PackageItem] | list[Mapping[str, Any]] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.out_order_id = out_order_id
        self.logistics_tracking_number = logistics_tracking_number
        self.alibaba_order_id = alibaba_order_id
        self.items = items

    def build_request(self) -> dict[str, Any]:
        request = {
            "out_order_id": caller_id(self.out_order_id, "out_order_id"),
            "logistics_tracking_number": optional_id(
                self.logistics_tracking_number, "logistics_tracking_number"
            ),
            "alibaba_order_id": optional_order_id(self.alibaba_order_id, "alibaba_order_id"),
            "items": _package_items(self.items),
            "extra": self.extra_body(),
        }
        if all(
            request[k] is None for k in ("logistics_tracking_number", "alibaba_order_id", "items", "extra")
        ):
            raise XportcnValidationError(
                "logistics_tracking_number: nothing to update; give logistics_tracking_number, "
                "alibaba_order_id, items or extra.",
                parameter="logistics_tracking_number",
            )
        return request

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        answer = self.hook.package_update(**request)
        wanted = {k: request[k] for k in ("logistics_tracking_number", "alibaba_order_id", "items")}
        package = confirm_write(
            "package_update",
            answer,
            lambda: self._read(request["out_order_id"]),
            lambda record: _package_differs(record, wanted),
            request_id=self.hook.last_request_id,
            verified=was_verified(self.hook.client.last_envelope),
            delay=self.readback_delay,
        )
        changed = [
            k for k in ("logistics_tracking_number", "alibaba_order_id", "items") if request[k] is not None
        ]
        self.log_action(
            "package_update",
            {"out_order_id": request["out_order_id"]},
            f"updated {', '.join(changed) or 'extra'}",
        )
        return self._finish(context, request["out_order_id"], package)


def _package_differs(record: Any, wanted: Mapping[str, Any]) -> str | None:
    """What the package read back shows instead of the ``wanted`` fields (``None``: all there).

    Items are compared on the keys that were sent (the warehouse may add its own).
    """
    if record is None:
        return "the warehouse does not know the package"
    fields = {k: v for k, v in wanted.items() if k != "items"}
    problem = field_mismatches(record, fields)
    sent = wanted.get("items")
    if sent is not None:
        got = record.get("items") if isinstance(record, Mapping) else None
        same = isinstance(got, list) and len(got) == len(sent)
        for mine, theirs in zip(sent, got or [], strict=False):
            if not isinstance(theirs, Mapping) or any(str(theirs.get(k)) != str(v) for k, v in mine.items()):
                same = False
        if not same:
            problem = "; ".join(filter(None, [problem, f"items are {got!r}, not {sent!r}"]))
    return problem


def _inspection(value: Any) -> dict[str, Any] | None:
    info = optional_mapping(value, "quality_inspection_info")
    if info is None:
        return None
    status = info.get("status")
    if status is not None and (not isinstance(status, str) or status.strip().lower() not in QC_RESULTS):
        raise XportcnValidationError(
            f"quality_inspection_info: status must be PASSED or FAILED, got {status!r}.",
            parameter="quality_inspection_info",
        )
    for key in ("weight", "length", "width", "height"):
        try:
            optional_positive_number(info.get(key), key)
        except XportcnValidationError as err:
            raise XportcnValidationError(
                f"quality_inspection_info.{err.message}", parameter="quality_inspection_info"
            ) from None
    optional_str(info.get("failed_remark"), "quality_inspection_info")
    optional_str_list(info.get("images"), "quality_inspection_info")
    return info


class XportcnPackageInboundOperator(_PackageOperator):
    """Record that a parcel arrived at the warehouse (with its inspection); returns ``out_order_id``.

    :param out_order_id: the package (templated).
    :param logistics_tracking_number: its waybill (templated).
    :param alibaba_order_id: the 1688 order (templated).
    :param quality_inspection_info: ``{status: passed|failed, weight, length, width, height,
        failed_remark, images[]}`` (templated).
    """

    endpoint_name = "package_inbound"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "out_order_id",
        "logistics_tracking_number",
        "alibaba_order_id",
        "quality_inspection_info",
    )
    template_fields_renderers = {"quality_inspection_info": "json", "extra": "json"}

    def __init__(
        self,
        *,
        out_order_id: str,
        logistics_tracking_number: str,
        alibaba_order_id: str | int | None = None,
        quality_inspection_info: QualityInspectionInfo | Mapping[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.out_order_id = out_order_id
        self.logistics_tracking_number = logistics_tracking_number
        self.alibaba_order_id = alibaba_order_id
        self.quality_inspection_info = quality_inspection_info

    def build_request(self) -> dict[str, Any]:
        return {
            "out_order_id": caller_id(self.out_order_id, "out_order_id"),
            "logistics_tracking_number": require_id(
                self.logistics_tracking_number, "logistics_tracking_number"
            ),
            "alibaba_order_id": optional_order_id(self.alibaba_order_id, "alibaba_order_id"),
            "quality_inspection_info": _inspection(self.quality_inspection_info),
            "extra": self.extra_body(),
        }

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        out_order_id = request["out_order_id"]
        ids = {"out_order_id": out_order_id, "tracking_number": request["logistics_tracking_number"]}
        try:
            package: Any = self.hook.package_inbound(**request)
        except XportcnConflictError as conflict:
            package = self._read(out_order_id)
            status = st.PACKAGE_STATUS.normalize(package.get("status") if package else None)
            if status not in st.PACKAGE_STATUS.groups["received"]:
                raise
            self.log_action(
                "package_inbound",
                ids,
                f"state conflict (requestId={conflict.request_id}): already {status}; nothing to do",
            )
        else:
            status = package.get("status") if isinstance(package, Mapping) else None
            self.log_action("package_inbound", ids, f"recorded (status {status})")
        return self._finish(context, out_order_id, package)


__all__ = [
    "QC_RESULTS",
    "XportcnForecastPackageOperator",
    "XportcnPackageInboundOperator",
    "XportcnUpdatePackageOperator",
]
