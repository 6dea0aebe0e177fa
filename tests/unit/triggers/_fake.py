"""A scripted fake Xportcn for async tests (an ``httpx.MockTransport`` handler)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

#: The contract's test-vector access key (§1.1) and a user id; any values would do.
ACCESS_KEY = "58c0201dfdf148eca63cbf6bb5e7cf03"
USER_ID = "2100008388036"
BASE_URL = "https://api.xportcn.test/api"


def fresh_secret() -> str:
    """A secret no other test has used (Airflow's masker is process-global)."""
    return f"XpSecret-{uuid.uuid4().hex}"


def envelope(code: Any = 200, msg: str | None = "成功", data: Any = None, request_id: str = "req-1") -> str:
    """An Xportcn answer body."""
    return json.dumps(
        {"requestId": request_id, "code": code, "developId": "1356764224096829747", "msg": msg, "data": data},
        ensure_ascii=False,
    )


def md5_signature(access_key: str, timestamp: str, nonce: str, secret: str) -> str:
    """The contract's signature rule, re-implemented independently of the code under test."""
    return hashlib.md5((access_key + timestamp + nonce + secret).encode("utf-8")).hexdigest().upper()


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


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
