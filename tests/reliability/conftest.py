"""Shared helpers of the reliability suite (fault matrix, bad input, clock skew).

Every test here runs against the provider's own sandbox over real HTTP (the ``xportcn_sandbox`` /
``xportcn_default_conn`` fixtures of the provider's pytest plugin) and judges the provider by
what the *server* logged, not by what the client says it did.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from xportcn_provider.sandbox import SandboxHandle


class FakeTI:
    """The bits of a task instance an operator reads when ``execute`` is called directly."""

    dag_id = "reliability"
    task_id = "t"
    run_id = "manual__reliability"
    map_index = -1
    try_number = 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def make_context() -> dict[str, Any]:
    """A minimal task context, enough for ``execute`` (as in ``tests/integration``'s operator tests)."""
    ti = FakeTI()
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id}


def set_default_conn(
    monkeypatch: pytest.MonkeyPatch,
    handle: SandboxHandle,
    *,
    drop: tuple[str, ...] = (),
    **fields: Any,
) -> None:
    """``AIRFLOW_CONN_XPORTCN_DEFAULT`` = the sandbox connection with top-level ``fields`` replaced,
    ``extra`` keys merged (``extra={...}``), and the ``drop`` fields (top level or ``extra.x``) removed.
    """
    doc = json.loads(handle.conn_json)
    extra = fields.pop("extra", {})
    doc.update(fields)
    doc["extra"] = {**doc["extra"], **extra}
    for name in drop:
        if name.startswith("extra."):
            doc["extra"].pop(name.removeprefix("extra."), None)
        else:
            doc.pop(name, None)
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", json.dumps(doc))
