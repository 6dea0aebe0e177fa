"""``XportcnPlugin``: the push receiver and the monitoring pages, on the api-server at ``/xportcn``.

Registered through the ``airflow.plugins`` entry point in ``pyproject.toml`` (the provider-info
``plugins`` key would only be read with ``[core] lazy_discover_providers = False``).

Every Airflow component imports plugins, but only the api-server serves FastAPI apps, so the app
(and FastAPI itself) is only built there; schedulers, triggerers and workers get a plugin whose
only content is the two ``external_views`` entries the UI reads from the api-server.

* ``POST /xportcn/push/{conn_id}/{token}`` — push messages -> asset events (no login; token).
* ``GET /xportcn/ui/`` — the "Xportcn" page in the UI's Browse menu (login required).
* ``GET /xportcn/ui/task?dag_id=…`` — the "Xportcn" tab of a task instance (login required).
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

PLUGIN_NAME = "xportcn"
URL_PREFIX = "/xportcn"


def _on_api_server() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "api-server"


def _base_path() -> str:
    """The path of ``[api] base_url`` (``""`` unless Airflow is served under a prefix)."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def fastapi_apps() -> list[dict[str, Any]]:
    """The plugin's FastAPI app: the push receiver plus the monitoring router."""
    from xportcn_provider.plugins.monitor import monitor_router
    from xportcn_provider.plugins.push import create_push_app

    app = create_push_app()
    app.include_router(monitor_router())
    return [{"app": app, "url_prefix": URL_PREFIX, "name": "Xportcn push receiver and monitoring"}]


def external_views() -> list[dict[str, Any]]:
    """The nav page and the task-instance tab (rendered by the UI in an iframe via ``url_route``)."""
    base = f"{_base_path()}{URL_PREFIX}/ui"
    return [
        {
            "name": "Xportcn",
            "href": f"{base}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "xportcn",
        },
        {
            "name": "Xportcn",
            "href": f"{base}/task?dag_id={{DAG_ID}}&run_id={{RUN_ID}}"
            "&task_id={TASK_ID}&map_index={MAP_INDEX}",
            "destination": "task_instance",
            "url_route": "xportcn_task",
        },
    ]


class XportcnPlugin(AirflowPlugin):
    """The Xportcn provider's plugin (push receiver and monitoring pages on the api-server)."""

    name = PLUGIN_NAME
    fastapi_apps = fastapi_apps() if _on_api_server() else []
    external_views = external_views()
