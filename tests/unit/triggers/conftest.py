"""Fixtures for trigger unit tests: a connection in the environment and a scripted fake server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from ._fake import ACCESS_KEY, BASE_URL, USER_ID, FakeXportcn, fresh_secret


@pytest.fixture
def secret() -> str:
    return fresh_secret()


@pytest.fixture
def xportcn_conn(monkeypatch: pytest.MonkeyPatch, secret: str) -> str:
    """``xportcn_default`` in the environment; no in-client retries so each poll is one request."""
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="xportcn_default",
        conn_type="xportcn",
        host=BASE_URL,
        login=ACCESS_KEY,
        password=secret,
        extra=json.dumps({"user_id": USER_ID, "max_retries": 0, "timeout": 5}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", conn.as_json())
    return "xportcn_default"


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeXportcn]:
    """Route the shared pooled client through an ``httpx.MockTransport`` driven by ``FakeXportcn``."""
    from xportcn_provider.hooks import async_client

    fake = FakeXportcn()

    def new_client(limits: httpx.Limits) -> httpx.AsyncClient:
        fake.clients_created += 1
        client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler), limits=limits)
        fake.clients.append(client)
        return client

    monkeypatch.setattr(async_client, "_new_client", new_client)
    yield fake
