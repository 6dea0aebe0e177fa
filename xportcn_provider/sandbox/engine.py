"""The sandbox engine: one object holding credentials, store, faults and call log.

Framework-free on purpose: the FastAPI layer (:mod:`.app`, :mod:`.control`) only translates
HTTP to calls on :class:`Sandbox`, so every rule — authentication, validation, dispatch, control
operations — can be read and tested here without a server. One re-entrant lock makes each API
call and control operation atomic against the others.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xportcn_provider.api import statuses as st
from xportcn_provider.api.endpoints import Endpoint
from xportcn_provider.api.envelope import make_envelope
from xportcn_provider.api.errors import SUCCESS_CODE, EnvelopeCode
from xportcn_provider.api.signing import QUERY_SIGN, QUERY_TIMESTAMP
from xportcn_provider.sandbox import catalog, variants, views
from xportcn_provider.sandbox.auth import Authenticator
from xportcn_provider.sandbox.calllog import CallLog
from xportcn_provider.sandbox.defaults import DEVELOP_ID, SandboxCredentials
from xportcn_provider.sandbox.failures import ApiFailure, invalid
from xportcn_provider.sandbox.faults import FaultQueue
from xportcn_provider.sandbox.handlers import HANDLERS, Context, missing_handlers, new_order
from xportcn_provider.sandbox.lifecycle import LOGISTICS_STATUSES
from xportcn_provider.sandbox.paths import PathMap
from xportcn_provider.sandbox.push import Pusher
from xportcn_provider.sandbox.records import OrderItem, Tracked
from xportcn_provider.sandbox.store import Store
from xportcn_provider.sandbox.validation import check_required, time_value

log = logging.getLogger(__name__)

#: Resource names accepted by ``force`` and ``get``.
RESOURCES = ("order", "refund", "package", "logistics", "taobao_order")
REFUND_DECISIONS = ("agree_refund", "request_return", "refuse")


class ControlError(ValueError):
    """A bad control request (unknown resource, status, id...); answered with HTTP 400/404."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class ApiRequest:
    """One signed call as the HTTP layer received it."""

    endpoint: Endpoint
    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    base_url: str


