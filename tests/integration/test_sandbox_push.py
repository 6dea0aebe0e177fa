"""The sandbox pushes messages like Xport (contract §4) to a real HTTP receiver: retries, faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from xportcn_provider.api.messages import parse_push_message
from xportcn_provider.sandbox.client import SandboxControlError
from xportcn_provider.sandbox.handle import SandboxHandle

TOKEN = "r" * 40


class Receiver:
    """A real HTTP server that records every POST; ``answer`` decides status and delay."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answer: Callable[[dict[str, Any]], tuple[int, float]] = lambda _m: (200, 0.0)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                message = json.loads(raw)
                receiver.received.append({"path": self.path, "message": message, "at": time.monotonic()})
                status, delay = receiver.answer(message)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/xportcn/push/xportcn_default/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self) -> list[dict[str, Any]]:
        return [r["message"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, self.messages()
        return self.messages()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def types_of(messages: list[dict[str, Any]]) -> list[str]:
    return [m["messageType"] for m in messages]


def test_each_order_step_is_pushed_in_the_contract_shape(
    xportcn_sandbox: SandboxHandle, receiver: Receiver
) -> None:
    control = xportcn_sandbox.control
    control.seed_orders(1)  # exists before pushing starts: not announced
    control.configure(all_delays=0.2)
    control.push_to(receiver.url)
    [order_id] = control.seed_orders(1, hold=False)
    receiver.wait_for(1)
    control.force("order", order_id, "waitsellersend")  # paid: the clock ships, receives, completes
    messages = receiver.wait_for(5)
    assert types_of(messages) == [
        "ORDER_CREATE",
        "ORDER_PAY_SUCCESS",
        "ORDER_SELLER_SEND_GOODS",
        "ORDER_BUYER_CONFIRM_GOODS",
        "ORDER_SUCCESS",
    ]
    for message in messages:
        assert set(message) == {"messageType", "messageBody", "messagePlatform", "timestamp"}
        assert isinstance(message["messageBody"], str) and isinstance(message["timestamp"], str)
        assert message["messagePlatform"] == 1
    parsed = [parse_push_message(m) for m in messages]  # what the receiver will make of them
    assert [p.status for p in parsed] == [
        "waitbuyerpay",
        "waitsellersend",
        "waitbuyerreceive",
        "confirm_goods",
        "success",
    ]
    assert {p.order_id for p in parsed} == {order_id}
    assert [p.pay_status for p in parsed] == ["unpaid", "paid", "paid", "paid", "paid"]
    assert [p.sent_at_ms for p in parsed] == sorted(p.sent_at_ms for p in parsed)
    assert {r["path"] for r in receiver.received} == {f"/xportcn/push/xportcn_default/{TOKEN}"}
    state = control.push_state()
    assert (state["messages"], state["delivered"], state["pending"]) == (5, 5, 0)
    assert TOKEN not in json.dumps(state) and TOKEN not in json.dumps(control.calls("push"))


def test_refund_messages(xportcn_default_conn: SandboxHandle, receiver: Receiver) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    control = xportcn_default_conn.control
    control.configure(all_delays=0.2)
    [order_id] = control.seed_orders(1, status="waitbuyerreceive")
    control.push_to(receiver.url)
    hook = XportcnHook()
    entry = hook.order_detail(order_id=order_id)["productItems"][0]["subItemID"]
    refund = hook.refund_create(
        order_id=order_id, order_entry_ids=[str(entry)], dispute_request="refund", apply_payment=100
    )
    messages = receiver.wait_for(2)
    parsed = [parse_push_message(m) for m in messages]
    assert {p.kind for p in parsed} == {"refunds"}
    assert [p.status for p in parsed] == ["waitselleragree", "refundsuccess"]
    assert {p.refund_id for p in parsed} == {refund["refundId"]}


def test_failed_deliveries_are_retried_every_30_sandbox_minutes_at_most_5_times(
    xportcn_sandbox: SandboxHandle, receiver: Receiver
) -> None:
    control = xportcn_sandbox.control
    receiver.answer = lambda _m: (500, 0.0)
    control.push_to(receiver.url)
    control.seed_orders(1)
    receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.received) == 1  # no retry before 30 minutes of sandbox time
    for attempt in range(2, 7):
        control.advance(1799)
        control.push_flush()
        assert len(receiver.received) == attempt - 1
        control.advance(1)
        receiver.wait_for(attempt)
    control.advance(1800)
    control.push_flush()
    assert len(receiver.received) == 6  # 1 + 5 retries, then dropped
    state = control.push_state()
    assert (state["dropped"], state["failed_attempts"], state["pending"]) == (1, 6, 0)
    log = control.calls("push")
    assert [c["http_status"] for c in log] == [500] * 6
    assert [c["msg"].rsplit(" ", 1)[-1] for c in log] == ["1", "2", "3", "4", "5", "6"]
    assert all(c["path"].endswith("/xportcn_default/***") for c in log)


def test_an_answer_slower_than_1000_ms_counts_as_failed(
    xportcn_sandbox: SandboxHandle, receiver: Receiver
) -> None:
    control = xportcn_sandbox.control
    answers = iter([(200, 1.3), (200, 0.0)])
    receiver.answer = lambda _m: next(answers)
    control.push_to(receiver.url)
    control.seed_orders(1)
    receiver.wait_for(1)
    time.sleep(1.6)
    control.advance(1800)
    receiver.wait_for(2)
    time.sleep(0.3)
    log = control.calls("push")
    assert "too slow" in log[0]["msg"] and log[1]["http_status"] == 200
    assert control.push_state()["delivered"] == 1


def test_faults_duplicate_out_of_order_receiver_down(
    xportcn_sandbox: SandboxHandle, receiver: Receiver
) -> None:
    control = xportcn_sandbox.control
    control.push_to(receiver.url)

    control.push_fault("duplicate")
    control.seed_orders(1)
    messages = receiver.wait_for(2)
    assert messages[0] == messages[1]
    assert abs(receiver.received[0]["at"] - receiver.received[1]["at"]) < 0.5  # racing, not retried

    control.push_fault("out_of_order")
    [first] = control.seed_orders(1)
    time.sleep(0.3)
    [second] = control.seed_orders(1)
    messages = receiver.wait_for(4)
    order_ids = [json.loads(m["messageBody"])["orderId"] for m in messages[2:4]]
    assert order_ids == [second, first]

    control.push_fault("receiver_down")
    control.seed_orders(1)
    time.sleep(0.5)
    assert len(receiver.received) == 4
    down = [c for c in control.calls("push") if c["fault"] == "receiver_down"]
    assert len(down) == 1 and down[0]["http_status"] is None
    control.advance(1800)
    receiver.wait_for(5)


def test_bad_push_settings_are_refused(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    with pytest.raises(SandboxControlError, match="http"):
        control.push_to("ftp://example")
    with pytest.raises(SandboxControlError, match="push fault"):
        control.push_fault("lost")
    assert control.push_state()["url"] is None
