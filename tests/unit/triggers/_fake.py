"""A scripted fake Xportcn for async tests (an ``httpx.MockTransport`` handler)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._support import envelope

Reply = Callable[[httpx.Request], httpx.Response] | httpx.Response | dict[str, Any]


@dataclass
class FakeXportcn:
    """Answers requests from a script (last entry repeats) and records what it saw."""

    script: list[Reply] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    clients_created: int = 0
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def then(self, *replies: Reply) -> FakeXportcn:
        self.script.extend(replies)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.script)) - 1
        reply = self.script[index]
        if callable(reply):
            return reply(request)
        if isinstance(reply, httpx.Response):
            return reply
        return httpx.Response(200, text=envelope(data=reply))

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def status(value: Any, **extra: Any) -> dict[str, Any]:
    return {"refundId": "TQ1", "status": value, **extra}


def error_reply(code: int, msg: str) -> httpx.Response:
    return httpx.Response(200, text=envelope(code=code, msg=msg, data=None, request_id="req-err"))
