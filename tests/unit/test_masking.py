"""The Access Secret is handed to Airflow's masker as soon as the hook reads the connection."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests_mock as rm
from airflow.sdk import Connection
from airflow.sdk.log import redact

from xportcn_provider.hooks.xportcn import XportcnHook

from ._support import ACCESS_KEY, BASE_URL, USER_ID, envelope, fresh_secret


def test_secret_from_an_env_connection_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = fresh_secret()
    monkeypatch.setenv(
        "AIRFLOW_CONN_XPORTCN_MASK_ENV",
        json.dumps(
            {
                "conn_type": "xportcn",
                "host": BASE_URL,
                "login": ACCESS_KEY,
                "password": secret,
                "extra": {"user_id": USER_ID},
            }
        ),
    )
    assert secret in redact(f"before: {secret}")
    _ = XportcnHook("xportcn_mask_env").config
    redacted = redact(f"calling with secret {secret} now")
    assert secret not in redacted
    assert "***" in redacted


def test_the_hook_itself_masks_the_secret() -> None:
    """Even when the connection did not come through Airflow's own (masking) lookup."""
    secret = fresh_secret()
    conn = Connection(
        conn_id="xportcn_mask_direct",
        conn_type="xportcn",
        host=BASE_URL,
        login=ACCESS_KEY,
        password=secret,
        extra=json.dumps({"user_id": USER_ID}),
    )
    _ = conn.extra_dejson
    assert secret in redact(secret), "precondition: nothing masked this secret yet"
    with mock.patch.object(XportcnHook, "get_connection", return_value=conn):
        hook = XportcnHook("xportcn_mask_direct")
        _ = hook.config
    assert redact(f"header value x{secret}x") == "header value x***x"


def test_secret_never_in_repr_of_hook_objects(
    monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker
) -> None:
    secret = fresh_secret()
    monkeypatch.setenv(
        "AIRFLOW_CONN_XPORTCN_MASK_REPR",
        json.dumps(
            {
                "conn_type": "xportcn",
                "host": BASE_URL,
                "login": ACCESS_KEY,
                "password": secret,
                "extra": {"user_id": USER_ID},
            }
        ),
    )
    requests_mock.post(BASE_URL + "/alibaba/ka/refund/detail", text=envelope(data={}))
    hook = XportcnHook("xportcn_mask_repr")
    hook.refund_detail(refund_id="TQ1")
    for obj in (hook.config, hook.config.credentials, hook.client, hook.config.settings):
        assert secret not in repr(obj)
