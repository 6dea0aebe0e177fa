"""``airflow xportcn check`` and ``python -m xportcn_provider.check`` as a user runs them: real
processes, the Airflow CLI's provider ``cli`` discovery, and a sandbox started with
``xportcn-sandbox --signature-rule ... --path-map ...`` (issues 12 and 13)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.sandbox import SandboxHandle

from .test_sandbox_cli import Cli, clean_env, free_port

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def env_for(conn: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "PYTEST_"))}
    env["AIRFLOW_CONN_XPORTCN_DEFAULT"] = conn
    env.setdefault("AIRFLOW_HOME", str(tmp_path / "airflow_home"))
    return env


@pytest.mark.slow  # an Airflow CLI start is several seconds on a loaded machine
def test_airflow_cli_check_prints_the_table_and_exits_0(
    xportcn_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    result = subprocess.run(
        [AIRFLOW, "xportcn", "check", "--conn-id", "xportcn_default", "--delay", "0.05"],
        capture_output=True,
        text=True,
        env=env_for(xportcn_sandbox.conn_json, tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "endpoint" in result.stdout and "requestId" in result.stdout
    assert "address_list" in result.stdout and "exit 0:" in result.stdout
    assert xportcn_sandbox.access_secret not in result.stdout + result.stderr


def test_python_module_takes_the_same_arguments(xportcn_sandbox: SandboxHandle, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xportcn_provider.check", "--endpoints", "order_list", "--output", "json"],
        capture_output=True,
        text=True,
        env=env_for(xportcn_sandbox.conn_json, tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert [e["endpoint"] for e in report["endpoints"]] == ["order_list"]


def test_the_cli_definition_is_light() -> None:
    """Airflow imports the definition on every CLI start: it adds no client, no checker, no hook."""
    probe = textwrap.dedent(
        """
        import sys
        import airflow.cli.cli_config  # what the Airflow CLI has loaded before asking providers
        before = set(sys.modules)
        from xportcn_provider.cli.definition import get_xportcn_cli_commands
        [group] = get_xportcn_cli_commands()
        added = sorted(set(sys.modules) - before)
        print(group.name, [c.name for c in group.subcommands], added)
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("xportcn ['check'] "), last
    added = ast.literal_eval(last.removeprefix("xportcn ['check'] "))
    assert set(added) <= {
        "xportcn_provider.cli",
        "xportcn_provider.cli.args",
        "xportcn_provider.cli.definition",
    }


@pytest.mark.slow  # two Airflow CLI starts and a sandbox process
def test_against_a_sandbox_that_signs_differently_and_moved_paths(tmp_path: Path) -> None:
    """A user's view: the service wants another signature rule and serves two endpoints elsewhere."""
    path_map = tmp_path / "paths.json"
    moves = {
        "order_detail": CATALOGUE["order_detail"].alternates[0],
        "refund_detail": CATALOGUE["refund_detail"].alternates[0],
    }
    path_map.write_text(json.dumps(moves))
    cli = Cli(
        [
            "--port",
            str(free_port()),
            "--signature-rule",
            "hmac-sha256",
            "--path-map",
            str(path_map),
            "--log-level",
            "warning",
        ],
        clean_env(),
    )
    try:
        assert any("only hmac-sha256 is accepted" in line for line in cli.lines)
        env = env_for(json.dumps(cli.conn), tmp_path)
        first = subprocess.run(
            [AIRFLOW, "xportcn", "check", "--delay", "0.05", "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert first.returncode == 1, first.stderr[-3000:]
        report = json.loads(first.stdout[first.stdout.index("{") :])
        assert report["accepted_rule"] == "hmac-sha256"
        assert report["endpoint_overrides"] == moves
        # The user sets the two things the checker named; the next check is clean.
        fixed = dict(cli.conn)
        fixed["extra"] = {**cli.conn["extra"], "signature_rule": "hmac-sha256", "endpoint_overrides": moves}
        second = subprocess.run(
            [AIRFLOW, "xportcn", "check", "--delay", "0.05"],
            capture_output=True,
            text=True,
            env=env_for(json.dumps(fixed), tmp_path),
            timeout=120,
        )
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    finally:
        cli.stop()


def test_provider_discovery_loads_no_http_client() -> None:
    """Airflow imports ``get_provider_info`` and the ``cli`` definition module on every CLI start."""
    probe = textwrap.dedent(
        """
        import sys
        from xportcn_provider.get_provider_info import get_provider_info
        import xportcn_provider.cli.definition
        info = get_provider_info()
        heavy = ("requests", "httpx", "aiohttp", "xportcn_provider.api.client", "xportcn_provider.connection")
        print(info["cli"], [m for m in heavy if m in sys.modules])
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == (
        "['xportcn_provider.cli.definition.get_xportcn_cli_commands'] []"
    )
