"""The sensors and the trigger are registered in the provider info and found by Airflow."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger

from xportcn_provider.get_provider_info import get_provider_info


def _modules(key: str) -> list[str]:
    return [module for entry in get_provider_info()[key] for module in entry["python-modules"]]


def test_trigger_modules_are_registered_and_hold_the_status_trigger() -> None:
    modules = _modules("triggers")
    assert modules == ["xportcn_provider.triggers.status"]
    triggers = {
        name
        for module in modules
        for name, obj in inspect.getmembers(importlib.import_module(module), inspect.isclass)
        if issubclass(obj, BaseTrigger) and obj.__module__ == module
    }
    assert triggers == {"XportcnStatusTrigger"}


def test_sensor_modules_are_registered_and_hold_every_sensor() -> None:
    modules = _modules("sensors")
    sensors = {
        name
        for module in modules
        for name, obj in inspect.getmembers(importlib.import_module(module), inspect.isclass)
        if issubclass(obj, BaseSensorOperator) and obj.__module__ == module
    }
    assert sensors == {
        "XportcnRefundStatusSensor",
        "XportcnOrderStatusSensor",
        "XportcnPackageStatusSensor",
        "XportcnLogisticsStatusSensor",
    }


def test_providers_manager_lists_the_trigger_module() -> None:
    # ProvidersManager is a process-wide singleton: ask a fresh interpreter.
    probe = (
        "from airflow.providers_manager import ProvidersManager;"
        "print(sorted(t.trigger_class_name for t in ProvidersManager().trigger"
        " if t.package_name == 'airflow-provider-xportcn'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=dict(os.environ), check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "['xportcn_provider.triggers.status']"
