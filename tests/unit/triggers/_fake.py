"""A scripted fake Xportcn for async tests: a real local HTTP server (``tests/unit/_http_script.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .._http_script import Answer, ScriptServer
from .._support import ACCESS_KEY, USER_ID, envelope, fresh_secret, lower_headers, md5_signature

__all__ = [
    "ACCESS_KEY",
    "USER_ID",
    "FakeXportcn",
    "envelope",
    "error_reply",
    "fresh_secret",
    "lower_headers",
    "md5_signature",
    "status",
]


@dataclass
class _Sessions:
    """The pooled sessions the code under test opened (the real ones, only counted)."""

    opened: list[aiohttp.ClientSession] = field(default_factory=list)


class FakeXportcn(ScriptServer):
    """Answers requests from a script (last entry repeats), records them, counts the sessions."""

    def __init__(self) -> None:
        super().__init__()
        self._sessions = _Sessions()

    @property
    def clients(self) -> list[aiohttp.ClientSession]:
        return self._sessions.opened

    @property
    def clients_created(self) -> int:
        return len(self._sessions.opened)


def status(value: Any, **extra: Any) -> dict[str, Any]:
    return {"refundId": "TQ1", "status": value, **extra}


def error_reply(code: int, msg: str) -> Answer:
    return Answer(200, envelope(code=code, msg=msg, data=None, request_id="req-err"))
