"""Sandbox *variants*: answer the way a real service plausibly could where the contract is silent.

The sandbox's default answers are the shapes the provider assumes (``docs/data-shapes.md``). A
real Xportcn may differ on points nobody can check from here (issue 11): it may cap ``pageSize``,
nest ids, ignore a filter, answer ``data: null`` for an unknown id... Each such behaviour is a
named variant, switched on with ``xportcn-sandbox --variant NAME`` (repeatable), the control API
``POST /_sandbox/config {"variants": [...]}`` or ``handle.control.set_variants(...)``; a reset
switches them all off. Tests run the provider against each variant to prove it either stays
correct or fails loudly with a typed error — never a green task with wrong data.

A variant is a rewrite around the unchanged endpoint handlers, like a proxy in front of the
service: :func:`before` may change the request body or answer early, :func:`after` rewrites the
answer's ``data``, :func:`failure` rewrites an error answer. The one transport-level variant
(``slow_body``) is applied by the HTTP layer (:mod:`.app`).

:data:`VARIANTS` is the one registry of names with a one-line description each (the CLI's
``--help``, the control API's error message and ``docs/sandbox.md`` list them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from xportcn_provider.api.errors import SUCCESS_CODE, EnvelopeCode
from xportcn_provider.sandbox.failures import ApiFailure, not_found

#: name -> one-line description. The single source of the variant names.
VARIANTS: Mapping[str, str] = {
    "page_size_cap": "list endpoints serve at most 20 rows per page whatever pageSize asks "
    "(total and the echoed pageSize stay as asked)",
    "total_zero": "list pages always answer total: 0, however many rows match",
    "ignore_page": "list endpoints ignore the page field and serve the first page every time",
    "nested_ids": "1688 order summaries nest their fields under baseInfo with the id as "
    "baseInfo.id (1688's own list shape): no top-level orderId",
    "ignore_filters": "list endpoints ignore every filter (orderId, outOrderId, status, time range)",
    "inclusive_end": "the createEndTime filter is inclusive (createTime <= end)",
    "local_time_only": "time filters are understood only as 'YYYY-MM-DD HH:MM:SS' in China time "
    "(UTC+8), any other format is silently ignored; createTime is served in that format",
    "list_null": "an empty list page answers list: null",
    "data_null_not_found": "a detail read of an unknown id answers code 200 with data: null "
    "instead of a not-found error",
    "missing_status": "detail answers (order, refund, package) carry no status field",
    "already_done_500": "a write on a record already in its target state answers envelope code 500 "
    "with a Chinese 'already done' text instead of 409",
    "read_lag": "a 1688 order, Taobao order or refund created through the API is not found by the "
    "first read of it (read-after-write lag)",
    "write_failure_data": "refund_cancel, refund_return_submit, domestic_logistics_update and "
    "package_update answer code 200 with data reporting a failure, and change nothing",
    "write_ignored": "refund_cancel, refund_return_submit, domestic_logistics_update and "
    "package_update answer code 200 with their usual success data, and change nothing",
    "refund_id_for_as": "order_detail's productItems carry a sub-order's refund as refundIdForAs "
    "(no refundId key)",
    "pay_without_url": "order_pay answers without a payUrl (the account pays on its payment period)",
    "slow_body": "every API answer trickles its body a few bytes at a time over about 5 s",
}


class VariantError(ValueError):
    """An unknown variant name (the message lists the valid ones)."""


def check_variants(names: Any) -> tuple[str, ...]:
    """Validate a list of variant names; the result is sorted and without repeats."""
    if isinstance(names, str) or not isinstance(names, Collection):
        raise VariantError(f"variants must be a list of names, got {names!r}")
    unknown = sorted({str(n) for n in names} - set(VARIANTS))
    if unknown or not all(isinstance(n, str) for n in names):
        raise VariantError(f"unknown sandbox variant(s) {', '.join(unknown)}; valid: {', '.join(VARIANTS)}")
    return tuple(sorted(set(names)))


#: Page sizes the ``page_size_cap`` variant serves at most.
PAGE_SIZE_CAP = 20
#: How long ``slow_body`` takes to send one answer, and how many pieces it sends it in.
SLOW_BODY_SECONDS = 5.0
SLOW_BODY_PIECES = 20
CHINA = timezone(timedelta(hours=8))
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_LISTS = ("order_list", "taobao_order_list")
_PAGE_FIELDS = {"order_list": "pageNo", "taobao_order_list": "pageNo"}
_FILTERS = ("orderId", "outOrderId", "status", "createStartTime", "createEndTime")
_TIME_FILTERS = ("createStartTime", "createEndTime")
_DETAILS = {"order_detail": "orderId", "refund_detail": "refundId", "package_detail": "out_order_id"}
_LAGGING_CREATES = {"order_create": "order", "taobao_order_create": "taobao_order", "refund_create": "refund"}
_WRITE_FAILURES: Mapping[str, Any] = {
    "refund_cancel": "售后订单取消失败：卖家已处理该退款 (sandbox variant write_failure_data)",
    "refund_return_submit": {"success": False, "message": "退货信息提交失败 (sandbox variant)"},
    "domestic_logistics_update": False,
    "package_update": {"success": False, "message": "包裹更新失败 (sandbox variant)"},
}
#: What ``write_ignored`` answers (``None``: the request body echoed back, like a record).
_WRITE_SUCCESSES: Mapping[str, Any] = {
    "refund_cancel": "售后订单取消成功",
    "refund_return_submit": "退货信息提交成功",
    "domestic_logistics_update": True,
    "package_update": None,
}
_ALREADY_DONE = {
    "order_pay": "订单已支付，请勿重复支付",
    "refund_cancel": "售后单已关闭，请勿重复操作",
}


class Call:
    """One API call as the variants see it: endpoint name, the body as sent, per-store state."""

    def __init__(self, endpoint: str, body: dict[str, Any], active: tuple[str, ...], state: dict[str, Any]):
        self.endpoint = endpoint
        self.sent = dict(body)
        self.active = active
        self.state = state

    def on(self, name: str) -> bool:
        return name in self.active


def _local_time(value: Any) -> str | None:
    """``value`` as a China-time 'YYYY-MM-DD HH:MM:SS' filter the handlers understand, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.strptime(value.strip(), LOCAL_TIME_FORMAT)
    except ValueError:
        return None
    return parsed.replace(tzinfo=CHINA).astimezone(UTC).isoformat()


