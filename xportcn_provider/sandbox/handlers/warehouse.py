"""Warehouse packages (snake_case bodies): forecast, inbound with inspection, update, detail."""

from __future__ import annotations

from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.sandbox import validation as v
from xportcn_provider.sandbox import views
from xportcn_provider.sandbox.failures import conflict, invalid, not_found
from xportcn_provider.sandbox.handlers.registry import Body, Context, handles
from xportcn_provider.sandbox.records import Package

_QC_WORDS = {
    "pass": st.QC_PASSED,
    "passed": st.QC_PASSED,
    "qc_passed": st.QC_PASSED,
    "ok": st.QC_PASSED,
    "success": st.QC_PASSED,
    "fail": st.QC_FAILED,
    "failed": st.QC_FAILED,
    "qc_failed": st.QC_FAILED,
    "rejected": st.QC_FAILED,
}


def _package_items(body: Body) -> list[dict[str, Any]] | None:
    if body.get("items") is None:
        return None
    items = v.obj_list(body["items"], "items", min_items=0)
    for i, item in enumerate(items):
        if item.get("quantity") is not None:
            v.positive_int(item["quantity"], f"items[{i}].quantity")
    return [dict(item) for item in items]


def _alibaba_order_id(body: Body) -> str | None:
    return v.ident(body["alibaba_order_id"], "alibaba_order_id") if body.get("alibaba_order_id") else None


@handles("package_forecast")
def package_forecast(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["out_order_id"], "out_order_id")
    tracking = v.text(body["logistics_tracking_number"], "logistics_tracking_number")
    alibaba_order_id = _alibaba_order_id(body)
    items = _package_items(body)
    existing = store.package(out_order_id)
    if existing is not None:
        return views.package_view(existing)  # forecasting again is idempotent
    owner = store.packages_by_tracking.get(tracking)
    if owner is not None:
        raise conflict(f"logistics_tracking_number {tracking} is already forecast for package {owner}")
    now = store.now()
    package = Package(
        status=st.FORECASTED,
        since=now,
        created=now,
        out_order_id=out_order_id,
        alibaba_order_id=alibaba_order_id,
        tracking_number=tracking,
        items=items or [],
    )
    package.history.append((package.status, now))
    store.add_package(package)
    return views.package_view(package)


def _qc_info(body: Body) -> tuple[dict[str, Any] | None, str | None]:
    """The inspection info of an inbound call and the QC status it states (if any)."""
    if body.get("quality_inspection_info") is None:
        return None, None
    info = dict(v.obj(body["quality_inspection_info"], "quality_inspection_info"))
    for dim in ("weight", "length", "width", "height"):
        v.opt_positive_number(info, dim, f"quality_inspection_info.{dim}")
    if info.get("images") is not None:
        v.text_list(info["images"], "quality_inspection_info.images")
    status = None
    if info.get("status") is not None:
        word = str(info["status"]).strip().lower()
        if word not in _QC_WORDS:
            raise invalid(
                "quality_inspection_info.status must be PASSED or FAILED "
                f"(or pass/fail), got {info['status']!r}"
            )
        status = _QC_WORDS[word]
    return info, status


@handles("package_inbound")
def package_inbound(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["out_order_id"], "out_order_id")
    tracking = v.text(body["logistics_tracking_number"], "logistics_tracking_number")
    alibaba_order_id = _alibaba_order_id(body)
    info, qc_status = _qc_info(body)
    now = store.now()
    package = store.package(out_order_id)
    if package is None:  # a parcel arrived without a forecast: the warehouse registers it
        package = Package(
            status=st.FORECASTED,
            since=now,
            created=now,
            out_order_id=out_order_id,
            alibaba_order_id=alibaba_order_id,
            tracking_number=tracking,
        )
        package.history.append((package.status, now))
        store.add_package(package)
    elif package.status in (st.SHIPPED, st.DELIVERED):
        raise conflict(f"package {out_order_id} is already {package.status}")
    if alibaba_order_id:
        package.alibaba_order_id = alibaba_order_id
    if info is not None:
        package.quality_inspection_info = info
    package.enter(st.INBOUND, now)
    if qc_status is not None:
        package.qc_outcome = "pass" if qc_status == st.QC_PASSED else "fail"
        package.enter(qc_status, now)
    return views.package_view(package)


@handles("package_update")
def package_update(ctx: Context, body: Body) -> Any:
    store = ctx.store
    out_order_id = v.ident(body["out_order_id"], "out_order_id")
    tracking = (
        v.text(body["logistics_tracking_number"], "logistics_tracking_number")
        if body.get("logistics_tracking_number")
        else None
    )
    alibaba_order_id = _alibaba_order_id(body)
    items = _package_items(body)
    package = store.package(out_order_id)
    if package is None:
        raise not_found(f"package {out_order_id} not found; forecast it first")
    if package.status in (st.SHIPPED, st.DELIVERED):
        raise conflict(f"package {out_order_id} is already {package.status} and can no longer be updated")
    if tracking and tracking != package.tracking_number:
        owner = store.packages_by_tracking.get(tracking)
        if owner is not None:
            raise conflict(f"logistics_tracking_number {tracking} is already used by package {owner}")
        store.packages_by_tracking.pop(package.tracking_number, None)
        package.tracking_number = tracking
        store.packages_by_tracking[tracking] = out_order_id
    if alibaba_order_id:
        package.alibaba_order_id = alibaba_order_id
    if items is not None:
        package.items = items
    return views.package_view(package)


@handles("package_detail")
def package_detail(ctx: Context, body: Body) -> Any:
    store = ctx.store
    package: Package | None
    if body.get("out_order_id"):
        key = v.ident(body["out_order_id"], "out_order_id")
        package = store.package(key)
    elif body.get("logistics_tracking_number"):
        key = v.text(body["logistics_tracking_number"], "logistics_tracking_number")
        package = store.package_by_tracking(key)
    else:
        raise invalid("out_order_id or logistics_tracking_number is required for package_detail")
    if package is None:
        raise not_found(f"package {key} not found")
    return views.package_view(package)
