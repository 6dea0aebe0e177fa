"""The sandbox's documented defaults: credentials, addresses, prefixes and environment names.

The credentials are public on purpose (they are in the README): the sandbox only ever runs on a
developer's machine or in CI, and a fixed triple lets a user paste one connection string and go.
Every value can be replaced by a CLI flag or an ``XPORTCN_SANDBOX_*`` environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_ACCESS_KEY = "58c0201dfdf148eca63cbf6bb5e7cf03"
DEFAULT_ACCESS_SECRET = "sandbox-secret-change-me"
DEFAULT_USER_ID = "2100008388036"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

ENV_ACCESS_KEY = "XPORTCN_SANDBOX_ACCESS_KEY"
ENV_ACCESS_SECRET = "XPORTCN_SANDBOX_ACCESS_SECRET"
ENV_USER_ID = "XPORTCN_SANDBOX_USER_ID"

#: Where the catalogue is served: a connection's host is ``http://<host>:<port>/api``.
API_PREFIX = "/api"
#: The unsigned control API (reset, seed, force, faults, call log).
CONTROL_PREFIX = "/_sandbox"

#: ``developId`` in every envelope (the contract's example value).
DEVELOP_ID = "1356764224096829747"


@dataclass(frozen=True)
class SandboxCredentials:
    """The one access key / secret / user id triple the sandbox accepts (secret kept out of repr)."""

    access_key: str = DEFAULT_ACCESS_KEY
    access_secret: str = field(default=DEFAULT_ACCESS_SECRET, repr=False)
    user_id: str = DEFAULT_USER_ID

    def __post_init__(self) -> None:
        for name in ("access_key", "access_secret", "user_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"sandbox credentials: {name} must be a non-empty string")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        access_key: str | None = None,
        access_secret: str | None = None,
        user_id: str | None = None,
    ) -> SandboxCredentials:
        """Explicit values win, then ``XPORTCN_SANDBOX_*`` variables, then the documented defaults."""
        env = os.environ if environ is None else environ
        return cls(
            access_key=access_key or env.get(ENV_ACCESS_KEY) or DEFAULT_ACCESS_KEY,
            access_secret=access_secret or env.get(ENV_ACCESS_SECRET) or DEFAULT_ACCESS_SECRET,
            user_id=user_id or env.get(ENV_USER_ID) or DEFAULT_USER_ID,
        )