def before(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """The body the handler sees (may raise :class:`ApiFailure`, or answer early via ``call``)."""
    name = call.endpoint
    body = dict(body)
    if name in _LISTS:
        if call.on("ignore_filters"):
            for key in _FILTERS:
                body.pop(key, None)
        if call.on("local_time_only"):
            for key in _TIME_FILTERS:
                if key in body:
                    converted = _local_time(body[key])
                    if converted is None:
                        body.pop(key)  # a format the service cannot parse: silently ignored
                    else:
                        body[key] = converted
        if call.on("inclusive_end") and body.get("createEndTime"):
            body["createEndTime"] = _plus_one_second(body["createEndTime"])
        if call.on("ignore_page"):
            body.pop(_PAGE_FIELDS[name], None)
        if call.on("page_size_cap"):
            size = body.get("pageSize")
            if isinstance(size, int) and not isinstance(size, bool) and size > PAGE_SIZE_CAP:
                body["pageSize"] = PAGE_SIZE_CAP
    if call.on("read_lag") and name in ("order_detail", "refund_detail", "taobao_order_list"):
        key = "refundId" if name == "refund_detail" else "orderId"
        lagging: set[str] = call.state.setdefault("lagging", set())
        record_id = str(body.get(key, ""))
        if record_id in lagging:
            lagging.discard(record_id)
            if name == "taobao_order_list":
                raise _EarlyAnswer(
                    {"list": [], "total": 0, "pageNo": 1, "pageSize": body.get("pageSize", 20)}
                )
            raise not_found(f"{key} {record_id} not found (sandbox variant read_lag)")
    if call.on("write_failure_data") and name in _WRITE_FAILURES:
        raise _EarlyAnswer(_WRITE_FAILURES[name])
    if call.on("write_ignored") and name in _WRITE_SUCCESSES:
        answer = _WRITE_SUCCESSES[name]
        raise _EarlyAnswer({**body} if answer is None else answer)
    return body


class _EarlyAnswer(Exception):
    """Raised by :func:`before` to answer ``data`` without running the handler."""

    def __init__(self, data: Any) -> None:
        self.data = data
        super().__init__("early answer")


EarlyAnswer = _EarlyAnswer


def _plus_one_second(value: Any) -> Any:
    """Move an end bound one second later, so the handler's ``<`` becomes ``<=`` for whole seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value + (1000 if value > 1e11 else 1)
    if isinstance(value, str):
        raw = value.strip()
        if raw.isdigit():
            return str(int(raw) + (1000 if int(raw) > 1e11 else 1))
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return value
        return (parsed + timedelta(seconds=1)).isoformat()
    return value


def after(call: Call, data: Any) -> Any:
    """The answer's ``data`` as the variant serves it."""
    name = call.endpoint
    if name in _LISTS and isinstance(data, dict):
        data = dict(data)
        if call.on("page_size_cap") and "pageSize" in call.sent:
            data["pageSize"] = call.sent["pageSize"]
        if call.on("total_zero"):
            data["total"] = 0
        if name == "order_list" and call.on("nested_ids"):
            data["list"] = [_nest(row) for row in data.get("list") or []]
        if call.on("local_time_only"):
            data["list"] = [_local_create_time(row) for row in data.get("list") or []]
        if call.on("list_null") and not data.get("list"):
            data["list"] = None
    if name in _DETAILS and call.on("missing_status") and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "status"}
    if name == "order_detail" and call.on("refund_id_for_as") and isinstance(data, dict):
        items = []
        for item in data.get("productItems") or []:
            moved = {k: v for k, v in item.items() if k != "refundId"}
            moved["refundIdForAs"] = item.get("refundId")
            items.append(moved)
        data = {**data, "productItems": items}
    if name == "order_pay" and call.on("pay_without_url") and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "payUrl"}
    if call.on("read_lag") and name in _LAGGING_CREATES and isinstance(data, dict):
        created = data.get("refundId") if name == "refund_create" else data.get("orderId")
        if created and not data.get("duplicate"):
            call.state.setdefault("lagging", set()).add(str(created))
    return data


def failure(call: Call, err: ApiFailure) -> tuple[int, str | None, Any]:
    """An error answer as the variant serves it: ``(code, msg, data)``."""
    if call.on("data_null_not_found") and err.code == EnvelopeCode.NOT_FOUND and call.endpoint in _DETAILS:
        return SUCCESS_CODE, None, None
    if (
        call.on("already_done_500")
        and err.code == EnvelopeCode.STATE_CONFLICT
        and call.endpoint in _ALREADY_DONE
    ):
        return 500, _ALREADY_DONE[call.endpoint], None
    return err.code, err.msg, None


def _nest(row: Any) -> Any:
    if not isinstance(row, dict):
        return row
    base = {("id" if k == "orderId" else k): v for k, v in row.items()}
    return {"baseInfo": base}


def _local_create_time(row: Any) -> Any:
    if not isinstance(row, dict) or not isinstance(row.get("createTime"), str):
        return row
    try:
        parsed = datetime.fromisoformat(row["createTime"].replace("Z", "+00:00"))
    except ValueError:
        return row
    return {**row, "createTime": parsed.astimezone(CHINA).strftime(LOCAL_TIME_FORMAT)}
