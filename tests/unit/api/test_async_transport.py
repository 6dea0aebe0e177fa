"""The aiohttp transport of ``AsyncXportcnClient``: every socket-level failure becomes a typed error.

Against real sockets on 127.0.0.1 (``tests/unit/_http_script.py``): aiohttp's own exceptions never
leave the client, and ``not_processed`` is ``True`` only when the failure proves nothing was sent
(the connection could not be made), which lets the retry rules resend a write safely; after the
request left (a drop, a cut body, a read timeout) the outcome is unknown and it stays ``False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials, transport_error
from xportcn_provider.api.errors import (
    XportcnError,
    XportcnProtocolError,
    XportcnTimeoutError,
    XportcnTransientError,
)

from .._http_script import DROP, Answer, CutBody, Delay, Entry, Trickle, refused_url, script_server
from .._support import ACCESS_KEY, USER_ID, envelope, fresh_secret

NAME = "order_detail"
OK = envelope(data={"orderId": "1"})


def call_once(base_url: str, secret: str, timeout: float = 0.5, max_retries: int = 0) -> Any:
    """One ``order_detail`` call on a fresh client; returns the data or the raised error."""

    async def go() -> Any:
        client = AsyncXportcnClient(
            Credentials(ACCESS_KEY, secret, USER_ID),
            ClientSettings(
                base_url=base_url + "/api", timeout=timeout, max_retries=max_retries, backoff_initial=0.01
            ),
        )
        try:
            return await client.call(NAME, {"orderId": "1"})
        except Exception as err:  # the point: which exception, if any, comes out
            return err
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.fixture
def full_listener() -> Iterator[str]:
    """A loopback port whose accept queue is full: a connect there never completes (no SYN-ACK)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the backlog; later SYNs are dropped by the kernel
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_connection_refused_is_transient_and_not_processed() -> None:
    secret = fresh_secret()
    err = call_once(refused_url(), secret)
    assert type(err) is XportcnTransientError, repr(err)
    assert err.not_processed is True
    assert "could not connect" in str(err) and "nothing was sent" in str(err)
    assert secret not in str(err) and secret not in repr(err)


def test_a_connect_timeout_is_a_timeout_error_and_not_processed(full_listener: str) -> None:
    started = time.monotonic()
    err = call_once(full_listener, fresh_secret(), timeout=0.3)
    assert type(err) is XportcnTimeoutError, repr(err)
    assert err.not_processed is True
    assert "could not connect within 0.3s" in str(err)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("entry", "error", "words"),
    [
        (DROP, XportcnTransientError, "connection failed or dropped"),
        (CutBody(OK), XportcnTransientError, "connection failed or dropped"),
        (Delay(1.0, Answer(200, OK)), XportcnTimeoutError, "did not answer within 0.3s"),
        # every read is quick, the body as a whole is not: the attempt's total deadline ends it
        (Trickle(OK, 0.02), XportcnTimeoutError, "did not answer within 0.3s"),
    ],
    ids=["dropped", "cut-body", "read-timeout", "trickling-body"],
)
def test_failures_after_sending_may_have_been_processed(entry: Entry, error: type, words: str) -> None:
    with script_server(entry) as server:
        started = time.monotonic()
        err = call_once(server.base_url, fresh_secret(), timeout=0.3)
        elapsed = time.monotonic() - started
        assert len(server.requests) == 1  # the request reached the server
    assert type(err) is error, repr(err)
    assert err.not_processed is False
    assert words in str(err)
    assert elapsed < 1.0


def test_a_complete_but_garbled_body_is_a_protocol_error_not_a_transport_one() -> None:
    with script_server(Answer(200, OK[: len(OK) // 2])) as server:
        err = call_once(server.base_url, fresh_secret())
    assert type(err) is XportcnProtocolError, repr(err)


def test_connect_failures_are_retried_like_any_transient_error() -> None:
    sleeps: list[float] = []

    async def go() -> Any:
        client = AsyncXportcnClient(
            Credentials(ACCESS_KEY, fresh_secret(), USER_ID),
            ClientSettings(base_url=refused_url() + "/api", timeout=0.5, max_retries=2),
            sleep=sleeps.append,
        )
        try:
            return await client.call(NAME, {"orderId": "1"})
        finally:
            await client.aclose()

    with pytest.raises(XportcnTransientError):
        asyncio.run(go())
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("exc", "error", "not_processed"),
    [
        (aiohttp.ConnectionTimeoutError(), XportcnTimeoutError, True),
        (aiohttp.SocketTimeoutError(), XportcnTimeoutError, False),
        (aiohttp.ServerTimeoutError(), XportcnTimeoutError, False),
        (TimeoutError(), XportcnTimeoutError, False),
        (aiohttp.ServerDisconnectedError(), XportcnTransientError, False),
        (aiohttp.ClientPayloadError("cut"), XportcnTransientError, False),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), XportcnTransientError, False),
        (ConnectionResetError(104, "reset"), XportcnTransientError, False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_every_aiohttp_failure_maps_to_a_typed_error(
    exc: BaseException, error: type[XportcnError], not_processed: bool
) -> None:
    mapped = transport_error(NAME, exc, 5.0)
    assert type(mapped) is error
    assert mapped.not_processed is not_processed
    assert mapped.endpoint == NAME and mapped.retryable
