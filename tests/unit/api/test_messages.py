"""Push-message parsing, validation and normalisation (``xportcn_provider.api.messages``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from xportcn_provider.api import messages as m

NOW_MS = 1_796_178_905_973


def wire(body: dict[str, Any] | str | None = None, **fields: Any) -> dict[str, Any]:
    """A message as Xport sends it: ``messageBody`` a JSON string, ``timestamp`` ms as a string."""
    if body is None:
        body = {"orderId": "2618493058261900001", "orderStatus": "WAITING_FOR_SENT", "payStatus": 2}
    data: dict[str, Any] = {
        "messageType": "ORDER_PAY_SUCCESS",
        "messageBody": body if isinstance(body, str) else json.dumps(body),
        "messagePlatform": 1,
        "timestamp": str(NOW_MS),
    }
    data.update(fields)
    return data


def test_a_1688_order_message_is_normalised() -> None:
    msg = m.parse_push_message(wire())
    assert (msg.message_type, msg.platform, msg.kind) == ("ORDER_PAY_SUCCESS", "1688", "orders")
    assert msg.order_id == "2618493058261900001" and msg.refund_id is None
    assert (msg.status, msg.raw_status, msg.pay_status) == ("waitsellersend", "WAITING_FOR_SENT", "paid")
    assert msg.sent_at_ms == NOW_MS and msg.sent_at.year == 2026
    extra = msg.event_extra(conn_id="xportcn_default", stale=False)
    assert extra["sent_at"] == "2026-12-02T02:35:05.973Z"
    assert extra["body"]["payStatus"] == 2 and json.loads(extra["raw_body"]) == extra["body"]
    assert extra["message_key"] == msg.message_key and len(msg.message_key) == 64
    assert extra["stale"] is False and extra["conn_id"] == "xportcn_default"
    json.dumps(extra)  # an asset event's extra must be JSON


def test_refund_messages_and_taobao_statuses() -> None:
    refund = m.parse_push_message(
        wire(
            {"orderId": "1", "refundId": "TQ1", "refundStatus": "refundsuccess"},
            messageType="ORDER_BUYER_VIEW_ORDER_BUYER_REFUND",
        )
    )
    assert (refund.kind, refund.refund_id, refund.status) == ("refunds", "TQ1", "refundsuccess")
    assert refund.object_key == "refunds:1688:TQ1"
    taobao = m.parse_push_message(
        wire({"orderId": "88", "orderStatus": 11}, messageType="ORDER_CREATE", messagePlatform="0")
    )
    assert (taobao.platform, taobao.status, taobao.object_key) == (
        "taobao",
        "wait_buyer_confirm",
        "orders:taobao:88",
    )
    taobao_refund = m.parse_push_message(
        wire({"orderId": "88", "refundId": "R9", "refundStatus": "-20"}, messagePlatform=0)
    )
    assert (taobao_refund.kind, taobao_refund.status) == ("refunds", "closed")


def test_an_unknown_status_is_kept_raw_and_not_guessed() -> None:
    msg = m.parse_push_message(wire({"orderId": "1", "orderStatus": "SOMETHING_NEW"}))
    assert (msg.status, msg.raw_status) == (None, "SOMETHING_NEW")


def test_redelivery_has_the_same_key_even_when_reserialised() -> None:
    body = {"orderId": "1", "orderStatus": "CANCEL", "closeReason": "买家取消"}
    first = m.parse_push_message(wire(json.dumps(body), messageType="ORDER_CANCEL"))
    again = m.parse_push_message(
        wire(
            json.dumps(dict(reversed(body.items())), indent=2, ensure_ascii=False), messageType="ORDER_CANCEL"
        )
    )
    assert first.message_key == again.message_key
    later = m.parse_push_message(
        wire(json.dumps(body), messageType="ORDER_CANCEL", timestamp=str(NOW_MS + 1))
    )
    other = m.parse_push_message(wire(json.dumps({**body, "orderId": "2"}), messageType="ORDER_CANCEL"))
    assert len({first.message_key, later.message_key, other.message_key}) == 3


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (wire(messageType=None), "messageType"),
        (wire(messageType="order create"), "messageType"),
        (wire(messageType=5), "messageType"),
        (wire(messagePlatform=2), "messagePlatform"),
        (wire(messagePlatform=None), "messagePlatform"),
        (wire(messagePlatform=True), "messagePlatform"),
        (wire(timestamp="yesterday"), "timestamp"),
        (wire(timestamp="1700000000"), "timestamp"),  # seconds, not milliseconds
        (wire(timestamp=None), "timestamp"),
        (wire("not json"), "messageBody"),
        (wire("[1, 2]"), "messageBody"),
        (wire(""), "messageBody"),
        ({**wire(), "messageBody": 7}, "messageBody"),
        (wire({"orderStatus": "CANCEL"}), "messageBody.orderId"),
        (wire({"orderId": "1 OR 1=1"}), "messageBody.orderId"),
        (wire({"orderId": "1", "refundId": {"x": 1}}), None),  # a non-scalar id is absent, not an error
    ],
)
def test_bad_shapes_name_the_field(data: dict[str, Any], field: str | None) -> None:
    if field is None:
        assert m.parse_push_message(data).refund_id is None
        return
    with pytest.raises(m.PushMessageError) as err:
        m.parse_push_message(data)
    assert err.value.parameter == field


def test_a_body_object_is_tolerated() -> None:
    msg = m.parse_push_message({**wire(), "messageBody": {"orderId": "5", "orderStatus": "CANCEL"}})
    assert (msg.order_id, msg.status) == ("5", "cancel")


def test_decode_json_and_form_bodies() -> None:
    raw = json.dumps(wire()).encode()
    assert m.decode_push_request(raw, "application/json; charset=utf-8")["messageType"] == "ORDER_PAY_SUCCESS"
    assert m.decode_push_request(raw, None)["messagePlatform"] == 1
    form = (
        b"messageType=ORDER_CREATE&messageBody=%7B%22orderId%22%3A%221%22%7D"
        b"&messagePlatform=1&timestamp=1796178905973"
    )
    parsed = m.parse_push_message(m.decode_push_request(form, "application/x-www-form-urlencoded"))
    assert (parsed.order_id, parsed.platform) == ("1", "1688")
    for bad, content_type in [
        (b"{", None),
        (b"[]", None),
        (b"\xff\xfe", None),
        (b"a=1&&", "application/x-www-form-urlencoded"),
    ]:
        with pytest.raises(m.PushMessageError) as err:
            m.decode_push_request(bad, content_type)
        assert err.value.parameter == "body"
    with pytest.raises(m.PushMessageError):
        m.decode_push_request(b"x" * (m.MAX_BODY_BYTES + 1), None)


def test_staleness() -> None:
    assert not m.is_stale(10, None)
    assert not m.is_stale(10, 10)
    assert not m.is_stale(11, 10)
    assert m.is_stale(9, 10)


def test_push_tokens() -> None:
    good = "a" * 32
    assert m.validate_push_token(None) is None and m.validate_push_token("  ") is None
    assert m.validate_push_token(f" {good} ") == good
    with pytest.raises(m.XportcnValidationError, match="at least 32 characters") as err:
        m.validate_push_token("short", parameter="extra.push_token")
    assert err.value.parameter == "extra.push_token" and "short" not in str(err.value)
    assert m.push_token_matches(good, good)
    assert not m.push_token_matches(good, good + "x")
    assert not m.push_token_matches(good, "")
    assert not m.push_token_matches(None, "")
    assert not m.push_token_matches("short", "short")  # a too-short configured token opens nothing


def test_asset_uris_and_path_redaction() -> None:
    assert m.asset_uri("xportcn_default", "orders") == "xportcn://xportcn_default/orders"
    with pytest.raises(m.XportcnValidationError):
        m.asset_uri("bad/conn", "orders")
    with pytest.raises(m.XportcnValidationError):
        m.asset_uri("c", "packages")
    token = "T" * 40
    assert m.redact_push_path(f"/xportcn/push/xportcn_default/{token}") == "/xportcn/push/xportcn_default/***"
    assert token not in m.redact_push_path(f"/base/xportcn/push/c/{token}?x=1")
    assert m.redact_push_path("/api/v2/dags") == "/api/v2/dags"
