"""Fixtures for sensor unit tests: a connection in the environment (the sync hook is mocked with
``requests_mock``)."""

from __future__ import annotations

import json

import pytest

from ._helpers import ACCESS_KEY, BASE_URL, USER_ID, fresh_secret


@pytest.fixture
def xportcn_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """``xportcn_default`` pointing at ``BASE_URL``; no in-hook retries so each poke is one request."""
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="xportcn_default",
        conn_type="xportcn",
        host=BASE_URL,
        login=ACCESS_KEY,
        password=fresh_secret(),
        extra=json.dumps({"user_id": USER_ID, "max_retries": 0, "timeout": 5}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", conn.as_json())
    return "xportcn_default"
