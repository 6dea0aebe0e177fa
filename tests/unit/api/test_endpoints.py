"""The endpoint catalogue against the contract (§2) and the override rules (§2.1)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from xportcn_provider.api import endpoints
from xportcn_provider.api.client import ClientSettings
from xportcn_provider.api.endpoints import (
    CATALOGUE,
    ENDPOINT_NAMES,
    get_endpoint,
    resolve,
    validate_overrides,
)
from xportcn_provider.api.errors import XportcnValidationError

REPO_ROOT = Path(__file__).resolve().parents[3]
CONTRACT = REPO_ROOT.parent / "shared" / "xportcn-api.md"


class ContractRow(NamedTuple):
    name: str
    method: str
    path: str
    confidence: str


def _contract_rows() -> list[ContractRow]:
    if not CONTRACT.is_file():
        pytest.skip(
            f"API contract not found at {CONTRACT} (it is a sibling 'shared/' of the repository "
            "clone in CI); cannot check the catalogue against it here."
        )
    text = CONTRACT.read_text(encoding="utf-8")
    start = text.index("## 2. Endpoint catalogue")
    end = text.index("### 2.1", start)
    rows = []
    for line in text[start:end].splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name, method, path, confidence = cells[:4]
        word = re.match(r"[a-z]+", confidence.strip("* "))
        assert word, f"no confidence word in {line!r}"
        rows.append(ContractRow(name.strip("`"), method, path.strip("`"), word.group(0)))
    assert rows, "the contract's endpoint table was not found"
    return rows


def test_contract_table_parses_as_expected() -> None:
    rows = _contract_rows()
    assert len(rows) == len({r.name for r in rows}), "duplicate names in the contract table"
    assert {r.confidence for r in rows} <= {"confirmed", "evidence", "inferred"}
    by_name = {r.name: r for r in rows}
    # Spot checks of the parser on the three confidence spellings.
    assert by_name["order_pay"].confidence == "confirmed"  # "confirmed path"
    assert by_name["package_inbound"].confidence == "confirmed"  # "confirmed (marked ...)"
    assert by_name["address_save"].confidence == "inferred"  # "inferred (sister: ...)"
    assert by_name["logistics_companies"].method == "GET"


def test_catalogue_names_match_the_contract_exactly() -> None:
    rows = _contract_rows()
    assert set(CATALOGUE) == {r.name for r in rows}


def test_catalogue_entries_match_the_contract_exactly() -> None:
    rows = _contract_rows()
    expected = {(r.name, r.method, r.path, r.confidence) for r in rows}
    actual = {(e.name, e.method, e.path, e.confidence) for e in CATALOGUE.values()}
    assert actual - expected == set(), "catalogue entries that differ from the contract"
    assert expected - actual == set(), "contract entries missing or different in the catalogue"


def test_names_paths_are_unique_and_well_formed() -> None:
    assert len(ENDPOINT_NAMES) == len(CATALOGUE)
    paths = [e.path for e in CATALOGUE.values()]
    assert len(paths) == len(set(paths))
    for name, e in CATALOGUE.items():
        assert e.name == name
        assert re.fullmatch(r"[a-z0-9_]+", name)
        assert re.fullmatch(r"(/[A-Za-z0-9_]+)+", e.path), e.path
        assert e.method in ("GET", "POST")
        assert e.confidence in ("confirmed", "evidence", "inferred")


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_query_signed_exactly_for_warehouse_logistics(name: str) -> None:
    e = CATALOGUE[name]
    assert e.query_signed is e.path.startswith("/open/pp/logistics/")


def test_there_are_query_signed_endpoints() -> None:
    assert {n for n, e in CATALOGUE.items() if e.query_signed} == {
        "freight_estimate",
        "freight_preview",
        "intl_logistics_create",
        "domestic_logistics_update",
    }


_WRITE = re.compile(r"(_create|_pay|_cancel|_save|_upload|_submit|_update|forecast|inbound)$")


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_read_only_flags(name: str) -> None:
    e = CATALOGUE[name]
    if _WRITE.search(name):
        assert not e.read_only, f"{name} changes state on the server and must not be read_only"
    if e.method == "GET":
        assert e.read_only
    if e.read_only:
        assert name in endpoints.READ_ENDPOINT_NAMES
    else:
        assert name not in endpoints.READ_ENDPOINT_NAMES


def test_status_reads_are_read_only() -> None:
    for name in ("order_detail", "refund_detail", "package_detail", "order_list", "taobao_order_list"):
        assert CATALOGUE[name].read_only


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_required_fields_are_known_fields(name: str) -> None:
    e = CATALOGUE[name]
    assert set(e.required) <= set(e.fields)
    if e.paginated:
        assert "pageSize" in e.fields
        assert {"pageNo", "beginPage"} & set(e.fields)
        assert e.read_only


# --- lookups and overrides ------------------------------------------------------------------


def _assert_lists_all_names(err: XportcnValidationError) -> None:
    for name in CATALOGUE:
        assert name in str(err)


@pytest.mark.parametrize("bad", ["refund_apply", "", "REFUND_CREATE", None, 3])
def test_unknown_name_lists_valid_names(bad: Any) -> None:
    with pytest.raises(XportcnValidationError) as exc:
        get_endpoint(bad)
    _assert_lists_all_names(exc.value)
    with pytest.raises(XportcnValidationError):
        resolve(bad, {"refund_create": "/x"})


def test_resolve_without_and_with_override() -> None:
    assert resolve("refund_create").path == "/alibaba/ka/refund/create"
    overridden = resolve("refund_create", {"refund_create": "/alibaba/ka/refund/apply"})
    assert overridden.path == "/alibaba/ka/refund/apply"
    assert overridden.method == "POST" and overridden.name == "refund_create"
    # The catalogue itself is untouched, and other names are not affected.
    assert CATALOGUE["refund_create"].path == "/alibaba/ka/refund/create"
    assert resolve("refund_cancel", {"refund_create": "/x"}).path == "/alibaba/ka/refund/cancel"


def test_validate_overrides_accepts_known_names() -> None:
    assert validate_overrides(None) == {}
    assert validate_overrides({}) == {}
    assert validate_overrides({"refund_create": "/alibaba/ka/refund/apply"}) == {
        "refund_create": "/alibaba/ka/refund/apply"
    }


def test_unknown_override_name_lists_valid_names() -> None:
    with pytest.raises(XportcnValidationError) as exc:
        validate_overrides({"refund_create": "/ok", "refund_apply": "/alibaba/ka/refund/apply"})
    assert "refund_apply" in str(exc.value)
    assert exc.value.parameter == "endpoint_overrides"
    _assert_lists_all_names(exc.value)


@pytest.mark.parametrize(
    "value",
    ["https://evil.example/steal", "alibaba/ka/refund/apply", "", 5, None, ["/x"], {"path": "/x"}],
)
def test_override_value_must_be_a_path(value: Any) -> None:
    with pytest.raises(XportcnValidationError) as exc:
        validate_overrides({"refund_create": value})
    assert "refund_create" in str(exc.value)


@pytest.mark.parametrize("value", ['{"refund_create": "/x"}', ["refund_create"], 1])
def test_overrides_must_be_a_mapping(value: Any) -> None:
    with pytest.raises(XportcnValidationError) as exc:
        validate_overrides(value)
    assert exc.value.parameter == "endpoint_overrides"


def test_client_settings_validate_overrides() -> None:
    with pytest.raises(XportcnValidationError, match="refund_apply"):
        ClientSettings(endpoint_overrides={"refund_apply": "/x"})
    settings = ClientSettings(endpoint_overrides={"order_detail": "/alibaba/ka/order/get"})
    assert settings.endpoint_overrides == {"order_detail": "/alibaba/ka/order/get"}
