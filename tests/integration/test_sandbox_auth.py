"""Authentication like the real service: every rejection has its own code and a helpful message.

Checked three ways: raw ``requests`` signed with plain ``hashlib`` (an independent client that
shares no code with the provider), the api-core client, and the Airflow hook.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import pytest
import requests

from xportcn_provider.api.errors import (
    AUTH_HINT,
    CLOCK_HINT,
    EnvelopeCode,
    XportcnAuthError,
    XportcnClockSkewError,
)
from xportcn_provider.sandbox import SandboxHandle

from .conftest import make_client

ADDRESS_LIST = "/open/address/list"
FREIGHT_ESTIMATE = "/open/pp/logistics/estimateFreight"


def independent_headers(
    key: str, secret: str, user_id: str, *, timestamp: str | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The contract's rule written from scratch: UPPER(HEX(MD5(key + ts + nonce + secret)))."""
    ts = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex
    digest = hashlib.md5((key + ts + nonce + secret).encode("utf-8")).hexdigest().upper()
    return {"access-key": key, "timestamp": ts, "nonce-str": nonce, "user-id": user_id, "signature": digest}


def good_headers(h: SandboxHandle, **kwargs: Any) -> dict[str, str]:
    return independent_headers(h.access_key, h.access_secret, h.user_id, **kwargs)


def post(h: SandboxHandle, path: str, headers: dict[str, str], body: Any = None, **kw: Any) -> dict[str, Any]:
    response = requests.post(h.url + path, headers=headers, json=body or {}, timeout=5, **kw)
    assert response.status_code == 200, response.text  # auth failures are envelopes with HTTP 200
    return response.json()


def test_independent_client_is_accepted(xportcn_sandbox: SandboxHandle) -> None:
    answer = post(xportcn_sandbox, ADDRESS_LIST, good_headers(xportcn_sandbox))
    assert answer["code"] == 200
    assert answer["msg"] == "成功"
    assert len(answer["requestId"]) == 32
    assert isinstance(answer["data"], list) and answer["data"][0]["id"]


def test_contract_test_vector_signature_is_checked(xportcn_sandbox: SandboxHandle) -> None:
    """The contract's test vector signs with another secret: the sandbox must refuse it."""
    headers = {
        "access-key": "58c0201dfdf148eca63cbf6bb5e7cf03",
        "timestamp": str(int(time.time())),
        "nonce-str": "abcdefghijklmnopqrstuvwxyz012345",
        "user-id": xportcn_sandbox.user_id,
        "signature": "20AE60CF8134A24AA0FC02E679932F04",
    }
    assert post(xportcn_sandbox, ADDRESS_LIST, headers)["code"] == EnvelopeCode.SIGNATURE_INVALID


