"""Constants and small helpers shared by the unit tests (no Airflow import here)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

#: The contract's test-vector access key (§1.1); any 32-hex string would do.
ACCESS_KEY = "58c0201dfdf148eca63cbf6bb5e7cf03"
USER_ID = "2100008388036"
BASE_URL = "https://api.xportcn.test/api"

#: Names of the five contract headers, spelled here independently of the code under test.
CONTRACT_HEADERS = ("access-key", "timestamp", "nonce-str", "user-id", "signature")


def fresh_secret() -> str:
    """A secret no other test has used (Airflow's masker is process-global)."""
    return f"XpSecret-{uuid.uuid4().hex}"


def md5_signature(access_key: str, timestamp: str, nonce: str, secret: str) -> str:
    """The contract's rule, re-implemented independently of ``xportcn_provider.api.signing``."""
    return hashlib.md5((access_key + timestamp + nonce + secret).encode("utf-8")).hexdigest().upper()


def envelope(code: Any = 200, msg: str | None = "成功", data: Any = None, request_id: str = "req-1") -> str:
    return json.dumps(
        {"requestId": request_id, "code": code, "developId": "1356764224096829747", "msg": msg, "data": data},
        ensure_ascii=False,
    )


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
