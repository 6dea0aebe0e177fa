"""``extra.signature_rule`` (issue 13): chosen per connection, checked before any call."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import requests_mock as rm

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.signing import SIGNATURE_RULE_NAMES
from xportcn_provider.hooks.xportcn import XportcnHook

from .._support import ACCESS_KEY, BASE_URL, envelope, fresh_secret
from .test_hook import ENV, conn_json, conn_uri, url


def test_unknown_rule_fails_before_any_call_and_lists_the_names(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, conn_json(fresh_secret(), signature_rule="md6"))
    with pytest.raises(XportcnValidationError) as info:
        XportcnHook().call("address_list", {})
    assert info.value.parameter == "signature_rule"
    for name in SIGNATURE_RULE_NAMES:
        assert name in str(info.value)
    assert requests_mock.call_count == 0


def test_default_rule_when_the_field_is_absent_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, conn_json(fresh_secret()))
    assert XportcnHook().config.settings.signature_rule == "md5"
    monkeypatch.setenv(ENV, conn_json(fresh_secret(), signature_rule=""))
    assert XportcnHook().config.settings.signature_rule == "md5"


def test_chosen_rule_signs_every_call(requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = fresh_secret()
    # The form stores custom fields with its prefix; that spelling must work too.
    monkeypatch.setenv(ENV, conn_json(secret, extra__xportcn__signature_rule="hmac-sha256"))
    requests_mock.post(url("address_list"), text=envelope(data=[]))
    XportcnHook().call("address_list", {})
    headers = requests_mock.last_request.headers
    material = f"{ACCESS_KEY}{headers['timestamp']}{headers['nonce-str']}".encode()
    expected = hmac.new(secret.encode(), material, hashlib.sha256).hexdigest().upper()
    assert headers["signature"] == expected


def test_rule_in_the_uri_form(requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = fresh_secret()
    monkeypatch.setenv(ENV, conn_uri(secret, protocol="http", signature_rule="md5-ms"))
    requests_mock.post(url("address_list", "http://127.0.0.1:8765/api"), text=envelope(data=[]))
    XportcnHook().call("address_list", {})
    headers = requests_mock.last_request.headers
    assert len(headers["timestamp"]) == 13 and headers["timestamp"].endswith("000")
    raw = f"{ACCESS_KEY}{headers['timestamp']}{headers['nonce-str']}{secret}".encode()
    assert headers["signature"] == hashlib.md5(raw).hexdigest().upper()
    assert BASE_URL not in requests_mock.last_request.url
