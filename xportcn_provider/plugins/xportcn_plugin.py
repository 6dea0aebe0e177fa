"""``XportcnPlugin``: mounts the push receiver on the api-server at ``/xportcn``.

Registered through the ``airflow.plugins`` entry point in ``pyproject.toml`` (the provider-info
``plugins`` key would only be read with ``[core] lazy_discover_providers = False``).

Every Airflow component imports plugins, but only the api-server serves FastAPI apps, so the app
(and FastAPI itself) is only built there; schedulers, triggerers and workers get an empty
plugin that costs nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from airflow.plugins_manager import AirflowPlugin

PLUGIN_NAME = "xportcn"


def _on_api_server() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "api-server"


def fastapi_apps() -> list[dict[str, Any]]:
    """The plugin's FastAPI apps: the push receiver."""
    from xportcn_provider.plugins.push import URL_PREFIX, create_push_app

    return [{"app": create_push_app(), "url_prefix": URL_PREFIX, "name": "Xportcn push receiver"}]


class XportcnPlugin(AirflowPlugin):
    """The Xportcn provider's plugin (push receiver on the api-server)."""

    name = PLUGIN_NAME
    fastapi_apps = fastapi_apps() if _on_api_server() else []
