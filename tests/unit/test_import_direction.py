"""Imports between the wait rules and the status trigger go one way (issue 16 item 5).

``xportcn_provider.triggers.status`` builds on ``xportcn_provider.waiting``; ``waiting`` must not
import the trigger, not even inside a function, so either can be read, loaded and changed without
the other's import order mattering.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import xportcn_provider

PACKAGE = Path(xportcn_provider.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (functions, ``TYPE_CHECKING`` blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_waiting_never_imports_the_trigger_module() -> None:
    imports = imported_modules(PACKAGE / "waiting.py")
    assert not {m for m in imports if m.startswith("xportcn_provider.triggers")}, imports


def test_the_trigger_builds_on_waiting() -> None:
    assert "xportcn_provider.waiting" in imported_modules(PACKAGE / "triggers" / "status.py")


def test_loading_waiting_loads_no_trigger() -> None:
    probe = (
        "import sys, xportcn_provider.waiting; "
        "print(sorted(m for m in sys.modules if m.startswith('xportcn_provider.triggers')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_dag_files_do_not_load_aiohttp() -> None:
    """Operators, sensors and the hook import without aiohttp (~60 ms a DAG parse would pay).

    Only the async side (a trigger running, or an ``AsyncXportcnClient`` making a call) loads it.
    """
    probe = (
        "import sys, xportcn_provider.operators, xportcn_provider.sensors.status, "
        "xportcn_provider.hooks.xportcn, xportcn_provider.triggers.status; "
        "print('aiohttp' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
