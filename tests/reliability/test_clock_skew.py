"""Clock skew: a machine whose clock is 15 minutes off is told so; 5 minutes off still works.

The contract (§1.1) signs every call with the local Unix time and the server accepts at most
600 s of skew. The sandbox checks that window against its own (real) clock, so these tests skew
only the *client's* clock, three ways:

* the api-core client's ``clock=`` seam (a library user's own client);
* the worker's clock under ``XportcnHook`` (``time`` as seen by :mod:`xportcn_provider.api.signing`,
  the one place a timestamp is taken);
* the triggerer's clock under ``XportcnStatusTrigger`` (same seam, async client).

A skewed call must fail with ``XportcnClockSkewError`` at once (one call in the sandbox's log:
retrying cannot fix a clock), and its message must say that the clock is off and by how much the
server allows (600 s), so the person reading the task log knows to fix NTP, not the secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from xportcn_provider.api import signing
from xportcn_provider.api.client import ClientSettings, Credentials, XportcnClient
from xportcn_provider.api.errors import EnvelopeCode, XportcnClockSkewError
from xportcn_provider.api.waits import order_wait
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.triggers.status import XportcnStatusTrigger

FIFTEEN_MINUTES = 15 * 60
FIVE_MINUTES = 5 * 60
assert FIVE_MINUTES < signing.MAX_CLOCK_SKEW_SECONDS < FIFTEEN_MINUTES

OFF = [
    pytest.param(FIFTEEN_MINUTES, id="15min-ahead"),
    pytest.param(-FIFTEEN_MINUTES, id="15min-behind"),
]
NEARLY_RIGHT = [
    pytest.param(FIVE_MINUTES, id="5min-ahead"),
    pytest.param(-FIVE_MINUTES, id="5min-behind"),
]


def skewed(offset: int) -> Callable[[], str]:
    """A signing clock ``offset`` seconds away from real time (the ``clock=`` seam's type)."""
    return lambda: str(int(time.time()) + offset)


def skew_machine_clock(monkeypatch: pytest.MonkeyPatch, offset: int) -> None:
    """The clock the provider signs with, as on a worker/triggerer whose system time is off.

    Only the provider's view of time moves: the sandbox (same process) keeps the real clock.
    """
    real = time.time
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: real() + offset))


def api_client(handle: SandboxHandle, offset: int) -> XportcnClient:
    credentials = Credentials(handle.access_key, handle.access_secret, handle.user_id)
    settings = ClientSettings(base_url=handle.url, timeout=5.0, backoff_initial=0.01, backoff_max=0.05)
    return XportcnClient(credentials, settings, clock=skewed(offset))


def assert_says_the_clock_is_off(message: str, handle: SandboxHandle) -> None:
    assert "clock" in message.lower(), message
    assert "600 s" in message, message
    assert handle.access_secret not in message


def assert_one_refused_call(handle: SandboxHandle) -> None:
    """Exactly one call, refused for its timestamp: the error was not retried."""
    [call] = handle.control.calls()
    assert (call["http_status"], call["code"]) == (200, EnvelopeCode.TIMESTAMP_EXPIRED), call


# --- 15 minutes off: refused, and told why --------------------------------------------------------


@pytest.mark.parametrize("offset", OFF)
def test_client_clock_off_gets_clock_skew_error(xportcn_sandbox: SandboxHandle, offset: int) -> None:
    client = api_client(xportcn_sandbox, offset)
    with pytest.raises(XportcnClockSkewError) as caught:
        client.call("address_list", {})
    client.close()
    assert_says_the_clock_is_off(str(caught.value), xportcn_sandbox)
    assert caught.value.code == EnvelopeCode.TIMESTAMP_EXPIRED and caught.value.request_id
    assert_one_refused_call(xportcn_sandbox)


@pytest.mark.parametrize("offset", OFF)
def test_hook_on_a_worker_whose_clock_is_off(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    skew_machine_clock(monkeypatch, offset)
    hook = XportcnHook()
    with pytest.raises(XportcnClockSkewError) as caught:
        hook.address_list()
    assert_says_the_clock_is_off(str(caught.value), xportcn_default_conn)
    assert_one_refused_call(xportcn_default_conn)
    # The UI's "Test connection" button says the same thing instead of blaming the secret.
    ok, message = hook.test_connection()
    assert not ok
    assert_says_the_clock_is_off(message, xportcn_default_conn)


@pytest.mark.parametrize("offset", OFF)
async def test_trigger_on_a_triggerer_whose_clock_is_off(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    [order_id] = xportcn_default_conn.control.seed_orders(1, status="waitbuyerreceive", hold=True)
    skew_machine_clock(monkeypatch, offset)
    trigger = XportcnStatusTrigger(
        wait=order_wait(order_id).to_dict(), poll_interval=0.05, deadline=time.time() + 30
    )
    [event] = [e.payload async for e in trigger.run()]
    assert event["status"] == "error"  # not tolerated: waiting does not fix a clock
    assert "XportcnClockSkewError" in event["message"]
    assert_says_the_clock_is_off(event["message"], xportcn_default_conn)
    assert_one_refused_call(xportcn_default_conn)


# --- 5 minutes off: inside the 600 s window, works ------------------------------------------------


@pytest.mark.parametrize("offset", NEARLY_RIGHT)
def test_client_clock_slightly_off_still_works(xportcn_sandbox: SandboxHandle, offset: int) -> None:
    client = api_client(xportcn_sandbox, offset)
    signed_with: list[int] = []
    skewed_clock = client.clock

    def recording_clock() -> str:
        stamp = skewed_clock()
        signed_with.append(int(stamp))
        return stamp

    client.clock = recording_clock
    try:
        assert isinstance(client.call("address_list", {}), list | dict)
    finally:
        client.close()
    [call] = xportcn_sandbox.control.calls()
    assert call["code"] == 200
    [timestamp] = signed_with  # signed once, with the skewed clock
    assert abs(timestamp - time.time() - offset) < 5


@pytest.mark.parametrize("offset", NEARLY_RIGHT)
def test_hook_on_a_worker_slightly_off_still_works(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    skew_machine_clock(monkeypatch, offset)
    assert abs(int(signing.current_timestamp()) - time.time() - offset) < 5  # the signer sees it
    ok, message = XportcnHook().test_connection()
    assert ok, message
    [call] = xportcn_default_conn.control.calls()
    assert call["code"] == 200
