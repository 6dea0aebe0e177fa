"""``xportcn_provider.api`` is the framework-free core: it must import with Airflow unavailable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import xportcn_provider.api

API_DIR = Path(xportcn_provider.api.__file__).parent

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    class BlockAirflow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "airflow" or name.startswith("airflow."):
                raise ImportError(f"blocked import of {name} (the api core must not need Airflow)")
            return None

    sys.meta_path.insert(0, BlockAirflow())
    import xportcn_provider.api as api

    names = ["xportcn_provider", "xportcn_provider.api"] + [
        m.name for m in pkgutil.walk_packages(api.__path__, prefix="xportcn_provider.api.")
    ]
    for name in names:
        importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
    assert not leaked, leaked
    try:
        import airflow  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the blocker did not work")
    print("\\n".join(names))
    """
)


def test_api_core_imports_without_airflow() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    expected = {f"xportcn_provider.api.{p.stem}" for p in API_DIR.glob("*.py") if p.stem != "__init__"}
    assert expected, "no modules found under xportcn_provider/api"
    assert expected <= imported


def test_blocker_really_blocks() -> None:
    script = SCRIPT.replace("import xportcn_provider.api as api", "import airflow.sdk")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "blocked import of airflow" in result.stderr
