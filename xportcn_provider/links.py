"""Extra links to the Xportcn console, and the one table of console URL patterns.

In Airflow 3 extra links are resolved from the serialized DAG (the API server never sees the
operator instance), so a link cannot read operator attributes: the operator pushes the finished
URL to XCom under an explicit key **before any wait**, and the link only reads that XCom back.
The worker also evaluates every link once when the task ends and stores the result, so a link
works even when the remote wait later fails.

The console paths are the provider's best guess (the contract documents the API, not the web
console); they live in :data:`xportcn_provider.api.console.CONSOLE_PATHS` (re-exported here) and
nowhere else, and the console's base URL comes from the connection's ``extra.console_url``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

from xportcn_provider.api.console import CONSOLE_PATHS, console_link

__all__ = [
    "CONSOLE_PATHS",
    "URL_XCOM_KEYS",
    "XportcnLogisticsLink",
    "XportcnOrderLink",
    "XportcnPackageLink",
    "XportcnRefundLink",
    "XportcnXComLink",
    "console_link",
]

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.definitions.context import Context
    from airflow.sdk.types import TaskInstanceKey

#: XCom key holding the console URL of each kind of object (the links read these keys).
URL_XCOM_KEYS: Mapping[str, str] = {
    "order": "order_url",
    "taobao_order": "order_url",
    "refund": "refund_url",
    "logistics": "logistics_url",
    "package": "package_url",
    "address": "address_url",
}


class XportcnXComLink(BaseOperatorLink):
    """A link whose URL an operator pushed to XCom under :attr:`url_key`."""

    name = "Xportcn"
    url_key: ClassVar[str] = ""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        value = XCom.get_value(key=self.url_key, ti_key=ti_key)
        return value if isinstance(value, str) else ""

    @classmethod
    def persist(cls, context: Context | Mapping[str, Any], url: str) -> None:
        """Push ``url`` under this link's key (what the operators call before waiting)."""
        context["ti"].xcom_push(key=cls.url_key, value=url)


class XportcnOrderLink(XportcnXComLink):
    """The 1688 or Taobao order in the Xport console."""

    name = "Xportcn Order"
    url_key = URL_XCOM_KEYS["order"]


class XportcnRefundLink(XportcnXComLink):
    """The after-sale (refund) record in the Xport console."""

    name = "Xportcn Refund"
    url_key = URL_XCOM_KEYS["refund"]


class XportcnLogisticsLink(XportcnXComLink):
    """The international logistics order in the Xport console."""

    name = "Xportcn Logistics"
    url_key = URL_XCOM_KEYS["logistics"]


class XportcnPackageLink(XportcnXComLink):
    """The warehouse package in the Xport console."""

    name = "Xportcn Package"
    url_key = URL_XCOM_KEYS["package"]


ALL_LINKS: tuple[type[XportcnXComLink], ...] = (
    XportcnOrderLink,
    XportcnRefundLink,
    XportcnLogisticsLink,
    XportcnPackageLink,
)
