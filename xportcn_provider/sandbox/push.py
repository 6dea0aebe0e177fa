"""The sandbox pushes messages like Xport's message service (contract §4).

With a push URL set (``xportcn-sandbox --push-url URL`` or ``POST /_sandbox/push``), a
background thread watches every 1688 order, Taobao order and refund and POSTs one message per
life-cycle step — in the contract's exact shape ``{"messageType", "messageBody" (a JSON
string), "messagePlatform" (0 Taobao, 1 1688), "timestamp" (ms, string)}``, unsigned.

Life cycles are derived on read (:mod:`.lifecycle`), so the watcher reads the records every
``scan_interval`` seconds and sends a message for every history entry it has not sent yet, with
the time the record entered that state as ``timestamp``.

Like Xport, a delivery fails on a non-200 answer, a connection error, or an answer slower than
1,000 ms; it is retried every ``retry_interval`` seconds of *sandbox* time (default 30 minutes;
``advance(1800)`` moves the clock), at most ``max_retries`` (5) times, then dropped.

Faults (``POST /_sandbox/push/faults``), each for the next ``count`` messages:

* ``duplicate`` — the message is delivered twice at the same time (two racing deliveries);
* ``out_of_order`` — the message is held back and delivered after the next one;
* ``receiver_down`` — the delivery attempt fails as if the receiver refused the connection
  (nothing is sent), so the retry schedule applies.

Every attempt is in the call log (endpoint ``push``, the URL's last path segment — the token —
replaced by ``***``), with the HTTP status, the duration and ``msg`` = ``<type> <id> attempt n``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from xportcn_provider.api import statuses as st
from xportcn_provider.api.messages import redact_push_path
from xportcn_provider.sandbox.lifecycle import TAOBAO_CLOSED, TAOBAO_WAIT_CONFIRM, TAOBAO_WAIT_SEND
from xportcn_provider.sandbox.records import Order, Refund, TaobaoOrder, Tracked

if TYPE_CHECKING:
    from xportcn_provider.sandbox.engine import Sandbox

log = logging.getLogger(__name__)

#: The call-log endpoint name of push deliveries.
PUSH_ENDPOINT = "push"
#: Xport's limits: answer within 1,000 ms; retry every 30 minutes, at most 5 times.
ANSWER_LIMIT_SECONDS = 1.0
RETRY_INTERVAL_SECONDS = 1800.0
MAX_RETRIES = 5
PUSH_FAULTS = ("duplicate", "out_of_order", "receiver_down")
#: How long an ``out_of_order`` message waits for a successor before it is sent anyway.
HOLD_SECONDS = 5.0

#: 1688 order status -> (message type, ``orderStatus`` in the push spelling). The contract names
#: ORDER_CREATE, ORDER_PAY_SUCCESS and ORDER_CANCEL and the spellings WAITING_FOR_PAYMENT,
#: WAITING_FOR_SENT and CANCEL; the other types are the sandbox's own names for the later steps.
ORDER_MESSAGES: dict[str, tuple[str, str]] = {
    st.WAITBUYERPAY: ("ORDER_CREATE", "WAITING_FOR_PAYMENT"),
    st.WAITSELLERSEND: ("ORDER_PAY_SUCCESS", "WAITING_FOR_SENT"),
    st.WAITBUYERRECEIVE: ("ORDER_SELLER_SEND_GOODS", "WAITING_FOR_RECEIVE"),
    st.CONFIRM_GOODS: ("ORDER_BUYER_CONFIRM_GOODS", "CONFIRM_GOODS"),
    st.ORDER_SUCCESS: ("ORDER_SUCCESS", "SUCCESS"),
    st.ORDER_CANCEL: ("ORDER_CANCEL", "CANCEL"),
    st.TERMINATED: ("ORDER_CANCEL", "TERMINATED"),
}
TAOBAO_MESSAGES: dict[int, str] = {
    TAOBAO_WAIT_SEND: "ORDER_PAY_SUCCESS",
    TAOBAO_WAIT_CONFIRM: "ORDER_SELLER_SEND_GOODS",
    TAOBAO_CLOSED: "ORDER_CANCEL",
}
REFUND_MESSAGE = "ORDER_BUYER_VIEW_ORDER_BUYER_REFUND"


class PushConfigError(ValueError):
    """A bad push setting or fault (answered with HTTP 400 by the control API)."""


@dataclass
class Delivery:
    """One message and its delivery attempts."""

    seq: int
    message: dict[str, Any]
    label: str
    due: float  # sandbox clock
    attempts: int = 0
    held_since: float | None = None
    fault: str | None = None


@dataclass
class PushStats:
    sent: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dropped: int = 0
    messages: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _ms(at: float) -> str:
    return str(round(at * 1000))


def _message(message_type: str, platform: int, at: float, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageType": message_type,
        "messageBody": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        "messagePlatform": platform,
        "timestamp": _ms(at),
    }


def order_message(order: Order, status: str, at: float) -> dict[str, Any]:
    message_type, spelled = ORDER_MESSAGES[status]
    paid = order.entered(st.WAITSELLERSEND)
    body = {
        "orderId": order.order_id,
        "orderNo": order.out_order_id,
        "orderStatus": spelled,
        "payStatus": 2 if paid is not None and paid <= at else 1,
        "totalAmount": order.total,
        "shippingFee": order.carriage,
        "productAmount": order.goods_amount,
        "tbCreateTime": _ms(order.created),
        "payTime": _ms(paid) if paid is not None and paid <= at else None,
    }
    if status in (st.ORDER_CANCEL, st.TERMINATED):
        body["closeReason"] = "cancelled in the sandbox"
    return _message(message_type, 1, at, body)


def taobao_message(order: TaobaoOrder, status: int, at: float, first: bool) -> dict[str, Any]:
    message_type = "ORDER_CREATE" if first else TAOBAO_MESSAGES.get(status, "ORDER_STATUS_CHANGE")
    body = {
        "orderId": order.order_id,
        "orderNo": order.out_order_id,
        "orderStatus": status,
        "totalAmount": order.total,
        "shippingFee": order.post_fee,
        "tbCreateTime": _ms(order.created),
    }
    return _message(message_type, 0, at, body)


def refund_message(refund: Refund, status: str, at: float) -> dict[str, Any]:
    body = {
        "orderId": refund.order_id,
        "refundId": refund.refund_id,
        "refundStatus": status,
        "refundAmount": refund.apply_payment,
        "orderEntryIds": list(refund.entry_ids),
    }
    return _message(REFUND_MESSAGE, 1, at, body)


class Pusher:
    """Watches the sandbox's store and delivers messages to ``url`` from a background thread."""

    def __init__(self, sandbox: Sandbox, *, scan_interval: float = 0.1) -> None:
        self.sandbox = sandbox
        self.scan_interval = scan_interval
        self.url: str | None = None
        self.retry_interval = RETRY_INTERVAL_SECONDS
        self.max_retries = MAX_RETRIES
        self.answer_limit = ANSWER_LIMIT_SECONDS
        self._lock = threading.RLock()
        self._cursors: dict[tuple[str, str], int] = {}
        self._pending: list[Delivery] = []
        self._held: list[Delivery] = []
        self._faults: list[list[Any]] = []  # [kind, remaining]
        self._seq = itertools.count(1)
        self._stats = PushStats()
        self._session = requests.Session()
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- settings ------------------------------------------------------------------------------
    def configure(
        self,
        *,
        url: str | None,
        retry_interval: float | None = None,
        max_retries: int | None = None,
        answer_limit: float | None = None,
    ) -> dict[str, Any]:
        """Start (``url``) or stop (``None``) pushing; records that exist now are not announced."""
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise PushConfigError(f"url must be an http(s) URL, got {url!r}")
        for name, value, low in (
            ("retry_interval", retry_interval, 0.0),
            ("answer_limit", answer_limit, 0.01),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < low
            ):
                raise PushConfigError(f"{name} must be a number >= {low}, got {value!r}")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise PushConfigError(f"max_retries must be a whole number >= 0, got {max_retries!r}")
        with self._lock:
            if url is not None and self.url is None:
                self._cursors = self._current_cursors()
            self.url = url
            if retry_interval is not None:
                self.retry_interval = float(retry_interval)
            if max_retries is not None:
                self.max_retries = max_retries
            if answer_limit is not None:
                self.answer_limit = float(answer_limit)
        if url is not None:
            self.start()
        return self.state()

    def add_fault(self, kind: str, count: int = 1) -> dict[str, Any]:
        if kind not in PUSH_FAULTS:
            raise PushConfigError(f"push fault must be one of {', '.join(PUSH_FAULTS)}, got {kind!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise PushConfigError(f"count must be a whole number >= 1, got {count!r}")
        with self._lock:
            self._faults.append([kind, count])
        return self.state()

    def reset(self) -> None:
        """Forget everything (the sandbox's reset): no URL, nothing pending, no faults."""
        with self._lock:
            self.url = None
            self.retry_interval = RETRY_INTERVAL_SECONDS
            self.max_retries = MAX_RETRIES
            self.answer_limit = ANSWER_LIMIT_SECONDS
            self._cursors = {}
            self._pending = []
            self._held = []
            self._faults = []
            self._stats = PushStats()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "url": redact_push_path(self.url) if self.url else None,
                "retry_interval": self.retry_interval,
                "max_retries": self.max_retries,
                "answer_limit": self.answer_limit,
                "pending": len(self._pending) + len(self._held),
                "faults": [{"kind": k, "count": c} for k, c in self._faults],
                "messages": self._stats.messages,
                "attempts": self._stats.sent,
                "delivered": self._stats.delivered,
                "failed_attempts": self._stats.failed_attempts,
                "dropped": self._stats.dropped,
            }

    # --- the thread ----------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="xportcn-sandbox-push", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._session.close()

    def _run(self) -> None:
        while not self._stop.wait(self.scan_interval):
            try:
                self.tick()
            except Exception:  # the pusher must outlive a bad record or a reset mid-scan
                log.exception("xportcn sandbox: push loop error")

    def tick(self) -> int:
        """Scan for new messages and deliver what is due; returns the attempts made."""
        if self.url is None:
            return 0
        with self._tick_lock:  # the thread and a control-API flush never interleave
            new = self._scan()
            with self._lock:
                self._pending.extend(new)
            return self._deliver_due()

    # --- scanning ------------------------------------------------------------------------------
    def _records(self) -> list[tuple[str, Tracked]]:
        store = self.sandbox.store
        records: list[tuple[str, Tracked]] = [("order", o) for o in store.all_orders()]
        records += [("taobao_order", o) for o in store.all_taobao_orders()]
        for refund_id in list(store.refunds):
            refund = store.refund(refund_id)
            if refund is not None:
                records.append(("refund", refund))
        return records

    @staticmethod
    def _key(kind: str, record: Tracked) -> tuple[str, str]:
        ident = record.refund_id if isinstance(record, Refund) else getattr(record, "order_id", "")
        return kind, str(ident)

    def _current_cursors(self) -> dict[tuple[str, str], int]:
        with self.sandbox.lock:
            return {self._key(kind, r): len(r.history) for kind, r in self._records()}

    def _scan(self) -> list[Delivery]:
        new: list[Delivery] = []
        with self.sandbox.lock, self._lock:
            now = self.sandbox.store.now()
            for kind, record in self._records():
                key = self._key(kind, record)
                start = self._cursors.get(key, 0)
                history = record.history or [(record.status, record.created)]
                for index in range(start, len(history)):
                    status, at = history[index]
                    message = self._build(kind, record, status, at, index == 0)
                    if message is not None:
                        label = f"{message['messageType']} {key[1]}"
                        new.append(Delivery(next(self._seq), message, label, due=now))
                self._cursors[key] = len(history)
            self._stats.messages += len(new)
        return new

    @staticmethod
    def _build(kind: str, record: Tracked, status: Any, at: float, first: bool) -> dict[str, Any] | None:
        if kind == "order" and isinstance(record, Order) and status in ORDER_MESSAGES:
            return order_message(record, status, at)
        if kind == "taobao_order" and isinstance(record, TaobaoOrder):
            return taobao_message(record, int(status), at, first)
        if kind == "refund" and isinstance(record, Refund):
            return refund_message(record, str(status), at)
        return None

    # --- delivering ----------------------------------------------------------------------------
    def _take_fault(self) -> str | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault[1] -= 1
            if fault[1] <= 0:
                self._faults.pop(0)
            return str(fault[0])

    def _deliver_due(self) -> int:
        attempts = 0
        now = self.sandbox.store.now()
        with self._lock:
            due = sorted((d for d in self._pending if d.due <= now), key=lambda d: d.seq)
            self._pending = [d for d in self._pending if d.due > now]
        for delivery in due:
            if delivery.attempts == 0 and delivery.fault is None:
                delivery.fault = self._take_fault()
                if delivery.fault == "out_of_order":
                    delivery.held_since = time.monotonic()
                    self._held.append(delivery)
                    continue
            attempts += self._attempt(delivery)
            attempts += self._release_held(after=delivery)
        attempts += self._release_held(after=None)
        return attempts

    def _release_held(self, *, after: Delivery | None) -> int:
        """Deliver held messages once a later one went out (or after :data:`HOLD_SECONDS`)."""
        ready = [
            d
            for d in self._held
            if (after is not None and after.seq > d.seq)
            or (d.held_since is not None and time.monotonic() - d.held_since > HOLD_SECONDS)
        ]
        self._held = [d for d in self._held if d not in ready]
        return sum(self._attempt(d) for d in ready)

    def _attempt(self, delivery: Delivery) -> int:
        url = self.url
        if url is None:
            return 0
        delivery.attempts += 1
        if delivery.fault == "duplicate" and delivery.attempts == 1:
            twin = threading.Thread(target=self._post, args=(url, delivery, "duplicate"), daemon=True)
            twin.start()
            ok = self._post(url, delivery, "duplicate")
            twin.join(self.answer_limit + 5)
        else:
            fault = delivery.fault if delivery.fault == "receiver_down" and delivery.attempts == 1 else None
            ok = self._post(url, delivery, fault)
        with self._lock:
            if ok:
                self._stats.delivered += 1
            elif delivery.attempts <= self.max_retries:
                delivery.due = self.sandbox.store.now() + self.retry_interval
                self._pending.append(delivery)
            else:
                self._stats.dropped += 1
        return 1

    def _post(self, url: str, delivery: Delivery, fault: str | None) -> bool:
        calls = self.sandbox.calls
        entry = calls.start(
            endpoint=PUSH_ENDPOINT, method="POST", path=redact_push_path(url), client=None, fault=fault
        )
        label = f"{delivery.label} attempt {delivery.attempts}"
        with self._lock:
            self._stats.sent += 1
        if fault == "receiver_down":
            calls.finish(entry, http_status=None, msg=f"{label}: receiver down (fault)")
            self._failed()
            return False
        started = time.monotonic()
        try:
            response = self._session.post(url, json=delivery.message, timeout=(2.0, self.answer_limit + 1.0))
        except requests.RequestException as err:
            calls.finish(entry, http_status=None, msg=f"{label}: {type(err).__name__}")
            self._failed()
            return False
        elapsed = time.monotonic() - started
        slow = elapsed > self.answer_limit
        note = f" too slow ({elapsed * 1000:.0f} ms)" if slow else ""
        calls.finish(entry, http_status=response.status_code, msg=f"{label}{note}")
        with contextlib.suppress(Exception):
            response.close()
        if response.status_code != 200 or slow:
            self._failed()
            return False
        return True

    def _failed(self) -> None:
        with self._lock:
            self._stats.failed_attempts += 1
