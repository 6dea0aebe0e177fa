"""Ways to run the sandbox: the ``xportcn-sandbox`` console script and the pytest plugin from
another project (both in subprocesses, as a user would run them)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from xportcn_provider.sandbox.defaults import DEFAULT_ACCESS_KEY, DEFAULT_ACCESS_SECRET, DEFAULT_USER_ID

EXTERNAL_PROJECT = Path(__file__).resolve().parents[1] / "external_project"
CONN_VAR = "AIRFLOW_CONN_XPORTCN_DEFAULT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("xportcn-sandbox")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "xportcn_provider.sandbox.cli"]  # pragma: no cover


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XPORTCN_SANDBOX_", "PYTEST_"))}
    env.pop(CONN_VAR, None)
    env.update(extra)
    return env


class Cli:
    """A running ``xportcn-sandbox`` process and the connection it announced."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [*cli_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if line.startswith(f"export {CONN_VAR}="):
                break
        exports = [ln for ln in self.lines if ln.startswith(f"export {CONN_VAR}=")]
        assert exports, f"no connection line in {self.lines!r}; stderr: {self._stderr()}"
        (assignment,) = shlex.split(exports[0].removeprefix("export "))
        self.conn = json.loads(assignment.split("=", 1)[1])
        self._wait_until_serving()

    def _stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def _wait_until_serving(self) -> None:
        base = self.conn["host"].removesuffix("/api")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/_sandbox/health", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError(f"CLI sandbox never answered; stderr: {self._stderr()}")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=10)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def cli_sandbox() -> Iterator[Cli]:
    port = free_port()
    cli = Cli(["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], clean_env())
    yield cli
    cli.stop()


def independent_call(url: str, key: str, secret: str, user_id: str) -> dict[str, object]:
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    signature = hashlib.md5((key + ts + nonce + secret).encode()).hexdigest().upper()
    headers = {
        "access-key": key,
        "timestamp": ts,
        "nonce-str": nonce,
        "user-id": user_id,
        "signature": signature,
    }
    return requests.post(url + "/alibaba/ka/order/list", json={}, headers=headers, timeout=5).json()


def test_cli_prints_a_usable_connection(cli_sandbox: Cli) -> None:
    conn = cli_sandbox.conn
    assert conn["conn_type"] == "xportcn"
    assert (conn["login"], conn["password"], conn["extra"]["user_id"]) == (
        DEFAULT_ACCESS_KEY,
        DEFAULT_ACCESS_SECRET,
        DEFAULT_USER_ID,
    )
    assert any("/docs" in line for line in cli_sandbox.lines)
    ok = independent_call(conn["host"], conn["login"], conn["password"], conn["extra"]["user_id"])
    assert ok["code"] == 200
    bad = independent_call(conn["host"], conn["login"], "not-the-secret", conn["extra"]["user_id"])
    assert bad["code"] == 401
    spec = requests.get(conn["host"].removesuffix("/api") + "/openapi.json", timeout=5).json()
    assert "/api/alibaba/ka/order/create" in spec["paths"]


def test_cli_connection_works_for_the_hook(cli_sandbox: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    monkeypatch.setenv(CONN_VAR, json.dumps(cli_sandbox.conn))
    ok, message = XportcnHook().test_connection()
    assert ok, message


def test_cli_credentials_from_flags_and_environment() -> None:
    env = clean_env(XPORTCN_SANDBOX_ACCESS_KEY="k" * 32, XPORTCN_SANDBOX_USER_ID="42")
    cli = Cli(
        ["--port", "0", "--access-secret", "flag-secret", "--delay", "all=0", "--log-level", "warning"], env
    )
    try:
        conn = cli.conn
        assert (conn["login"], conn["password"], conn["extra"]["user_id"]) == ("k" * 32, "flag-secret", "42")
        assert not conn["host"].endswith(":0/api")  # port 0 means "a free port", and the real one is printed
        assert independent_call(conn["host"], "k" * 32, "flag-secret", "42")["code"] == 200
        config = requests.get(conn["host"].removesuffix("/api") + "/_sandbox/config", timeout=5).json()
        assert config["order_ship_delay"] == 0
    finally:
        assert cli.stop() in (0, -15)


def test_cli_no_dedupe_plays_a_service_that_creates_twice() -> None:
    """``--no-dedupe``: the same outOrderId twice makes two orders (what the provider must never send)."""
    cli = Cli(["--port", "0", "--no-dedupe", "--log-level", "warning"], clean_env())
    try:
        assert any("no deduplication" in line for line in cli.lines)
        base = cli.conn["host"].removesuffix("/api")
        assert requests.get(base + "/_sandbox/config", timeout=5).json()["dedupe"] is False
        from xportcn_provider.api.client import ClientSettings, Credentials, XportcnClient

        conn = cli.conn
        client = XportcnClient(
            Credentials(conn["login"], conn["password"], conn["extra"]["user_id"]),
            ClientSettings(base_url=conn["host"]),
        )
        order = {
            "outOrderId": "cli-twice",
            "addressParam": {"fullName": "张三", "mobile": "13800000000", "address": "文一西路 969 号"},
            "cargoParamList": [
                {"offerId": "610000000001", "specId": "899fa7d32920ea4c73dd0385cf8c2244", "quantity": 1}
            ],
        }
        first, second = client.call("order_create", order), client.call("order_create", order)
        assert first["orderId"] != second["orderId"]
    finally:
        assert cli.stop() in (0, -15)


def test_no_dedupe_fixture(xportcn_sandbox_no_dedupe: Any) -> None:
    assert xportcn_sandbox_no_dedupe.control.config()["dedupe"] is False


def test_cli_rejects_a_bad_delay() -> None:
    result = subprocess.run(
        [*cli_command(), "--delay", "order_ship_delay=soon"], capture_output=True, text=True, env=clean_env()
    )
    assert result.returncode == 2
    assert "not a number of seconds" in result.stderr


def test_cli_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*cli_command(), "--port", str(port)], capture_output=True, text=True, env=clean_env(), timeout=20
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_fixture_works_from_another_project(tmp_path: Path) -> None:
    """The plugin loads through its entry point in a project that knows nothing about this repo."""
    project = tmp_path / "user_project"
    shutil.copytree(EXTERNAL_PROJECT, project)
    env = clean_env(AIRFLOW_HOME=str(tmp_path / "airflow_home"))
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3 passed" in result.stdout