class Sandbox:
    """Everything one running sandbox knows; ``reset`` returns it to a fresh start."""

    def __init__(
        self,
        credentials: SandboxCredentials | None = None,
        *,
        clock: Callable[[], float] = time.time,
        signature_rule: str | None = None,
        path_map: Mapping[str, Any] | None = None,
    ) -> None:
        missing = missing_handlers()
        if missing:
            raise RuntimeError(f"sandbox has no handler for catalogue endpoint(s): {', '.join(missing)}")
        self.credentials = credentials or SandboxCredentials()
        self.clock = clock
        self.lock = threading.RLock()
        self.auth = Authenticator(self.credentials, clock=clock, rule=signature_rule)
        #: The rule a reset returns to (the one the sandbox was started with).
        self.startup_signature_rule = self.auth.rule.name
        #: Endpoints served under other paths (``--path-map``, ``POST /_sandbox/paths``).
        self.paths = PathMap(path_map)
        self.faults = FaultQueue()
        self.calls = CallLog()
        self.store = Store(clock=clock)
        #: Bumped on every reset, so a call delayed by a ``timeout`` fault never writes into the
        #: store of the next test.
        self.generation = 0
        #: Posts push messages to a callback URL once one is set (see :mod:`.push`).
        self.pusher = Pusher(self)

    # --- the API -------------------------------------------------------------------------------
    def dispatch(self, request: ApiRequest) -> dict[str, Any]:
        """Authenticate, validate and run one call; always an envelope (``code`` 200 or not)."""
        endpoint = request.endpoint
        failure = self.auth.check(request.headers, request.query, query_signed=endpoint.query_signed)
        if failure is not None:
            return self._envelope(failure.code, failure.msg)
        call: variants.Call | None = None
        try:
            body = self._body(request)
            with self.lock:
                active = self.store.config.variants
                if active:
                    call = variants.Call(endpoint.name, body, active, self.store.variant_state)
                    body = variants.before(call, body)
                check_required(endpoint, body)
                data = HANDLERS[endpoint.name](Context(self.store, request.base_url), body)
                if call is not None:
                    data = variants.after(call, data)
        except variants.EarlyAnswer as early:
            return self._envelope(SUCCESS_CODE, None, early.data)
        except ApiFailure as err:
            if call is not None:
                return self._envelope(*variants.failure(call, err))
            return self._envelope(err.code, err.msg)
        return self._envelope(SUCCESS_CODE, None, data)

    def _envelope(self, code: int, msg: str | None, data: Any = None) -> dict[str, Any]:
        return make_envelope(code, msg, data, develop_id=DEVELOP_ID)

    @staticmethod
    def _body(request: ApiRequest) -> dict[str, Any]:
        if request.method == "GET":
            return {k: v for k, v in request.query.items() if k not in (QUERY_SIGN, QUERY_TIMESTAMP)}
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid(f"request body is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise invalid("request body must be a JSON object")
        return body

    # --- control operations ------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh store, default options, no faults, empty call log and nonce cache."""
        with self.lock:
            self.store = Store(clock=self.clock)
            self.faults.clear()
            self.calls.clear()
            self.auth.clear()
            self.auth.set_rule(self.startup_signature_rule)
            self.paths.reset()
            self.generation += 1
            self.pusher.reset()

    def set_signature_rule(self, name: str | None) -> str:
        """Accept only the signature rule ``name`` until the next reset (``None`` = the default)."""
        try:
            return self.auth.set_rule(name).name
        except ValueError as err:
            raise ControlError(str(err)) from None

    def configure(self, **options: Any) -> dict[str, Any]:
        with self.lock:
            self.store.config.update(**options)
            return self.store.config.as_dict()

    def config(self) -> dict[str, Any]:
        with self.lock:
            return self.store.config.as_dict()

    def advance(self, seconds: float) -> float:
        """Move the life-cycle clock forward (auth keeps using real time)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ControlError(f"seconds must be a number >= 0, got {seconds!r}")
        with self.lock:
            self.store.offset += float(seconds)
            return self.store.offset

    def seed_orders(
        self,
        count: int,
        *,
        status: str | None = None,
        start: str | float | None = None,
        step_seconds: float = 60.0,
        out_order_prefix: str = "seed-",
        offer_id: str = "610000000001",
        quantity: int = 1,
        hold: bool = True,
    ) -> list[str]:
        """Create ``count`` orders with ``createTime`` spaced by ``step_seconds``; their ids, oldest first.

        Without ``start`` the newest order is created "now" and the others before it. A
        ``status`` other than ``waitbuyerpay`` is applied as if forced (held unless ``hold=False``).
        """
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
            raise ControlError(f"count must be a whole number from 1 to 100000, got {count!r}")
        target = self._status("order", status) if status else st.WAITBUYERPAY
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ControlError(f"quantity must be a positive whole number, got {quantity!r}")
        with self.lock:
            store = self.store
            now = store.now()
            try:
                first = now - (count - 1) * step_seconds if start is None else time_value(start, "start")
            except ApiFailure as err:
                raise ControlError(err.msg) from None
            try:  # the same spec and price an order of this offer gets (product_detail's)
                spec_id, price = catalog.order_line_price(offer_id, None, "offer")
            except catalog.UnknownProductError as err:
                raise ControlError(str(err)) from None
            ids = []
            for i in range(count):
                created = first + i * step_seconds
                out_id = f"{out_order_prefix}{store.ids.seed_number():06d}"
                while out_id in store.orders_by_out_id:
                    out_id = f"{out_order_prefix}{store.ids.seed_number():06d}"
                line = OrderItem("", offer_id, spec_id, quantity, price)
                order = new_order(store, out_id, [line], created)
                if target != st.WAITBUYERPAY:
                    if target in st.ORDER_STATUS.groups["paid"]:
                        order.enter(st.WAITSELLERSEND, created)
                    if order.status != target:
                        order.enter(target, created)
                    order.hold = hold
                ids.append(order.order_id)
            return ids

    def _status(self, resource: str, status: Any) -> Any:
        """The canonical status of ``resource`` for a user's spelling, or a ControlError."""
        if resource == "logistics":
            upper = str(status).strip().upper()
            if upper in LOGISTICS_STATUSES:
                return upper
            raise ControlError(
                f"logistics status must be one of {', '.join(LOGISTICS_STATUSES)}, got {status!r}"
            )
        if resource == "taobao_order":
            name = st.TAOBAO_ORDER_STATUS.normalize(status)
            codes = [int(k) for k, v in st.TAOBAO_ORDER_STATUS.aliases.items() if v == name]
            if not codes:
                known = ", ".join(f"{k} ({v})" for k, v in st.TAOBAO_ORDER_STATUS.aliases.items())
                raise ControlError(f"taobao_order status must be one of {known}, got {status!r}")
            return codes[0]
        vocabularies = {"order": st.ORDER_STATUS, "refund": st.REFUND_STATUS, "package": st.PACKAGE_STATUS}
        vocabulary = vocabularies[resource]
        value = vocabulary.normalize(status)
        if value is None:
            raise ControlError(
                f"{resource} status must be one of {', '.join(vocabulary.values)}, got {status!r}"
            )
        return value

    def _record(self, resource: str, record_id: str) -> Tracked:
        """Find a record by its id (or its caller id: outOrderId, tmallOrderId, tracking number)."""
        if resource not in RESOURCES:
            raise ControlError(f"unknown resource {resource!r}; valid: {', '.join(RESOURCES)}")
        store = self.store
        key = str(record_id)
        found: Tracked | None
        if resource == "order":
            found = store.order(key) or store.order(store.orders_by_out_id.get(key, ""))
        elif resource == "taobao_order":
            found = store.taobao_order(key) or store.taobao_order(store.taobao_by_out_id.get(key, ""))
        elif resource == "refund":
            found = store.refund(key)
        elif resource == "package":
            found = store.package(key) or store.package_by_tracking(key)
        else:
            found = store.logistics_order(key) or store.logistics_order(
                store.logistics_by_tmall_id.get(key, "")
            )
        if found is None:
            raise ControlError(f"{resource} {key!r} not found", status=404)
        return found

    def force(
        self,
        resource: str,
        record_id: str,
        status: Any,
        *,
        hold: bool = False,
        overrides: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Put a record into ``status`` now; ``fields`` are laid over its served shape.

        The clock continues from the forced state unless ``hold=True`` (then the record stays put
        until an API call or another ``force`` moves it).
        """
        with self.lock:
            record = self._record(resource, record_id)
            value = self._status(resource, status)
            record.enter(value, self.store.now(), hold=hold)
            record.overrides.update({**(overrides or {}), **fields})  # ``overrides`` may hold "status"
            return self.get(resource, record_id)

    def set_refund_outcome(self, refund_id: str, outcome: str) -> dict[str, Any]:
        """What the seller decides for one refund (or, with ``"default"``, for all without their own)."""
        allowed = ("auto", *REFUND_DECISIONS) if refund_id == "default" else REFUND_DECISIONS
        if outcome not in allowed:
            raise ControlError(f"outcome must be one of {', '.join(allowed)}, got {outcome!r}")
        with self.lock:
            if refund_id == "default":
                self.store.config.update(refund_outcome=outcome)
                return {"refundId": "default", "outcome": outcome}
            record = self._record("refund", refund_id)
            record.outcome = outcome  # type: ignore[attr-defined]
            return {"refundId": refund_id, "outcome": outcome, "status": record.status}

    def get(self, resource: str, record_id: str) -> dict[str, Any]:
        """The stored record as the API would serve it, plus its history and hold flag."""
        with self.lock:
            record = self._record(resource, record_id)
            view = views.record_view(resource, record, self.store)
            return {**view, "history": views.history(record), "hold": record.hold}

    def state(self) -> dict[str, int]:
        with self.lock:
            return self.store.counts()

    def voucher(self, voucher_id: str) -> bytes | None:
        with self.lock:
            found = self.store.vouchers.get(voucher_id)
            return found.data if found else None

    def server_error(self, exc: BaseException) -> dict[str, Any]:
        """Envelope for a bug in the sandbox itself (logged with its traceback)."""
        log.exception("xportcn sandbox: unexpected error", exc_info=exc)
        return self._envelope(
            EnvelopeCode.SERVER_BUSY, f"sandbox internal error: {type(exc).__name__}: {exc}"
        )
