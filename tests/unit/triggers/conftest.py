"""Fixtures for trigger unit tests: a scripted fake server on 127.0.0.1 and a connection to it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import aiohttp
import pytest

from xportcn_provider.api.client import ClientSettings

from ._fake import ACCESS_KEY, USER_ID, FakeXportcn, fresh_secret


@pytest.fixture
def secret() -> str:
    return fresh_secret()


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeXportcn]:
    """A started fake server; every pooled session the code opens is counted (and still real)."""
    from xportcn_provider.hooks import async_client

    fake = FakeXportcn().start()
    real_new_session = async_client._new_session

    def counting_new_session(settings: ClientSettings) -> aiohttp.ClientSession:
        session = real_new_session(settings)
        fake.clients.append(session)
        return session

    monkeypatch.setattr(async_client, "_new_session", counting_new_session)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def xportcn_conn(monkeypatch: pytest.MonkeyPatch, secret: str, fake_server: FakeXportcn) -> str:
    """``xportcn_default`` on the fake server; no in-client retries so each poll is one request."""
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="xportcn_default",
        conn_type="xportcn",
        host=fake_server.base_url + "/api",
        login=ACCESS_KEY,
        password=secret,
        extra=json.dumps({"user_id": USER_ID, "max_retries": 0, "timeout": 5}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DEFAULT", conn.as_json())
    return "xportcn_default"
