"""Provider registration: the entry point, ProvidersManager and ``airflow providers list``.

ProvidersManager is a process-wide singleton (and other tests may already have initialised it),
so each check runs in a fresh interpreter with the session's temporary AIRFLOW_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from xportcn_provider import __version__
from xportcn_provider.get_provider_info import get_provider_info
from xportcn_provider.hooks.xportcn import XportcnHook

PACKAGE = "airflow-provider-xportcn"
HOOK_CLASS = "xportcn_provider.hooks.xportcn.XportcnHook"
ASYNC_FIELDS = ("max_connections",)  # the triggers' shared session (issue 16)
CUSTOM_FIELDS = (
    "user_id",
    "timeout",
    "max_retries",
    "endpoint_overrides",
    "console_url",
    "signature_rule",
    "push_token",
)

PROBE = textwrap.dedent(
    """
    import json, logging, sys, warnings

    # Import Airflow first: its import re-routes warnings to logging, which would defeat the capture.
    import airflow.providers_manager
    import airflow.sdk.providers_manager_runtime
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    from structlog.testing import capture_logs

    class Keep(logging.Handler):
        records = []

        def emit(self, record):
            self.records.append({"log_level": record.levelname.lower(), "event": record.getMessage()})

    logging.getLogger().addHandler(Keep(level=logging.WARNING))
    SENTINEL = "--sentinel" in sys.argv
    with warnings.catch_warnings(record=True) as caught, capture_logs() as logs:
        warnings.simplefilter("always")
        if SENTINEL:
            warnings.warn("sentinel-xportcn warning")
            logging.getLogger("x").warning("sentinel-xportcn stdlib")
            import structlog
            structlog.get_logger("y").warning("sentinel-xportcn structlog")
        pm = ProvidersManager()
        providers = pm.providers
        ours = {k: v for k, v in pm.connection_form_widgets.items() if k.startswith("extra__xportcn__")}
        widgets = {k: v.field for k, v in ours.items()}
        widget_hooks = {v.hook_class_name for v in ours.values()}
        behaviours = pm.field_behaviours.get("xportcn")
        runtime_hook = ProvidersManagerTaskRuntime().hooks.get("xportcn")

    info = providers.get("airflow-provider-xportcn")
    print(json.dumps({
        "provider_version": info.version if info else None,
        "hook": None if runtime_hook is None else {
            "class": runtime_hook.hook_class_name,
            "name": runtime_hook.hook_name,
            "conn_attr": runtime_hook.connection_id_attribute_name,
            "package": runtime_hook.package_name,
            "type": runtime_hook.connection_type,
        },
        "widgets": widgets,
        "widget_hooks": sorted(widget_hooks),
        "behaviours": behaviours,
        "warnings": [str(w.message) for w in caught],
        "logs": [e for e in logs + Keep.records if e.get("log_level") in ("warning", "error", "critical")],
    }, default=str))
    """
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}


def _run_probe(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    return _run_probe()


def test_provider_is_discovered(probe: dict[str, Any]) -> None:
    assert probe["provider_version"] == __version__


def test_connection_type_and_hook(probe: dict[str, Any]) -> None:
    assert probe["hook"] == {
        "class": HOOK_CLASS,
        "name": "Xportcn",
        "conn_attr": "xportcn_conn_id",
        "package": PACKAGE,
        "type": "xportcn",
    }


def test_connection_form_fields(probe: dict[str, Any]) -> None:
    widgets = probe["widgets"]
    assert set(widgets) == {f"extra__xportcn__{f}" for f in (*CUSTOM_FIELDS, *ASYNC_FIELDS)}
    assert widgets["extra__xportcn__user_id"]["schema"]["title"] == "User ID"
    assert widgets["extra__xportcn__timeout"]["value"] == 30
    assert widgets["extra__xportcn__max_retries"]["value"] == 5
    rule = widgets["extra__xportcn__signature_rule"]
    assert rule["value"] == "md5"
    assert "hmac-sha256" in rule["schema"]["enum"]  # the form shows a select of the rule names
    assert probe["widget_hooks"] == [HOOK_CLASS]


def test_field_behaviours(probe: dict[str, Any]) -> None:
    behaviours = probe["behaviours"]
    assert behaviours["relabeling"] == {
        "host": "Base URL",
        "port": "Port (443 for https)",
        "login": "Access Key",
        "password": "Access Secret",
    }
    # the port stays in the form: the connection list's Test needs it stored (issue 14 item 4)
    assert set(behaviours["hidden_fields"]) == {"schema"}
    assert behaviours["placeholders"]["extra__xportcn__user_id"]


def _ours(probe: dict[str, Any]) -> tuple[list[str], list[str]]:
    warned = [w for w in probe["warnings"] if "xportcn" in w.lower()]
    logged = [json.dumps(e, default=str) for e in probe["logs"]]
    return warned, [line for line in logged if "xportcn" in line.lower()]


def test_registration_emits_no_warnings(probe: dict[str, Any]) -> None:
    warned, logged = _ours(probe)
    assert warned == [] and logged == [], (warned, logged)


def test_the_warning_probe_would_see_warnings() -> None:
    warned, logged = _ours(_run_probe("--sentinel"))
    assert warned == ["sentinel-xportcn warning"]
    assert len(logged) == 2, logged


def test_provider_info_matches_the_hook_and_the_schema() -> None:
    import jsonschema
    from airflow import providers_manager

    info = get_provider_info()
    schema_path = Path(providers_manager.__file__).with_name("provider_info.schema.json")
    jsonschema.validate(info, json.loads(schema_path.read_text()))
    assert info["package-name"] == PACKAGE
    assert info["versions"][0] == __version__
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == XportcnHook.conn_type
    assert conn_type["hook-name"] == XportcnHook.hook_name
    assert conn_type["hook-class-name"] == HOOK_CLASS
    assert set(conn_type["conn-fields"]) == {*CUSTOM_FIELDS, *ASYNC_FIELDS}


def test_airflow_providers_list_shows_the_provider() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    start = result.stdout.index("[")
    listed = {p["package_name"]: p for p in json.loads(result.stdout[start:])}
    assert PACKAGE in listed
    assert listed[PACKAGE]["version"] == __version__
