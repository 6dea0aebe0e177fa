"""Constants and helpers for the sensor unit tests (self-contained, no Airflow import)."""

from __future__ import annotations

import json
import uuid
from typing import Any

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
