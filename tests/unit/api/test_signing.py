"""The signature rule and the signed headers (contract §1.1)."""

from __future__ import annotations

import re
import time

import pytest

from xportcn_provider.api import signing
from xportcn_provider.api.client import ClientSettings, Credentials, prepare_call
from xportcn_provider.api.endpoints import CATALOGUE

from .._support import ACCESS_KEY, BASE_URL, CONTRACT_HEADERS, USER_ID, md5_signature

VECTOR = {
    "access_key": "58c0201dfdf148eca63cbf6bb5e7cf03",
    "timestamp": "1775221032",
    "nonce": "abcdefghijklmnopqrstuvwxyz012345",
    "access_secret": "EXAMPLESECRET",
}
VECTOR_SIGNATURE = "20AE60CF8134A24AA0FC02E679932F04"
UPPER_HEX_32 = re.compile(r"^[0-9A-F]{32}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9]{32}$")


def test_contract_test_vector() -> None:
    assert signing.sign(**VECTOR) == VECTOR_SIGNATURE


def test_contract_test_vector_through_signed_headers() -> None:
    headers = signing.signed_headers(
        VECTOR["access_key"],
        VECTOR["access_secret"],
        USER_ID,
        timestamp=VECTOR["timestamp"],
        nonce=VECTOR["nonce"],
    )
    assert headers["signature"] == VECTOR_SIGNATURE


def test_rule_is_plain_concatenation_key_timestamp_nonce_secret() -> None:
    k, ts, n, s = "k" * 32, "1700000000", "N" * 32, "sEcReT"
    assert signing.sign(k, s, ts, n) == md5_signature(k, ts, n, s)
    # Any other order gives a different signature (guards against swapped arguments).
    assert signing.sign(k, s, ts, n) != md5_signature(k, n, ts, s)
    assert signing.sign(k, s, ts, n) != md5_signature(s, ts, n, k)


def test_non_ascii_secret_is_utf8() -> None:
    assert signing.sign("k", "密钥-secret", "1700000000", "n") == md5_signature(
        "k", "1700000000", "n", "密钥-secret"
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("access_key", "58c0201dfdf148eca63cbf6bb5e7cf04"),
        ("timestamp", "1775221033"),
        ("nonce", "abcdefghijklmnopqrstuvwxyz012346"),
        ("access_secret", "EXAMPLESECRET2"),
    ],
)
def test_signature_changes_with_each_input(field: str, value: str) -> None:
    changed = signing.sign(**{**VECTOR, field: value})
    assert UPPER_HEX_32.match(changed)
    assert changed != VECTOR_SIGNATURE


@pytest.mark.parametrize("seed", range(5))
def test_signature_is_32_upper_hex(seed: int) -> None:
    headers = signing.signed_headers(f"key{seed}", f"secret{seed}", USER_ID)
    assert UPPER_HEX_32.match(headers["signature"])


def test_nonce_is_32_alphanumerics_and_fresh() -> None:
    nonces = [signing.new_nonce() for _ in range(200)]
    assert all(NONCE_RE.match(n) for n in nonces)
    assert len(set(nonces)) == len(nonces)


def test_each_signed_headers_call_has_a_fresh_nonce_and_signature() -> None:
    first = signing.signed_headers(ACCESS_KEY, "secret", USER_ID, timestamp="1775221032")
    second = signing.signed_headers(ACCESS_KEY, "secret", USER_ID, timestamp="1775221032")
    assert first["nonce-str"] != second["nonce-str"]
    assert first["signature"] != second["signature"]
    assert NONCE_RE.match(first["nonce-str"])


def test_timestamp_is_ten_digit_seconds_now() -> None:
    before = int(time.time())
    ts = signing.current_timestamp()
    after = int(time.time())
    assert re.fullmatch(r"\d{10}", ts)
    assert before <= int(ts) <= after
    headers = signing.signed_headers(ACCESS_KEY, "secret", USER_ID)
    assert re.fullmatch(r"\d{10}", headers["timestamp"])
    assert abs(int(headers["timestamp"]) - time.time()) < 5


def test_signed_headers_are_exactly_the_five_contract_headers() -> None:
    headers = signing.signed_headers(ACCESS_KEY, "secret", USER_ID)
    assert tuple(headers) == CONTRACT_HEADERS
    assert signing.SIGNED_HEADER_NAMES == CONTRACT_HEADERS
    assert headers["access-key"] == ACCESS_KEY
    assert headers["user-id"] == USER_ID
    assert "secret" not in headers.values()


def test_user_id_is_sent_as_text() -> None:
    headers = signing.signed_headers(ACCESS_KEY, "secret", 2100008388036)  # type: ignore[arg-type]
    assert headers["user-id"] == "2100008388036"


def test_clock_and_nonce_are_injectable() -> None:
    headers = signing.signed_headers(
        VECTOR["access_key"],
        VECTOR["access_secret"],
        USER_ID,
        clock=lambda: VECTOR["timestamp"],
        nonce_factory=lambda: VECTOR["nonce"],
    )
    assert headers["timestamp"] == VECTOR["timestamp"]
    assert headers["nonce-str"] == VECTOR["nonce"]
    assert headers["signature"] == VECTOR_SIGNATURE


def test_signature_does_not_depend_on_user_id() -> None:
    a = signing.signed_headers(ACCESS_KEY, "s", "1", timestamp="1700000000", nonce="n" * 32)
    b = signing.signed_headers(ACCESS_KEY, "s", "2", timestamp="1700000000", nonce="n" * 32)
    assert a["signature"] == b["signature"]


def test_query_signature_params_copy_the_headers() -> None:
    headers = signing.signed_headers(ACCESS_KEY, "s", USER_ID)
    assert signing.query_signature_params(headers) == {
        "timestamp": headers["timestamp"],
        "sign": headers["signature"],
    }


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_query_params_only_on_warehouse_logistics_paths(name: str) -> None:
    creds = Credentials(ACCESS_KEY, "s3cret-value", USER_ID)
    call = prepare_call(creds, ClientSettings(base_url=BASE_URL), name, {})
    if CATALOGUE[name].path.startswith("/open/pp/logistics/"):
        assert call.params == {"timestamp": call.headers["timestamp"], "sign": call.headers["signature"]}
    else:
        assert "sign" not in call.params and "timestamp" not in call.params
    assert call.url == BASE_URL + CATALOGUE[name].path


def test_query_signing_follows_an_overridden_path() -> None:
    creds = Credentials(ACCESS_KEY, "s3cret-value", USER_ID)
    moved_in = ClientSettings(base_url=BASE_URL, endpoint_overrides={"order_list": "/open/pp/logistics/x"})
    moved_out = ClientSettings(base_url=BASE_URL, endpoint_overrides={"freight_estimate": "/open/freight"})
    assert "sign" in prepare_call(creds, moved_in, "order_list").params
    assert "sign" not in prepare_call(creds, moved_out, "freight_estimate").params


def test_prepare_call_signs_every_attempt_anew() -> None:
    creds = Credentials(ACCESS_KEY, "s3cret-value", USER_ID)
    settings = ClientSettings(base_url=BASE_URL)
    a = prepare_call(creds, settings, "refund_cancel", {"refundId": "TQ1"})
    b = prepare_call(creds, settings, "refund_cancel", {"refundId": "TQ1"})
    assert a.headers["nonce-str"] != b.headers["nonce-str"]
    assert a.headers["signature"] != b.headers["signature"]
    for call in (a, b):
        h = call.headers
        assert h["signature"] == md5_signature(ACCESS_KEY, h["timestamp"], h["nonce-str"], "s3cret-value")
