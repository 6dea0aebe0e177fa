"""A sandbox strict about another signature rule (issue 13, item 3) and the clients that follow
``ClientSettings.signature_rule`` / ``extra.signature_rule`` (item 2): sync client, async client,
the hook and the deferrable trigger all sign with the connection's rule."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials
from xportcn_provider.api.errors import EnvelopeCode, XportcnAuthError
from xportcn_provider.api.signing import DEFAULT_SIGNATURE_RULE, SIGNATURE_RULE_NAMES
from xportcn_provider.api.waits import order_wait
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.sandbox.client import SandboxControlError
from xportcn_provider.triggers.status import XportcnStatusTrigger

from .conftest import make_client

ALTERNATIVES = [name for name in SIGNATURE_RULE_NAMES if name != DEFAULT_SIGNATURE_RULE]


def set_conn(monkeypatch: pytest.MonkeyPatch, handle: SandboxHandle, conn_id: str, **extra: Any) -> str:
    doc = json.loads(handle.conn_json)
    doc["extra"].update(extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(doc))
    return conn_id


@pytest.mark.parametrize("rule", ALTERNATIVES)
def test_strict_sandbox_refuses_the_default_and_accepts_its_rule(
    xportcn_sandbox: SandboxHandle, rule: str
) -> None:
    control = xportcn_sandbox.control
    assert control.set_signature_rule(rule) == rule
    assert control.signature_rule() == rule
    default_client = make_client(xportcn_sandbox, max_retries=0)
    with pytest.raises(XportcnAuthError) as info:
        default_client.call("address_list", {})
    # A timestamp in the wrong unit is a clock answer; every other rule is a signature mismatch.
    expected = EnvelopeCode.TIMESTAMP_EXPIRED if rule == "md5-ms" else EnvelopeCode.SIGNATURE_INVALID
    assert info.value.code == expected
    right = make_client(xportcn_sandbox, max_retries=0, signature_rule=rule)
    assert isinstance(right.call("address_list", {}), list)
    # Query-signed warehouse-logistics paths carry the same rule's signature in ``?sign=``.
    estimate = right.call("freight_estimate", {"country": "US", "weight": 1.0})
    assert estimate["currency"] == "CNY"


def test_reset_returns_to_the_default_rule(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    control.set_signature_rule("hmac-md5")
    control.reset()
    assert control.signature_rule() == DEFAULT_SIGNATURE_RULE
    assert isinstance(make_client(xportcn_sandbox).call("address_list", {}), list)


def test_unknown_rule_is_a_control_error(xportcn_sandbox: SandboxHandle) -> None:
    with pytest.raises(SandboxControlError) as info:
        xportcn_sandbox.control.set_signature_rule("md6")
    assert info.value.status == 400 and "hmac-sha256" in str(info.value.detail)


def test_async_client_signs_with_the_rule(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.set_signature_rule("hmac-sha256")
    h = xportcn_sandbox

    async def call() -> Any:
        client = AsyncXportcnClient(
            Credentials(h.access_key, h.access_secret, h.user_id),
            ClientSettings(base_url=h.url, max_retries=0, signature_rule="hmac-sha256"),
        )
        try:
            return await client.call("address_list", {})
        finally:
            await client.aclose()

    assert isinstance(asyncio.run(call()), list)


def test_hook_and_trigger_use_the_connection_rule(
    xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = xportcn_sandbox
    handle.control.set_signature_rule("md5-secret-first")
    conn_id = set_conn(monkeypatch, handle, "xportcn_rule", signature_rule="md5-secret-first", max_retries=0)
    hook = XportcnHook(conn_id)
    assert isinstance(hook.call("address_list", {}), list)
    ok, message = hook.test_connection()
    assert ok, message
    [order_id] = handle.control.seed_orders(1, status="waitbuyerreceive")
    trigger = XportcnStatusTrigger(
        wait=order_wait(order_id).to_dict(), conn_id=conn_id, poll_interval=0.2, deadline=time.time() + 15
    )

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    event = asyncio.run(first_event())
    assert event["status"] == "success", event
    # The default-rule connection to the same sandbox is refused, naming the signature.
    wrong = XportcnHook(set_conn(monkeypatch, handle, "xportcn_norule", max_retries=0))
    ok, message = wrong.test_connection()
    assert not ok and "Signature mismatch" in message
