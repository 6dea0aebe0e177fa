"""``SandboxHandle``: everything a test needs to point code at a running sandbox.

The URL, the credentials, a ready Airflow connection (URI and JSON forms) and a control client.
Built from host, port and credentials only, so the pytest plugin, the CLI and ``make demo`` all
hand out the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from xportcn_provider.sandbox.client import SandboxControl
from xportcn_provider.sandbox.defaults import API_PREFIX, CONTROL_PREFIX, SandboxCredentials

#: Same value as ``xportcn_provider.connection.DEFAULT_CONN_ID``, repeated because the sandbox
#: imports nothing of the provider outside ``xportcn_provider.api``.
DEFAULT_CONN_ID = "xportcn_default"


@dataclass
class SandboxHandle:
    """A running sandbox as seen by a client."""

    host: str
    port: int
    access_key: str
    access_secret: str = field(repr=False)
    user_id: str
    control: SandboxControl = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.control = SandboxControl(self.base_url)

    @classmethod
    def for_server(cls, host: str, port: int, credentials: SandboxCredentials) -> SandboxHandle:
        return cls(host, port, credentials.access_key, credentials.access_secret, credentials.user_id)

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the control API lives under ``/_sandbox``)."""
        return f"http://{self._netloc}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/api``: a connection's host."""
        return self.base_url + API_PREFIX

    @property
    def console_url(self) -> str:
        """The sandbox's console pages (``/_sandbox/console``): where the task links point."""
        return self.base_url + CONTROL_PREFIX + "/console"

    @property
    def conn_uri(self) -> str:
        """``xportcn://<key>:<secret>@127.0.0.1:<port>/api?user_id=<id>&protocol=http&console_url=…``."""
        key, secret = quote(self.access_key, safe=""), quote(self.access_secret, safe="")
        user = quote(self.user_id, safe="")
        console = quote(self.console_url, safe="")
        return (
            f"xportcn://{key}:{secret}@{self._netloc}{API_PREFIX}?user_id={user}&protocol=http"
            f"&console_url={console}"
        )

    @property
    def conn_json(self) -> str:
        """The connection as Airflow's JSON form (for ``AIRFLOW_CONN_<ID>``)."""
        return json.dumps(
            {
                "conn_type": "xportcn",
                "host": self.url,
                "login": self.access_key,
                "password": self.access_secret,
                "extra": {"user_id": self.user_id, "console_url": self.console_url},
            }
        )

    def env(self, conn_id: str = DEFAULT_CONN_ID) -> dict[str, str]:
        """``{"AIRFLOW_CONN_<ID>": conn_json}``: feed to ``monkeypatch.setenv`` or a subprocess."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.conn_json}