def _drop(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


@pytest.mark.parametrize(
    ("case", "expected_code", "words"),
    [
        ("bad_signature", EnvelopeCode.SIGNATURE_INVALID, "Signature mismatch"),
        ("unknown_key", EnvelopeCode.ACCESS_KEY_UNKNOWN, "Unknown access-key"),
        ("wrong_user", EnvelopeCode.USER_FORBIDDEN, "not authorised"),
        ("old_timestamp", EnvelopeCode.TIMESTAMP_EXPIRED, "behind server time"),
        ("future_timestamp", EnvelopeCode.TIMESTAMP_EXPIRED, "ahead of server time"),
        ("millisecond_timestamp", EnvelopeCode.TIMESTAMP_EXPIRED, "milliseconds"),
        ("missing_nonce", EnvelopeCode.MISSING_AUTH_HEADER, "nonce-str"),
        ("missing_signature", EnvelopeCode.MISSING_AUTH_HEADER, "signature"),
    ],
)
def test_each_rejection_has_its_own_code(
    xportcn_sandbox: SandboxHandle, case: str, expected_code: int, words: str
) -> None:
    h = xportcn_sandbox
    now = int(time.time())
    headers = {
        "bad_signature": lambda: independent_headers(h.access_key, "not-the-secret", h.user_id),
        "unknown_key": lambda: independent_headers("0" * 32, h.access_secret, h.user_id),
        "wrong_user": lambda: independent_headers(h.access_key, h.access_secret, "999"),
        "old_timestamp": lambda: good_headers(h, timestamp=str(now - 601 - 5)),
        "future_timestamp": lambda: good_headers(h, timestamp=str(now + 700)),
        "millisecond_timestamp": lambda: good_headers(h, timestamp=str(now * 1000)),
        "missing_nonce": lambda: _drop(good_headers(h), "nonce-str"),
        "missing_signature": lambda: _drop(good_headers(h), "signature"),
    }[case]()
    answer = post(h, ADDRESS_LIST, headers)
    assert answer["code"] == expected_code
    assert words in answer["msg"]
    assert answer["data"] is None
    assert h.access_secret not in answer["msg"]
    logged = h.control.calls("address_list")
    assert [(c["http_status"], c["code"]) for c in logged] == [(200, expected_code)]


def test_timestamp_within_window_is_accepted(xportcn_sandbox: SandboxHandle) -> None:
    headers = good_headers(xportcn_sandbox, timestamp=str(int(time.time()) - 590))
    assert post(xportcn_sandbox, ADDRESS_LIST, headers)["code"] == 200


def test_reused_nonce_is_refused(xportcn_sandbox: SandboxHandle) -> None:
    headers = good_headers(xportcn_sandbox)
    assert post(xportcn_sandbox, ADDRESS_LIST, headers)["code"] == 200
    again = post(xportcn_sandbox, ADDRESS_LIST, headers)
    assert again["code"] == EnvelopeCode.NONCE_REUSED
    assert "already used" in again["msg"]


def test_logistics_paths_accept_query_sign(xportcn_sandbox: SandboxHandle) -> None:
    h = xportcn_sandbox
    body = {"country": "US", "weight": 1.2}
    headers = good_headers(h)
    query = {"timestamp": headers["timestamp"], "sign": headers["signature"]}
    # Header and query both: accepted when equal.
    assert post(h, FREIGHT_ESTIMATE, headers, body, params=query)["code"] == 200
    # Query only (no signature header): accepted.
    headers = good_headers(h)
    query = {"timestamp": headers["timestamp"], "sign": headers["signature"]}
    assert post(h, FREIGHT_ESTIMATE, _drop(headers, "signature"), body, params=query)["code"] == 200
    # Query sign different from the header: refused.
    headers = good_headers(h)
    mismatch = post(h, FREIGHT_ESTIMATE, headers, body, params={"sign": "0" * 32})
    assert mismatch["code"] == EnvelopeCode.SIGNATURE_INVALID
    assert "'sign'" in mismatch["msg"]
    # Query-only signing is not accepted outside /open/pp/logistics/*.
    headers = good_headers(h)
    answer = post(h, ADDRESS_LIST, _drop(headers, "signature"), params={"sign": headers["signature"]})
    assert answer["code"] == EnvelopeCode.MISSING_AUTH_HEADER


@pytest.mark.parametrize(
    ("field", "value", "error", "hint"),
    [
        ("access_secret", "wrong-secret", XportcnAuthError, AUTH_HINT),
        ("access_key", "f" * 32, XportcnAuthError, AUTH_HINT),
        ("user_id", "123", XportcnAuthError, AUTH_HINT),
    ],
)
def test_client_raises_auth_error_with_hint(
    xportcn_sandbox: SandboxHandle, field: str, value: str, error: type[Exception], hint: str
) -> None:
    setattr_handle = SandboxHandle(
        xportcn_sandbox.host,
        xportcn_sandbox.port,
        value if field == "access_key" else xportcn_sandbox.access_key,
        value if field == "access_secret" else xportcn_sandbox.access_secret,
        value if field == "user_id" else xportcn_sandbox.user_id,
    )
    client = make_client(setattr_handle)
    with pytest.raises(error) as caught:
        client.call("address_list", {})
    assert hint in str(caught.value)
    assert caught.value.request_id  # type: ignore[attr-defined]
    assert value not in str(caught.value) or field != "access_secret"
    # Auth failures are not retried.
    assert len(xportcn_sandbox.control.calls("address_list")) == 1


def test_client_clock_skew_error(xportcn_sandbox: SandboxHandle) -> None:
    client = make_client(xportcn_sandbox)
    client.clock = lambda: str(int(time.time()) - 3600)
    with pytest.raises(XportcnClockSkewError) as caught:
        client.call("address_list", {})
    assert CLOCK_HINT in str(caught.value)
    assert caught.value.code == EnvelopeCode.TIMESTAMP_EXPIRED


def test_client_reusing_a_nonce_gets_auth_error(xportcn_sandbox: SandboxHandle) -> None:
    client = make_client(xportcn_sandbox)
    client.nonce_factory = lambda: "fixed-nonce-0000000000000000000"
    client.call("address_list", {})
    with pytest.raises(XportcnAuthError) as caught:
        client.call("address_list", {})
    assert caught.value.code == EnvelopeCode.NONCE_REUSED


def test_hook_surfaces_auth_errors(xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    bad = SandboxHandle(
        xportcn_sandbox.host,
        xportcn_sandbox.port,
        xportcn_sandbox.access_key,
        "wrong",
        xportcn_sandbox.user_id,
    )
    for name, value in bad.env().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(XportcnAuthError) as caught:
        XportcnHook().address_list()
    assert AUTH_HINT in str(caught.value)
    ok, message = XportcnHook().test_connection()
    assert not ok and "Signature mismatch" in message


def test_hook_works_with_the_default_connection(xportcn_default_conn: SandboxHandle) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    hook = XportcnHook()
    ok, message = hook.test_connection()
    assert ok, message
    assert hook.config.settings.base_url == xportcn_default_conn.url


def test_hook_accepts_the_uri_form(xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    monkeypatch.setenv("AIRFLOW_CONN_SANDBOX_URI", xportcn_sandbox.conn_uri)
    hook = XportcnHook(xportcn_conn_id="sandbox_uri")
    assert hook.address_list()[0]["name"]
    assert hook.config.settings.base_url == xportcn_sandbox.url
