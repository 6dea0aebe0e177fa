"""International logistics (freight preview, booking) and the domestic waybill update.

Booking the international leg is keyed by ``tmallOrderId``, the caller's own order id. The
contract has no endpoint that reads a logistics order back, and no page says the service
refuses a second booking with the same ``tmallOrderId``. So a booking whose outcome is unknown is
never sent again on a guess:

1. ``tmall_order_id`` defaults to an id derived from the task instance (stable across retries);
2. ``task_state_store`` is read first: a try that got an answer left the logistics order id;
3. a try that *sent* a booking and never recorded its answer (its answer was lost, or the task
   was killed mid-call) left a "sent" mark there, written just before sending; the next try
   then fails with :class:`~xportcn_provider.api.errors.XportcnOutcomeUnknownError` naming the
   ``tmallOrderId`` and the console, and a person decides (``on_unknown_outcome="fail"``, the
   default). With ``on_unknown_outcome="resend"`` it sends the same ``tmallOrderId`` again and
   says in the log that this relies on the service deduplicating it;
4. otherwise the booking is sent; a lost answer fails the same way (the hook's rule for
   ``intl_logistics_create`` is ``never``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xportcn_provider.api.errors import (
    XportcnOutcomeUnknownError,
    XportcnProtocolError,
    XportcnValidationError,
)
from xportcn_provider.api.readback import refuse_failed_answer
from xportcn_provider.api.request_shapes import LineItem, LogisticInfo, ReceiverAddress, RenderItem
from xportcn_provider.links import XportcnLogisticsLink
from xportcn_provider.operators.base import (
    XportcnBaseOperator,
    derived_id,
)
from xportcn_provider.operators.validation import (
    caller_id,
    coerce_json,
    optional_id,
    optional_str,
    require_choice,
    require_id,
    require_items,
    require_mapping,
)
from xportcn_provider.operators.write_guard import ON_UNKNOWN_OUTCOME

if TYPE_CHECKING:
    from airflow.sdk import Context

RECEIVER_KEYS = ("name", "country", "address")
#: What a booking does when an earlier send's outcome is unknown (see the module docstring).


class XportcnFreightPreviewOperator(XportcnBaseOperator):
    """Freight options for an international shipment; returns the preview.

    :param receiver_address: ``{name, phone, address, city, state, zip, country, ...}`` (templated).
    :param render_items: ``[{itemId, skuId, quantity, freightInfo}]`` (templated).

    XCom: return value = ``{renderId, options: [...]}``; keys ``render_id`` and
    ``cheapest_service_id`` (the option with the lowest price).
    """

    endpoint_name = "freight_preview"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "receiver_address",
        "render_items",
    )
    template_fields_renderers = {"receiver_address": "json", "render_items": "json", "extra": "json"}

    def __init__(
        self,
        *,
        receiver_address: ReceiverAddress | Mapping[str, Any] | str,
        render_items: list[RenderItem] | list[Mapping[str, Any]] | str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.receiver_address = receiver_address
        self.render_items = render_items

    def build_request(self) -> dict[str, Any]:
        return {
            "receiver_address": require_mapping(
                self.receiver_address, "receiver_address", required_keys=RECEIVER_KEYS
            ),
            "render_items": require_items(self.render_items, "render_items", id_keys=("itemId",)),
            "extra": self.extra_body(),
        }

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        preview = self.hook.freight_preview(**request)
        render_id = preview.get("renderId") if isinstance(preview, Mapping) else None
        options = preview.get("options") if isinstance(preview, Mapping) else None
        priced = [o for o in options or [] if isinstance(o, Mapping) and isinstance(o.get("price"), int)]
        cheapest = min(priced, key=lambda o: o["price"]) if priced else None
        self.push(
            context,
            render_id=render_id,
            cheapest_service_id=cheapest.get("serviceId") if cheapest else None,
        )
        self.log_action(
            "freight_preview",
            {"render_id": render_id, "country": request["receiver_address"].get("country")},
            f"{len(priced)} option(s)"
            + (f", cheapest {cheapest.get('serviceId')} at {cheapest['price']} fen" if cheapest else ""),
        )
        return preview


class XportcnCreateInternationalLogisticsOrderOperator(XportcnBaseOperator):
    """Book the international leg once per ``tmall_order_id``; returns the logistics order id.

    :param render_id: the ``renderId`` of a freight preview (templated).
    :param receiver_address: as for the preview (templated).
    :param line_items: ``[{itemId, skuId, quantity, title, imageUrl, freightInfo}]`` (templated).
    :param tmall_order_id: your order id for this shipment, the idempotency key (templated).
        Default: derived from dag id, task id, run id and map index.
    :param remark: free text.
    :param on_unknown_outcome: ``"fail"`` (default): when a booking was sent and its answer lost,
        fail with the ``tmallOrderId`` to look for in the console instead of booking again.
        ``"resend"``: send the same ``tmallOrderId`` again — only safe if your service refuses a
        second booking with the same ``tmallOrderId`` (the contract does not say it does).

    XCom: return value = ``logisticsOrderId``; keys ``logistics_order_id``, ``tmall_order_id``,
    ``logistics_url``.
    """

    endpoint_name = "intl_logistics_create"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "render_id",
        "receiver_address",
        "line_items",
        "tmall_order_id",
        "remark",
    )
    template_fields_renderers = {"receiver_address": "json", "line_items": "json", "extra": "json"}
    operator_extra_links = (XportcnLogisticsLink(),)

    def __init__(
        self,
        *,
        render_id: str,
        receiver_address: ReceiverAddress | Mapping[str, Any] | str,
        line_items: list[LineItem] | list[Mapping[str, Any]] | str,
        tmall_order_id: str | None = None,
        remark: str | None = None,
        on_unknown_outcome: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.render_id = render_id
        self.receiver_address = receiver_address
        self.line_items = line_items
        self.tmall_order_id = tmall_order_id
        self.remark = remark
        self.on_unknown_outcome = on_unknown_outcome

    def build_request(self) -> dict[str, Any]:
        return {
            "render_id": require_id(self.render_id, "render_id"),
            "receiver_address": require_mapping(
                self.receiver_address, "receiver_address", required_keys=RECEIVER_KEYS
            ),
            "line_items": require_items(self.line_items, "line_items", id_keys=("itemId",)),
            "tmall_order_id": None
            if self.tmall_order_id in (None, "")
            else caller_id(self.tmall_order_id, "tmall_order_id"),
            "remark": optional_str(self.remark, "remark", max_length=500),
            "extra": self.extra_body(),
            "on_unknown_outcome": require_choice(
                self.on_unknown_outcome, "on_unknown_outcome", ON_UNKNOWN_OUTCOME
            ),
        }

    def _unknown(self, tmall_order_id: str, why: str, cause: str) -> XportcnOutcomeUnknownError:
        console = self.hook.console_url
        return XportcnOutcomeUnknownError(
            f"intl_logistics_create: {why} No endpoint reads a booking back, so it is not sent again "
            f"(a service that does not deduplicate would book twice). Look in the Xportcn console "
            f"({console}) for a logistics order with tmallOrderId {tmall_order_id}. If there is one, "
            "take its id from there; if there is none, run the task again with "
            "on_unknown_outcome='resend' (or, if your service is known to refuse a repeated "
            "tmallOrderId, keep that setting).",
            key={"tmallOrderId": tmall_order_id},
            check=f"a logistics order with tmallOrderId {tmall_order_id} in the console",
            cause=cause,
            endpoint="intl_logistics_create",
        )

    def _book(self, context: Context, request: dict[str, Any], sent_key: str) -> Any:
        resend = request.pop("on_unknown_outcome") == "resend"
        tmall_order_id = request["tmall_order_id"]
        if self.recall(context, sent_key):
            if not resend:
                raise self._unknown(
                    tmall_order_id, "an earlier try of this task sent this booking and got no answer.", ""
                )
            self.log.warning(
                "An earlier try sent booking tmallOrderId=%s without an answer; sending it again "
                "(on_unknown_outcome='resend': relies on the service refusing a repeated tmallOrderId).",
                tmall_order_id,
            )
        self.remember(context, sent_key, True)
        try:
            return self.hook.intl_logistics_create(**request)
        except XportcnOutcomeUnknownError as unknown:
            if not resend:
                raise self._unknown(
                    tmall_order_id, "the booking was sent and its answer lost.", unknown.cause
                ) from None
            self.log.warning(
                "Booking tmallOrderId=%s: answer lost (%s); sending it again (on_unknown_outcome='resend').",
                tmall_order_id,
                unknown.cause,
            )
            return self.hook.intl_logistics_create(**request)

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        tmall_order_id = request["tmall_order_id"] or derived_id(context)
        request["tmall_order_id"] = tmall_order_id
        key = self.state_key("intl_logistics", tmall_order_id)
        logistics_order_id = self.recall(context, key)
        ids = {"tmall_order_id": tmall_order_id, "render_id": request["render_id"]}
        if logistics_order_id:
            self.log_action(
                "intl_logistics_create",
                {**ids, "logistics_order_id": logistics_order_id},
                "reconnected to the booking of an earlier try (task_state_store)",
                remote=False,
            )
        else:
            data = self._book(context, request, f"{key}:sent")
            logistics_order_id = data.get("logisticsOrderId") if isinstance(data, Mapping) else None
            if not logistics_order_id:
                raise XportcnProtocolError(
                    f"intl_logistics_create answered without a logisticsOrderId: {data!r}",
                    endpoint="intl_logistics_create",
                    request_id=self.hook.last_request_id,
                )
            self.remember(context, key, str(logistics_order_id))
            self.log_action(
                "intl_logistics_create",
                {**ids, "logistics_order_id": logistics_order_id},
                "the server already had this tmallOrderId and returned the existing booking"
                if data.get("duplicate")
                else f"booked (status {data.get('status')})",
            )
        logistics_order_id = str(logistics_order_id)
        self.push(
            context,
            logistics_order_id=logistics_order_id,
            tmall_order_id=tmall_order_id,
            logistics_url=self.console_url_of("logistics", logistics_order_id),
        )
        return logistics_order_id


def _logistic_infos(value: Any) -> list[dict[str, Any]]:
    """Check ``[{lineItem, logisticNumer | domesticLogisticInfo[{logisticNumer, ...}]}]``."""
    infos = require_items(value, "logistic_infos", quantity_key=None)
    for index, info in enumerate(infos):
        where = f"logistic_infos[{index}]"
        line = coerce_json(info.get("lineItem"), "logistic_infos")
        if line is not None:
            if not isinstance(line, Mapping):
                raise XportcnValidationError(
                    f"{where}.lineItem must be an object.", parameter="logistic_infos"
                )
            require_items([line], "logistic_infos", id_keys=("itemId",), quantity_required=False)
        legs = info.get("domesticLogisticInfo")
        if legs is None:  # a bare tracking number is enough
            if not isinstance(info.get("logisticNumer"), str) or not info["logisticNumer"].strip():
                raise XportcnValidationError(
                    f"{where} needs logisticNumer (the seller's waybill) or domesticLogisticInfo "
                    "[{logisticNumer, logisticCompanyName, rtsTime}].",
                    parameter="logistic_infos",
                )
            continue
        if not isinstance(legs, list) or not legs:
            raise XportcnValidationError(
                f"{where}.domesticLogisticInfo must be a non-empty list of the seller's waybills "
                "({logisticNumer, logisticCompanyName, rtsTime}).",
                parameter="logistic_infos",
            )
        for leg_index, leg in enumerate(legs):
            leg_where = f"{where}.domesticLogisticInfo[{leg_index}]"
            if not isinstance(leg, Mapping):
                raise XportcnValidationError(f"{leg_where} must be an object.", parameter="logistic_infos")
            for key in ("logisticNumer", "logisticCompanyName"):
                if not isinstance(leg.get(key), str) or not leg[key].strip():
                    raise XportcnValidationError(
                        f"{leg_where}.{key} is required (a non-empty string).", parameter="logistic_infos"
                    )
            rts = leg.get("rtsTime")
            if rts is not None and (isinstance(rts, bool) or not isinstance(rts, int) or rts <= 0):
                raise XportcnValidationError(
                    f"{leg_where}.rtsTime must be Unix seconds (a whole number > 0), got {rts!r}.",
                    parameter="logistic_infos",
                )
    return infos


class XportcnUpdateDomesticLogisticsOperator(XportcnBaseOperator):
    """Record the seller's domestic waybill(s) on a logistics order; returns ``order_id``.

    An update is idempotent on the server (sending the same waybills again changes nothing), so
    a retry simply sends it again.

    :param order_id: the order the waybills belong to (templated).
    :param logistic_infos: ``[{lineItem{itemId, skuId, quantity, title, imageUrl}, logisticNumer,
        domesticLogisticInfo[{logisticNumer, logisticCompanyName, rtsTime}]}]`` (templated).
    :param tmall_order_id: your order id of the shipment (templated).

    XCom: return value = ``order_id``; keys ``order_id``, ``tracking_numbers``.
    """

    endpoint_name = "domestic_logistics_update"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "order_id",
        "logistic_infos",
        "tmall_order_id",
    )
    template_fields_renderers = {"logistic_infos": "json", "extra": "json"}

    def __init__(
        self,
        *,
        order_id: str | int,
        logistic_infos: list[LogisticInfo] | list[Mapping[str, Any]] | str,
        tmall_order_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.order_id = order_id
        self.logistic_infos = logistic_infos
        self.tmall_order_id = tmall_order_id

    def build_request(self) -> dict[str, Any]:
        return {
            "order_id": require_id(self.order_id, "order_id"),
            "logistic_infos": _logistic_infos(self.logistic_infos),
            "tmall_order_id": optional_id(self.tmall_order_id, "tmall_order_id"),
            "extra": self.extra_body(),
        }

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        answer = self.hook.domestic_logistics_update(**request)
        # No endpoint shows the waybills back (contract), so only the answer can be checked: a
        # code 200 whose data reports a failure (``false``, "...失败") fails the task.
        refuse_failed_answer("domestic_logistics_update", answer, request_id=self.hook.last_request_id)
        numbers = sorted(
            {
                str(n)
                for info in request["logistic_infos"]
                for n in [info.get("logisticNumer")]
                + [w.get("logisticNumer") for w in info.get("domesticLogisticInfo") or []]
                if n
            }
        )
        order_id = request["order_id"]
        self.push(context, order_id=order_id, tracking_numbers=numbers)
        self.log_action(
            "domestic_logistics_update",
            {"order_id": order_id, "tmall_order_id": request["tmall_order_id"]},
            f"recorded waybill(s) {', '.join(numbers)}",
        )
        return order_id


__all__ = [
    "XportcnCreateInternationalLogisticsOrderOperator",
    "XportcnFreightPreviewOperator",
    "XportcnUpdateDomesticLogisticsOperator",
]
