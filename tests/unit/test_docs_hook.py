"""docs/hook.md cannot drift from the code: endpoint table, error table, fields, hook methods."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from xportcn_provider.api import errors as E
from xportcn_provider.connection import (
    EXTRA_CONSOLE_URL,
    EXTRA_MAX_RETRIES,
    EXTRA_OVERRIDES,
    EXTRA_PROTOCOL,
    EXTRA_TIMEOUT,
    EXTRA_USER_ID,
)
from xportcn_provider.hooks.xportcn import XportcnHook

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "hook.md"
SCRIPT = REPO_ROOT / "scripts" / "endpoint_table.py"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("endpoint_table", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_endpoint_table_is_current(doc: str) -> None:
    table = _script().render()
    assert table in doc, (
        "docs/hook.md's endpoint table differs from the code: run "
        "`.venv/bin/python scripts/endpoint_table.py` and paste its output into docs/hook.md"
    )
    between = doc.split("<!-- BEGIN endpoint table (scripts/endpoint_table.py) -->")[1].split("<!-- END")[0]
    assert between.strip() == table


def test_every_error_class_is_documented_with_its_retry_behaviour(doc: str) -> None:
    rows = dict(re.findall(r"^\| `(Xportcn\w+)` \|.*\| (yes|no)[^|]*\|$", doc, flags=re.M))
    classes = {
        name: cls
        for name, cls in vars(E).items()
        if isinstance(cls, type) and issubclass(cls, E.XportcnError) and cls is not E.XportcnError
    }
    assert set(rows) == set(classes)
    for name, cls in classes.items():
        assert (rows[name] == "yes") is cls.retryable, name


def test_every_connection_field_is_documented(doc: str) -> None:
    for field in (
        EXTRA_USER_ID,
        EXTRA_TIMEOUT,
        EXTRA_MAX_RETRIES,
        EXTRA_OVERRIDES,
        EXTRA_CONSOLE_URL,
        EXTRA_PROTOCOL,
    ):
        assert f"`extra.{field}`" in doc
    for field in ("`host`", "`login`", "`password`", "AIRFLOW_CONN_XPORTCN_DEFAULT", "protocol=http"):
        assert field in doc


def test_hook_example_uses_real_methods(doc: str) -> None:
    used = set(re.findall(r"\bhook\.(\w+)", doc))
    assert {"call", "paginate", "test_connection", "order_detail"} <= used
    for name in used:
        assert hasattr(XportcnHook, name), f"docs/hook.md uses hook.{name}, which does not exist"


def test_retry_rules_table_is_current(doc: str) -> None:
    """Every write's rule after a lost answer, and why, is in the docs exactly as in the code."""
    table = _script().render_rules()
    between = doc.split("<!-- BEGIN retry rules (scripts/endpoint_table.py) -->")[1].split("<!-- END")[0]
    assert between.strip() == table, "run `.venv/bin/python scripts/endpoint_table.py` and paste the rules"
