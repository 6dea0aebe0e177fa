"""The example DAGs' scale settings: an Airflow pool and the fulfilment's run concurrency (issue #19).

``XPORTCN_EXAMPLE_POOL`` puts every task of the fulfilment and after-sale DAGs in one pool (the
README's "Running at scale": a pool caps concurrent Xportcn calls across the whole cluster);
unset, they stay in Airflow's ``default_pool``. ``XPORTCN_EXAMPLE_MAX_ACTIVE_RUNS`` sets how many
fulfilment runs go at once (default 4).
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
SCALED = ("xportcn_fulfilment.py", "xportcn_after_sale.py")


def _dag(file_name: str) -> Any:
    return runpy.run_path(str(EXAMPLES / file_name))["dag"]


@pytest.mark.parametrize("file_name", SCALED)
def test_every_task_goes_to_the_configured_pool(file_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XPORTCN_EXAMPLE_POOL", "xportcn")
    dag = _dag(file_name)
    assert len(dag.tasks) >= 9
    assert {task.pool for task in dag.tasks} == {"xportcn"}


@pytest.mark.parametrize("file_name", SCALED)
def test_without_a_pool_name_tasks_use_the_default_pool(
    file_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XPORTCN_EXAMPLE_POOL", raising=False)
    assert {task.pool for task in _dag(file_name).tasks} == {"default_pool"}


def test_fulfilment_run_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XPORTCN_EXAMPLE_MAX_ACTIVE_RUNS", raising=False)
    assert _dag("xportcn_fulfilment.py").max_active_runs == 4
    monkeypatch.setenv("XPORTCN_EXAMPLE_MAX_ACTIVE_RUNS", "20")
    assert _dag("xportcn_fulfilment.py").max_active_runs == 20
