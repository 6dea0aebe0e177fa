"""The one table of Xport console pages, without Airflow: links (``links.py``) and the sandbox's
own console pages (``sandbox/control.py``) both read it, so a sandbox link always resolves.

The console paths are the provider's best guess (the contract documents the API, not the web
console); the console's base URL comes from the connection's ``extra.console_url``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

#: Console page of each remote object, relative to ``console_url``; ``{id}`` is URL-quoted.
CONSOLE_PATHS: Mapping[str, str] = {
    "order": "/order/detail?orderId={id}",
    "taobao_order": "/purchase/detail?orderId={id}",
    "refund": "/refund/detail?refundId={id}",
    "logistics": "/logistics/detail?logisticsOrderId={id}",
    "package": "/wms/package/detail?outOrderId={id}",
    "address": "/address/list?id={id}",
}


def console_link(console_url: str, kind: str, object_id: object) -> str:
    """The console URL of one object; ``kind`` is a key of :data:`CONSOLE_PATHS`."""
    try:
        pattern = CONSOLE_PATHS[kind]
    except KeyError:
        raise ValueError(f"No console URL pattern for {kind!r}; known: {', '.join(CONSOLE_PATHS)}.") from None
    return console_url.rstrip("/") + pattern.format(id=quote(str(object_id), safe=""))


def console_route(kind: str) -> tuple[str, str]:
    """``(path, id query parameter)`` of a kind's page, e.g. ``("/order/detail", "orderId")``."""
    path, _, query = CONSOLE_PATHS[kind].partition("?")
    return path, query.split("=", 1)[0]
