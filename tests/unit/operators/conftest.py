"""Operator unit-test fixtures: a connection in the environment, requests-mock per endpoint name,
and a fake task instance / task_state_store so ``execute`` runs without Airflow's runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import requests_mock as rm

from xportcn_provider.api.endpoints import CATALOGUE

from .._support import ACCESS_KEY, BASE_URL, USER_ID, envelope, fresh_secret

CONSOLE_URL = "https://console.xportcn.test"
_PATH_TO_NAME = {e.path: e.name for e in CATALOGUE.values()}


class FakeTI:
    """The bits of a RuntimeTaskInstance the operators use: identity and ``xcom_push``."""

    def __init__(
        self, dag_id: str = "dag", task_id: str = "task", run_id: str = "run-1", map_index: int = -1
    ):
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = 1
        self.xcom: dict[str, Any] = {}
        self.pushes: list[str] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushes.append(key)
        self.xcom[key] = value


class FakeStore:
    """``context["task_state_store"]``: a dict with ``get``/``set`` (shared across tries)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sets: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.sets.append(key)
        self.data[key] = value


def make_context(ti: FakeTI | None = None, store: FakeStore | None = None, **more: Any) -> dict[str, Any]:
    ti = ti or FakeTI()
    context: dict[str, Any] = {"ti": ti, "task_instance": ti, "run_id": ti.run_id, **more}
    if store is not None:
        context["task_state_store"] = store
    return context


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """``xportcn_default`` at BASE_URL with no in-hook retries (one request per call)."""
    value = fresh_secret()
    doc = {
        "conn_type": "xportcn",
        "host": BASE_URL,
        "login": ACCESS_KEY,
        "password": value,
        "extra": {"user_id": USER_ID, "max_retries": 0, "timeout": 5, "console_url": CONSOLE_URL},
    }
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", json.dumps(doc))
    return value


class Api:
    """requests-mock keyed by catalogue endpoint names, with a readable call log."""

    def __init__(self, mocker: rm.Mocker) -> None:
        self.m = mocker

    def on(self, name: str, *answers: Any, code: int = 200, msg: str | None = None, http: int = 200) -> None:
        """Answer ``name`` with each of ``answers`` in turn (the last one repeats)."""
        endpoint = CATALOGUE[name]
        responses = []
        for i, data in enumerate(answers or (None,)):
            if isinstance(data, BaseException):
                responses.append({"exc": data})
                continue
            body = envelope(
                code=code,
                msg=msg or ("成功" if code == 200 else "error"),
                data=data,
                request_id=f"req-{name}-{i + 1}",
            )
            responses.append({"text": body, "status_code": http})
        self.m.register_uri(endpoint.method, BASE_URL + endpoint.path, responses)

    def fail(self, name: str, code: int, msg: str = "refused") -> None:
        self.on(name, None, code=code, msg=msg)

    @property
    def calls(self) -> list[tuple[str, Any]]:
        out = []
        for req in self.m.request_history:
            path = urlparse(req.url).path.removeprefix(urlparse(BASE_URL).path)
            body = json.loads(req.body) if req.body else None
            out.append((_PATH_TO_NAME.get(path, path), body))
        return out

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def body(self, name: str, index: int = -1) -> Any:
        return [body for n, body in self.calls if n == name][index]


@pytest.fixture
def api(secret: str) -> Iterator[Api]:
    with rm.Mocker() as mocker:
        yield Api(mocker)
