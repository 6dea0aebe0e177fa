"""Purchase orders: 1688 preview/create/pay and Taobao render/create.

Creating an order must never buy twice when a task is retried. The contract gives one
caller-chosen idempotency key, ``outOrderId``; the create operators therefore

1. default ``out_order_id`` to an id derived from dag id, task id, run id and map index (stable
   across retries of one run, different for each run, 32 chars of ``[a-z0-9-]``);
2. read ``task_state_store`` first: a previous try that got an answer left the order id there;
3. otherwise look the order up by ``outOrderId`` (``order_list``/``taobao_order_list``) and
   return the existing one: this covers a try whose answer was lost on the way back;
4. only then create. If that create's answer is lost, the hook does not send it again blindly:
   it runs the same look-up (``api/verify.py``) and answers with the order it finds, and sends
   again only when the order is not there. Nothing relies on the service deduplicating
   ``outOrderId`` (the contract does not say it does); if the look-up cannot decide, the task
   fails with :class:`~xportcn_provider.api.errors.XportcnOutcomeUnknownError` naming the key.

Paying reads the order first: an order that is already paid is not paid again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xportcn_provider.api.errors import (
    XportcnConflictError,
    XportcnError,
    XportcnOutcomeUnknownError,
    XportcnProtocolError,
    XportcnValidationError,
)
from xportcn_provider.api.request_shapes import AddressParam, CargoParam, TaobaoAddress, TaobaoItem
from xportcn_provider.api.verify import order_by_out_order_id, paid_order, run_lookup
from xportcn_provider.api.waits import order_wait
from xportcn_provider.links import XportcnOrderLink
from xportcn_provider.operators.base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    XportcnBaseOperator,
    XportcnWaitingOperatorMixin,
    default_deferrable,
    derived_id,
    wait_settings,
)
from xportcn_provider.operators.validation import (
    caller_id,
    optional_id,
    optional_str,
    require_items,
    require_mapping,
    require_order_id,
    require_positive_int,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

ORDER_ADDRESS_KEYS = ("fullName", "address")


class XportcnOrderOverBudgetError(XportcnValidationError):
    """The preview total is above ``max_total_fen``: nothing was bought."""


def _order_address(value: Any) -> dict[str, Any]:
    address = require_mapping(value, "address_param", required_keys=ORDER_ADDRESS_KEYS)
    if not (address.get("mobile") or address.get("phone")):
        raise XportcnValidationError(
            "address_param: needs 'mobile' or 'phone' (the seller's courier calls it).",
            parameter="address_param",
        )
    return address


def _order_request(op: Any) -> dict[str, Any]:
    """The checked fields shared by preview and create (1688 ``order_preview``/``order_create``)."""
    return {
        "address_param": _order_address(op.address_param),
        "cargo_param_list": require_items(op.cargo_param_list, "cargo_param_list", id_keys=("offerId",)),
        "flow": optional_str(op.flow, "flow", max_length=64),
        "ali_id": optional_id(op.ali_id, "ali_id"),
        "extra": op.extra_body(),
    }


def _find_order(op: XportcnBaseOperator, list_endpoint: str, out_order_id: str) -> dict[str, Any] | None:
    """The order whose ``outOrderId`` is ours, by the look-up the hook uses after a lost answer."""
    found: dict[str, Any] | None = run_lookup(
        order_by_out_order_id(list_endpoint, out_order_id), op.hook.call
    )
    return found


def _create_reconciled(
    op: XportcnBaseOperator, create: Any, list_endpoint: str, request: dict[str, Any]
) -> Any:
    """Call ``create``; if its outcome stayed unknown, look once more before failing the task."""
    try:
        return create(**request)
    except XportcnOutcomeUnknownError as unknown:
        try:
            found = _find_order(op, list_endpoint, request["out_order_id"])
        except XportcnError:
            raise unknown from None
        if found is None:
            raise
        op.log.warning("The create's outcome was unknown (%s); the order exists, using it.", unknown.cause)
        return {**found, "duplicate": True}


class XportcnPreviewOrderOperator(XportcnBaseOperator):
    """Price a 1688 order without buying it; returns the preview (``sumPayment`` in fen).

    :param address_param: receiving address ``{fullName, mobile, provinceText, cityText, areaText,
        address, ...}`` (templated).
    :param cargo_param_list: ``[{offerId, specId, quantity}]`` (templated).
    :param flow: 1688 order flow (default ``fenxiaonew``).
    :param out_order_id: your order id, optional for a preview.
    :param ali_id: optional buyer ali id.

    XCom: return value = the preview dict; ``sum_payment`` = total in fen.
    """

    endpoint_name = "order_preview"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "address_param",
        "cargo_param_list",
        "flow",
        "out_order_id",
        "ali_id",
    )
    template_fields_renderers = {"address_param": "json", "cargo_param_list": "json", "extra": "json"}

    def __init__(
        self,
        *,
        address_param: AddressParam | Mapping[str, Any] | str,
        cargo_param_list: list[CargoParam] | list[Mapping[str, Any]] | str,
        flow: str | None = "fenxiaonew",
        out_order_id: str | None = None,
        ali_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.address_param = address_param
        self.cargo_param_list = cargo_param_list
        self.flow = flow
        self.out_order_id = out_order_id
        self.ali_id = ali_id

    def build_request(self) -> dict[str, Any]:
        request = _order_request(self)
        out_order_id = optional_id(self.out_order_id, "out_order_id")
        request["out_order_id"] = caller_id(out_order_id, "out_order_id") if out_order_id else None
        return request

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        preview = self.hook.order_preview(**request)
        total = preview.get("sumPayment") if isinstance(preview, Mapping) else None
        self.push(context, sum_payment=total)
        self.log_action(
            "order_preview",
            {"out_order_id": request.get("out_order_id"), "lines": len(request["cargo_param_list"])},
            f"sumPayment={total} fen",
        )
        return preview


class XportcnCreateOrderOperator(XportcnWaitingOperatorMixin, XportcnBaseOperator):
    """Buy a 1688 order, once, however often the task is retried; returns the order id.

    :param address_param: receiving address (templated).
    :param cargo_param_list: ``[{offerId, specId, quantity}]`` (templated).
    :param out_order_id: your order id, the idempotency key (templated). Default: derived from
        dag id, task id, run id and map index, so a retry reuses it and a new run gets a new one.
    :param max_total_fen: preview first and refuse to buy (:class:`XportcnOrderOverBudgetError`,
        no create call) when ``sumPayment`` is above this many fen.
    :param wait_for: after creating, wait for this order status or group (``"paid"``,
        ``"shipped"``, ``"waitbuyerreceive"``, a list…); ``None`` (default) does not wait.
    :param deferrable: wait in the triggerer instead of the worker.
    :param poll_interval: seconds between status reads while waiting.
    :param timeout: seconds to wait at most (``None``: no limit).

    XCom: return value = ``orderId``; keys ``order_id``, ``out_order_id``, ``order_url`` (pushed
    before any wait).
    """

    wait_result_key = "order_id"
    endpoint_name = "order_create"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "address_param",
        "cargo_param_list",
        "out_order_id",
        "flow",
        "ali_id",
        "message",
        "shop_promotion_id",
        "trade_type",
        "max_total_fen",
    )
    template_fields_renderers = {"address_param": "json", "cargo_param_list": "json", "extra": "json"}
    operator_extra_links = (XportcnOrderLink(),)

    def __init__(
        self,
        *,
        address_param: AddressParam | Mapping[str, Any] | str,
        cargo_param_list: list[CargoParam] | list[Mapping[str, Any]] | str,
        out_order_id: str | None = None,
        flow: str | None = "fenxiaonew",
        ali_id: str | None = None,
        message: str | None = None,
        shop_promotion_id: str | None = None,
        trade_type: str | None = None,
        max_total_fen: int | None = None,
        wait_for: str | Sequence[str] | None = None,
        deferrable: bool = default_deferrable(),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.address_param = address_param
        self.cargo_param_list = cargo_param_list
        self.out_order_id = out_order_id
        self.flow = flow
        self.ali_id = ali_id
        self.message = message
        self.shop_promotion_id = shop_promotion_id
        self.trade_type = trade_type
        self.max_total_fen = max_total_fen
        self.wait_for = wait_for
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    def build_request(self) -> dict[str, Any]:
        request = _order_request(self)
        request["out_order_id"] = (
            None if self.out_order_id in (None, "") else caller_id(self.out_order_id, "out_order_id")
        )
        request["message"] = optional_str(self.message, "message", max_length=500)
        request["shop_promotion_id"] = optional_id(self.shop_promotion_id, "shop_promotion_id")
        request["trade_type"] = optional_str(self.trade_type, "trade_type", max_length=64)
        self._max_total = (
            None if self.max_total_fen is None else require_positive_int(self.max_total_fen, "max_total_fen")
        )
        self._wait_spec_check()
        return request

    def _wait_spec_check(self) -> None:
        """Check the wait arguments before anything is bought (a bad status would fail after)."""
        self._wait = wait_settings(self.poll_interval, self.timeout)
        if self.wait_for is not None:
            try:
                order_wait("0", target_statuses=self.wait_for)  # validates the status names only
            except XportcnValidationError as err:
                raise XportcnValidationError(
                    f"wait_for: {err.message.removeprefix('target_statuses: ')}", parameter="wait_for"
                ) from None
            if not isinstance(self.deferrable, bool):
                raise XportcnValidationError(
                    f"deferrable must be True or False, got {self.deferrable!r}.", parameter="deferrable"
                )

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        out_order_id = request["out_order_id"] or derived_id(context)
        request["out_order_id"] = out_order_id
        order_id = self._existing_order(context, out_order_id)
        if order_id is None:
            self._check_budget(request)
            order_id = self._create(context, request)
        self.push(
            context,
            order_id=order_id,
            out_order_id=out_order_id,
            order_url=self.console_url_of("order", order_id),
        )
        if self.wait_for is None:
            return order_id
        spec = order_wait(order_id, target_statuses=self.wait_for)
        poll_interval, timeout = self._wait
        return self.wait_for_spec(
            context, spec, result=order_id, poll_interval=poll_interval, timeout=timeout
        )

    def _existing_order(self, context: Context, out_order_id: str) -> str | None:
        key = self.state_key("order", out_order_id)
        remembered = self.recall(context, key)
        if remembered:
            self.log_action(
                "order_create",
                {"out_order_id": out_order_id, "order_id": remembered},
                "reconnected to the order created by an earlier try (task_state_store)",
                remote=False,
            )
            return str(remembered)
        found = _find_order(self, "order_list", out_order_id)
        if found is None:
            return None
        order_id = str(found["orderId"])
        self.remember(context, key, order_id)
        self.log_action(
            "order_list",
            {"out_order_id": out_order_id, "order_id": order_id},
            f"order already exists (status {found.get('status')}); not buying again",
        )
        return order_id

    def _check_budget(self, request: dict[str, Any]) -> None:
        if self._max_total is None:
            return
        preview_fields = {
            k: request[k] for k in ("address_param", "cargo_param_list", "flow", "ali_id", "extra")
        }
        preview = self.hook.order_preview(out_order_id=request["out_order_id"], **preview_fields)
        total = preview.get("sumPayment") if isinstance(preview, Mapping) else None
        self.log_action("order_preview", {"out_order_id": request["out_order_id"]}, f"sumPayment={total} fen")
        if not isinstance(total, int) or isinstance(total, bool):
            raise XportcnProtocolError(
                f"order_preview answered without an integer sumPayment ({total!r}); refusing to buy "
                "with max_total_fen set.",
                endpoint="order_preview",
                request_id=self.hook.last_request_id,
            )
        if total > self._max_total:
            raise XportcnOrderOverBudgetError(
                f"max_total_fen: the order would cost {total} fen, above max_total_fen={self._max_total}; "
                "nothing was bought.",
                parameter="max_total_fen",
            )

    def _create(self, context: Context, request: dict[str, Any]) -> str:
        data = _create_reconciled(self, self.hook.order_create, "order_list", request)
        order_id = data.get("orderId") if isinstance(data, Mapping) else None
        if not order_id:
            raise XportcnProtocolError(
                f"order_create answered without an orderId: {data!r}",
                endpoint="order_create",
                request_id=self.hook.last_request_id,
            )
        order_id = str(order_id)
        self.remember(context, self.state_key("order", request["out_order_id"]), order_id)
        duplicate = bool(data.get("duplicate"))
        self.log_action(
            "order_create",
            {"out_order_id": request["out_order_id"], "order_id": order_id},
            "the server already had this outOrderId and returned the existing order"
            if duplicate
            else f"created (status {data.get('status')}, total {data.get('totalSuccessAmount')} fen)",
        )
        return order_id


class XportcnPayOrderOperator(XportcnBaseOperator):
    """Ask for the payment of a 1688 order; returns the pay URL.

    Paying is made retry-safe: the pay URL is remembered in ``task_state_store`` and read first;
    a state-conflict answer for an order that is already paid (the first try's answer was lost)
    is success, returning the remembered URL or ``None`` when there is none.

    :param order_id: the 1688 order id (templated, e.g. ``"{{ ti.xcom_pull('create_order') }}"``).

    XCom: return value = ``payUrl``; keys ``pay_url``, ``order_id``, ``order_url``.
    """

    endpoint_name = "order_pay"
    template_fields: Sequence[str] = (*XportcnBaseOperator.template_fields, "order_id")
    operator_extra_links = (XportcnOrderLink(),)

    def __init__(self, *, order_id: str | int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_id = order_id

    def build_request(self) -> dict[str, Any]:
        return {"order_id": require_order_id(self.order_id, "order_id"), "extra": self.extra_body()}

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        order_id = request["order_id"]
        ids = {"order_id": order_id}
        self.push(context, order_id=order_id, order_url=self.console_url_of("order", order_id))
        key = self.state_key("pay", order_id)
        pay_url = self.recall(context, key)
        if pay_url:
            self.log_action(
                "order_pay", ids, "pay URL issued to an earlier try (task_state_store)", remote=False
            )
        else:
            # Read first: a try whose pay answer was lost (or a task killed mid-call) must not pay
            # again on a service that would charge twice.
            paid = run_lookup(paid_order(order_id), self.hook.call)
            if paid is not None:
                self.log_action(
                    "order_detail", ids, f"the order is already paid ({paid.get('status')}); done"
                )
                return None
            try:
                data = self.hook.order_pay(**request)
            except XportcnConflictError as conflict:
                paid = run_lookup(paid_order(order_id), self.hook.call)
                if paid is None:
                    raise
                self.log_action(
                    "order_pay",
                    ids,
                    f"state conflict (requestId={conflict.request_id}): the order is already "
                    f"{paid.get('status')}; done",
                )
                return None
            if isinstance(data, Mapping) and data.get("alreadyPaid"):
                self.log_action("order_pay", ids, "the answer was lost; the order is paid (verified); done")
                return None
            pay_url = data.get("payUrl") if isinstance(data, Mapping) else None
            if not pay_url:
                # An account paying on its payment period may get no pay URL at all (issue 11):
                # the order itself says whether it is paid.
                request_id = self.hook.last_request_id
                paid = run_lookup(paid_order(order_id), self.hook.call)
                if paid is not None:
                    self.log_action(
                        "order_pay", ids, f"paid without a pay URL (the order is {paid.get('status')}); done"
                    )
                    return None
                raise XportcnProtocolError(
                    f"order_pay answered without a payUrl and the order is not paid: {data!r}",
                    endpoint="order_pay",
                    request_id=request_id,
                )
            self.remember(context, key, pay_url)
            self.log_action("order_pay", ids, "pay URL issued")
        self.push(context, pay_url=pay_url)
        return pay_url


def _taobao_request(op: Any) -> dict[str, Any]:
    return {
        "items": require_items(op.items, "items", id_keys=("itemId",)),
        "address": require_mapping(op.address, "address"),
        "extra": op.extra_body(),
    }


class XportcnTaobaoRenderOrderOperator(XportcnBaseOperator):
    """Price a Taobao purchase without buying; returns the render (``totalAmount`` in fen).

    :param items: ``[{itemId, skuId, quantity}]`` (templated).
    :param address: receiving address (templated).

    XCom: return value = the render dict; ``total_amount`` = total in fen.
    """

    endpoint_name = "taobao_order_render"
    template_fields: Sequence[str] = (*XportcnBaseOperator.template_fields, "items", "address")
    template_fields_renderers = {"items": "json", "address": "json", "extra": "json"}

    def __init__(
        self,
        *,
        items: list[TaobaoItem] | list[Mapping[str, Any]] | str,
        address: TaobaoAddress | Mapping[str, Any] | str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.address = address

    def build_request(self) -> dict[str, Any]:
        return _taobao_request(self)

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        render = self.hook.taobao_order_render(**request)
        total = render.get("totalAmount") if isinstance(render, Mapping) else None
        self.push(context, total_amount=total)
        self.log_action("taobao_order_render", {"lines": len(request["items"])}, f"totalAmount={total} fen")
        return render


class XportcnTaobaoCreateOrderOperator(XportcnBaseOperator):
    """Buy a Taobao purchase, once per ``out_order_id``; returns the order id.

    Same idempotency as :class:`XportcnCreateOrderOperator`: derived ``out_order_id`` by
    default, ``task_state_store`` first, then a lookup in ``taobao_order_list`` by
    ``outOrderId``, then the create (which the server also de-duplicates).

    :param items: ``[{itemId, skuId, quantity}]`` (templated).
    :param address: receiving address (templated).
    :param out_order_id: your order id (templated); default derived from the task instance.
    :param remark: note to the seller.

    XCom: return value = ``orderId``; keys ``order_id``, ``out_order_id``, ``order_url``.
    """

    endpoint_name = "taobao_order_create"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "items",
        "address",
        "out_order_id",
        "remark",
    )
    template_fields_renderers = {"items": "json", "address": "json", "extra": "json"}
    operator_extra_links = (XportcnOrderLink(),)

    def __init__(
        self,
        *,
        items: list[Mapping[str, Any]] | str,
        address: Mapping[str, Any] | str,
        out_order_id: str | None = None,
        remark: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.address = address
        self.out_order_id = out_order_id
        self.remark = remark

    def build_request(self) -> dict[str, Any]:
        request = _taobao_request(self)
        request["out_order_id"] = (
            None if self.out_order_id in (None, "") else caller_id(self.out_order_id, "out_order_id")
        )
        request["remark"] = optional_str(self.remark, "remark", max_length=500)
        return request

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        out_order_id = request["out_order_id"] or derived_id(context)
        request["out_order_id"] = out_order_id
        key = self.state_key("taobao_order", out_order_id)
        order_id = self.recall(context, key)
        if order_id:
            self.log_action(
                "taobao_order_create",
                {"out_order_id": out_order_id, "order_id": order_id},
                "reconnected to the order created by an earlier try (task_state_store)",
                remote=False,
            )
        else:
            found = _find_order(self, "taobao_order_list", out_order_id)
            if found is not None:
                order_id = str(found["orderId"])
                self.remember(context, key, order_id)
                self.log_action(
                    "taobao_order_list",
                    {"out_order_id": out_order_id, "order_id": order_id},
                    "order already exists; not buying again",
                )
            else:
                order_id = self._create(context, key, request)
        order_id = str(order_id)
        self.push(
            context,
            order_id=order_id,
            out_order_id=out_order_id,
            order_url=self.console_url_of("taobao_order", order_id),
        )
        return order_id

    def _create(self, context: Context, key: str, request: dict[str, Any]) -> str:
        data = _create_reconciled(self, self.hook.taobao_order_create, "taobao_order_list", request)
        order_id = data.get("orderId") if isinstance(data, Mapping) else None
        if not order_id:
            raise XportcnProtocolError(
                f"taobao_order_create answered without an orderId: {data!r}",
                endpoint="taobao_order_create",
                request_id=self.hook.last_request_id,
            )
        self.remember(context, key, str(order_id))
        self.log_action(
            "taobao_order_create",
            {"out_order_id": request["out_order_id"], "order_id": order_id},
            "the server already had this outOrderId and returned the existing order"
            if data.get("duplicate")
            else "created",
        )
        return str(order_id)


__all__ = [
    "XportcnCreateOrderOperator",
    "XportcnOrderOverBudgetError",
    "XportcnPayOrderOperator",
    "XportcnPreviewOrderOperator",
    "XportcnTaobaoCreateOrderOperator",
    "XportcnTaobaoRenderOrderOperator",
]
