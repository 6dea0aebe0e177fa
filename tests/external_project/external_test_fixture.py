"""A user's test: their code talks to "Xportcn" through the sandbox fixture."""

import hashlib
import os
import time
import uuid

import requests


def my_signed_address_list(url, key, secret, user_id):
    """The user's own client code (plain MD5, the contract's rule)."""
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    signature = hashlib.md5((key + ts + nonce + secret).encode()).hexdigest().upper()
    headers = {
        "access-key": key,
        "timestamp": ts,
        "nonce-str": nonce,
        "user-id": user_id,
        "signature": signature,
    }
    return requests.post(url + "/open/address/list", json={}, headers=headers, timeout=5).json()


def test_sandbox_fixture_serves_signed_calls(xportcn_sandbox):
    h = xportcn_sandbox
    assert h.url.startswith("http://127.0.0.1:") and h.url.endswith("/api")
    answer = my_signed_address_list(h.url, h.access_key, h.access_secret, h.user_id)
    assert answer["code"] == 200
    h.control.inject("http_503", endpoint="address_list")
    assert requests.post(h.url + "/open/address/list", json={}, timeout=5).status_code == 503
    assert [c["fault"] for c in h.control.calls()] == [None, "http_503"]


def test_each_test_gets_a_reset_sandbox(xportcn_sandbox):
    assert xportcn_sandbox.control.calls() == []
    assert xportcn_sandbox.control.state()["orders"] == 0


def test_default_connection_for_the_hook(xportcn_default_conn):
    from xportcn_provider.hooks.xportcn import XportcnHook

    assert "AIRFLOW_CONN_XPORTCN_DEFAULT" in os.environ
    order = XportcnHook().order_create(
        out_order_id="user-order-1",
        address_param={"fullName": "Li Lei", "mobile": "13800000000", "address": "文一西路 1 号"},
        cargo_param_list=[{"offerId": "610000000123", "quantity": 1}],
    )
    assert order["status"] == "waitbuyerpay"
    assert xportcn_default_conn.control.state()["orders"] == 1
