"""Signature rules as data (issue 13): each rule is a pure function pinned by a test vector.

The vectors were computed outside Python with ``openssl md5`` / ``openssl dgst -hmac`` /
``openssl sha256`` over the contract's §1.1 inputs, so they pin the formulas, not the code.
"""

from __future__ import annotations

import pytest

from xportcn_provider.api import signing
from xportcn_provider.api.client import ClientSettings, Credentials, prepare_call
from xportcn_provider.api.errors import XportcnValidationError

KEY = "58c0201dfdf148eca63cbf6bb5e7cf03"
TS = "1775221032"
NONCE = "abcdefghijklmnopqrstuvwxyz012345"
SECRET = "EXAMPLESECRET"

#: rule name -> (timestamp header, signature)
VECTORS = {
    "md5": (TS, "20AE60CF8134A24AA0FC02E679932F04"),
    "md5-lower": (TS, "20ae60cf8134a24aa0fc02e679932f04"),
    "md5-ms": (TS + "000", "B490EF6AFF85AA506AE3FC94EC22FC4F"),
    "md5-secret-first": (TS, "0EA828E2EC2BCCA74617E1E15068D813"),
    "md5-nonce-first": (TS, "47B5C60CDEECDBE1813FAAF59F09B347"),
    "md5-secret-wrapped": (TS, "0165CC2122BF1F3B9CB17675DC4AAC34"),
    "hmac-md5": (TS, "0B4E633B37DB37D28C05F26523D73F8B"),
    "hmac-sha256": (TS, "419807E5865BF8006E66F0DB3ED1C2EC4C7684694E958D84056C93D235901F7B"),
    "sha256": (TS, "1CD98AC861E8E1FB2CD87071A4915C001D7FD286EF226472670CFFD6AB5CFE29"),
}


def test_every_rule_has_a_vector_and_the_default_comes_first() -> None:
    assert set(VECTORS) == set(signing.SIGNATURE_RULE_NAMES)
    assert signing.SIGNATURE_RULE_NAMES[0] == signing.DEFAULT_SIGNATURE_RULE == "md5"


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_rule_vector_through_signed_headers(name: str) -> None:
    timestamp, signature = VECTORS[name]
    headers = signing.signed_headers(KEY, SECRET, "1", clock=lambda: TS, nonce=NONCE, rule=name)
    assert headers["timestamp"] == timestamp
    assert headers["signature"] == signature
    assert signing.SIGNATURE_RULES[name].sign(KEY, SECRET, timestamp, NONCE) == signature


def test_default_rule_is_the_contract_rule() -> None:
    assert signing.sign(KEY, SECRET, TS, NONCE) == VECTORS["md5"][1]
    assert signing.get_signature_rule(None).name == "md5"
    assert signing.get_signature_rule("").name == "md5"


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_no_rule_puts_the_secret_in_a_header(name: str) -> None:
    secret = "S3cr3t-value-no-header-may-carry"
    headers = signing.signed_headers(KEY, secret, "1", rule=name)
    for value in headers.values():
        assert secret not in value
        assert secret.lower() not in value.lower()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_rule_depends_on_each_part(name: str) -> None:
    rule = signing.SIGNATURE_RULES[name]
    ts = rule.timestamp_of(TS)
    base = rule.sign(KEY, SECRET, ts, NONCE)
    assert rule.sign(KEY + "0", SECRET, ts, NONCE) != base
    assert rule.sign(KEY, SECRET + "0", ts, NONCE) != base
    assert rule.sign(KEY, SECRET, ts + "1", NONCE) != base
    assert rule.sign(KEY, SECRET, ts, NONCE + "0") != base


def test_rules_are_distinct() -> None:
    assert len({signature for _, signature in VECTORS.values()}) == len(VECTORS)


def test_millisecond_rule_converts_back_to_seconds() -> None:
    rule = signing.get_signature_rule("md5-ms")
    assert rule.seconds_of(rule.timestamp_of(TS)) == float(TS)
    assert signing.get_signature_rule("md5").seconds_of(TS) == float(TS)


def test_unknown_rule_lists_the_valid_names() -> None:
    with pytest.raises(signing.UnknownSignatureRuleError) as info:
        signing.get_signature_rule("md6")
    for name in signing.SIGNATURE_RULE_NAMES:
        assert name in str(info.value)


def test_client_settings_reject_an_unknown_rule_before_any_call() -> None:
    with pytest.raises(XportcnValidationError) as info:
        ClientSettings(signature_rule="sha1")
    assert info.value.parameter == "signature_rule"
    assert "hmac-sha256" in str(info.value)


def test_prepare_call_signs_with_the_settings_rule() -> None:
    credentials = Credentials(KEY, SECRET, "1")
    settings = ClientSettings(base_url="https://x.test/api", signature_rule="hmac-md5")
    call = prepare_call(
        credentials, settings, "freight_preview", {}, clock=lambda: TS, nonce_factory=lambda: NONCE
    )
    assert call.headers["signature"] == VECTORS["hmac-md5"][1]
    # The query-signed logistics paths copy the same signature into ``?sign=``.
    assert call.params["sign"] == VECTORS["hmac-md5"][1]
    ms = prepare_call(
        credentials,
        ClientSettings(base_url="https://x.test/api", signature_rule="md5-ms"),
        "address_list",
        {},
        clock=lambda: TS,
        nonce_factory=lambda: NONCE,
    )
    assert ms.headers["timestamp"] == TS + "000"
    assert ms.headers["signature"] == VECTORS["md5-ms"][1]
