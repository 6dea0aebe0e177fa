"""A real HTTP server on 127.0.0.1 that answers from a script, for the async client's unit tests.

The async client talks ``aiohttp``; rather than mocking aiohttp's internals, its unit tests point
it at this server (an ``aiohttp.web`` app in its own thread and event loop), which answers each
request with the next entry of a script (the last entry repeats) and records what it saw. Faults
that only a socket can show are real: :data:`DROP` closes the connection without an answer,
:class:`Delay` answers late (a client timeout), and :func:`refused_url` names a port nobody
listens on (the connection cannot be made).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from ._support import envelope


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer (a fresh ``web.Response`` is built for every request it serves)."""

    status: int = 200
    text: str | bytes = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delay:
    """``answer`` after ``seconds`` (longer than the client's timeout: a read timeout)."""

    seconds: float
    answer: Answer


@dataclass(frozen=True)
class CutBody:
    """HTTP 200 announcing ``text`` in full, then the connection closes halfway through the body."""

    text: str


@dataclass(frozen=True)
class Trickle:
    """HTTP 200 whose body arrives one byte every ``interval`` seconds (each read is quick)."""

    text: str
    interval: float


class _Drop:
    """Close the connection without answering (the client sees the server disconnect)."""

    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()

#: A script entry: an answer, a delayed answer, DROP, an envelope's ``data`` (a dict, answered with
#: code 200), or a function of the request (sync or async) returning one of those.
Entry = Answer | Delay | CutBody | Trickle | _Drop | dict[str, Any] | Callable[[Seen], Any]


class ScriptServer:
    """Serves ``script`` on ``base_url`` (``http://127.0.0.1:<port>``); see the module docstring."""

    def __init__(self, *script: Entry) -> None:
        self.script: list[Entry] = list(script)
        self.requests: list[Seen] = []
        self.connections = 0
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="script-server", daemon=True)
        self._runner: web.AppRunner | None = None

    def then(self, *entries: Entry) -> ScriptServer:
        self.script.extend(entries)
        return self

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    # --- serving ---------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            CIMultiDict(request.headers),
            await request.read(),
        )
        self.requests.append(seen)
        entry: Any = self.script[min(len(self.requests), len(self.script)) - 1]
        if callable(entry) and not isinstance(entry, _Drop):
            entry = entry(seen)
            if asyncio.iscoroutine(entry):
                entry = await entry
        if isinstance(entry, Delay):
            await asyncio.sleep(entry.seconds)
            entry = entry.answer
        if isinstance(entry, _Drop):
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("scripted drop")
        if isinstance(entry, CutBody | Trickle):
            return await self._stream(request, entry)
        if isinstance(entry, dict):  # an envelope's data, answered with code 200
            entry = Answer(200, envelope(data=entry))
        assert isinstance(entry, Answer), entry
        return web.Response(
            status=entry.status,
            body=entry.text.encode() if isinstance(entry.text, str) else entry.text,
            headers={"Content-Type": "application/json", **entry.headers},
        )

    async def _stream(self, request: web.Request, entry: CutBody | Trickle) -> web.StreamResponse:
        body = entry.text.encode()
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        if isinstance(entry, CutBody):
            await response.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        for i in range(len(body)):
            await response.write(body[i : i + 1])
            await asyncio.sleep(entry.interval)
        await response.write_eof()
        return response

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = self._runner.server
        assert server is not None
        original = server.connection_made

        def connection_made(handler: Any, transport: Any) -> None:
            self.connections += 1
            original(handler, transport)

        server.connection_made = connection_made  # type: ignore[method-assign]
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    def start(self) -> ScriptServer:
        self._thread.start()
        self.base_url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def script_server(*script: Entry) -> Iterator[ScriptServer]:
    """A started :class:`ScriptServer`, stopped afterwards."""
    server = ScriptServer(*script).start()
    try:
        yield server
    finally:
        server.stop()


def refused_url() -> str:
    """A loopback URL whose port has no listener: connecting is refused, nothing is sent."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
