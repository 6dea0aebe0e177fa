"""The sandbox engine without HTTP: a fake clock, the call-log cap, option checking.

These pin rules that are awkward to reach through a server (a controllable clock for auth and
life cycles) while the other ``test_sandbox_*`` files prove the same engine over real HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.errors import EnvelopeCode
from xportcn_provider.api.signing import signed_headers
from xportcn_provider.sandbox.calllog import CallLog
from xportcn_provider.sandbox.config import ConfigError
from xportcn_provider.sandbox.engine import ApiRequest, Sandbox
from xportcn_provider.sandbox.handlers import missing_handlers

ADDRESS = {"fullName": "Li Lei", "mobile": "13800000000", "address": "文一西路 1 号"}


class Clock:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def call(sandbox: Sandbox, name: str, body: dict[str, Any], clock: Clock) -> dict[str, Any]:
    creds = sandbox.credentials
    headers = signed_headers(
        creds.access_key, creds.access_secret, creds.user_id, clock=lambda: str(int(clock.now))
    )
    request = ApiRequest(
        CATALOGUE[name], CATALOGUE[name].method, headers, {}, json.dumps(body).encode(), "http://x"
    )
    return sandbox.dispatch(request)


def test_every_catalogue_endpoint_has_a_handler() -> None:
    assert missing_handlers() == []


def test_life_cycle_and_auth_follow_the_injected_clock() -> None:
    clock = Clock()
    sandbox = Sandbox(clock=clock)
    sandbox.configure(order_ship_delay=100, order_receive_delay=100, order_success_delay=100)
    created = call(
        sandbox,
        "order_create",
        {"outOrderId": "c1", "addressParam": ADDRESS, "cargoParamList": [{"offerId": "1", "quantity": 1}]},
        clock,
    )
    order_id = created["data"]["orderId"]
    call(sandbox, "order_pay", {"orderId": order_id}, clock)
    clock.now += 250  # two steps due: shipped at +100, received at +200
    detail = sandbox.get("order", order_id)
    assert detail["status"] == "confirm_goods"
    times = [h["time"] for h in detail["history"]]
    assert times[-1] == "2026-09-21T14:16:40Z"  # entered exactly at pay time + 200 s
    # A request signed 601 s in the past (by the same clock) is refused as clock skew.
    stale = Clock(clock.now - 601)
    creds = sandbox.credentials
    headers = signed_headers(
        creds.access_key, creds.access_secret, creds.user_id, clock=lambda: str(int(stale.now))
    )
    answer = sandbox.dispatch(ApiRequest(CATALOGUE["address_list"], "POST", headers, {}, b"{}", "http://x"))
    assert answer["code"] == EnvelopeCode.TIMESTAMP_EXPIRED


def test_domestic_logistics_update_with_a_bare_tracking_number() -> None:
    clock = Clock()
    sandbox = Sandbox(clock=clock)
    created = call(
        sandbox,
        "order_create",
        {"outOrderId": "c1", "addressParam": ADDRESS, "cargoParamList": [{"offerId": "1", "quantity": 1}]},
        clock,
    )
    body = {"orderId": created["data"]["orderId"], "logisticInfos": [{"logisticNumer": "YT42"}]}
    assert call(sandbox, "domestic_logistics_update", body, clock)["data"] is True
    assert sandbox.store.orders[created["data"]["orderId"]].domestic_logistics == [{"logisticNumer": "YT42"}]
    missing = call(sandbox, "domestic_logistics_update", {**body, "orderId": "404"}, clock)
    assert missing["code"] == EnvelopeCode.NOT_FOUND


def test_call_log_keeps_the_newest_entries() -> None:
    log = CallLog(max_entries=3)
    for i in range(5):
        log.start(
            endpoint="address_list", method="POST", path=f"/{i}", client=("127.0.0.1", 1000 + i), fault=None
        )
    assert [e["path"] for e in log.entries()] == ["/2", "/3", "/4"]
    assert log.stats() == {"connections": 5, "requests": 5}


def test_configure_is_all_or_nothing() -> None:
    sandbox = Sandbox()
    before = sandbox.config()
    with pytest.raises(ConfigError, match="qc_outcome"):
        sandbox.configure(order_ship_delay=9, qc_outcome="maybe")
    assert sandbox.config() == before
    assert sandbox.configure(all_delays=0.5)["refund_agree_delay"] == 0.5


def test_a_sandbox_bug_answers_500_and_the_server_keeps_serving(
    xportcn_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The served sandbox shares this process's handler table, so a handler can be broken here."""
    from xportcn_provider.sandbox.handlers import HANDLERS

    from .conftest import make_client

    def broken(ctx: Any, body: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(HANDLERS, "address_list", broken)
    client = make_client(xportcn_sandbox, max_retries=0)
    with pytest.raises(Exception, match="HTTP 500"):
        client.call("address_list", {})
    [logged] = xportcn_sandbox.control.calls()
    assert (logged["http_status"], logged["code"]) == (500, EnvelopeCode.SERVER_BUSY)
    assert "RuntimeError: boom" in logged["msg"]
    monkeypatch.undo()
    assert client.call("address_list", {})
