"""``XportcnApiOperator``: call any catalogue endpoint by name.

For endpoints without a dedicated operator (product search, categories, Taobao search...) or
fields the typed operators do not know yet. The endpoint name is checked against the catalogue
before any call; the payload is sent as given (plus nothing else), and ``paginate=True`` walks a
list endpoint page by page, guarded by ``max_items`` so a forgotten filter cannot pull a whole
shop into XCom.

A write sent through it is guarded across Airflow retries by :mod:`.write_guard` (a "sent" mark
in ``task_state_store``, the endpoint's look-up, or a clear failure instead of a second send).
The dedicated operators still know more (caller keys derived from the task, the objects they
reconnect to), so prefer them for creating things.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xportcn_provider.api.endpoints import CATALOGUE, ENDPOINT_NAMES
from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.statuses import client_side_status_filter, row_has_status
from xportcn_provider.operators.base import (
    XportcnBaseOperator,
)
from xportcn_provider.operators.validation import (
    optional_bool,
    optional_mapping,
    require_choice,
    require_positive_int,
)
from xportcn_provider.operators.write_guard import ON_UNKNOWN_OUTCOME, send_write

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_MAX_ITEMS = 10_000
MAX_PAGE_SIZE = 100


class XportcnApiOperator(XportcnBaseOperator):
    """Call one Xportcn endpoint by catalogue name; returns the envelope's ``data``.

    :param endpoint: a catalogue name, e.g. ``"product_search"`` (templated).
    :param payload: the JSON body (templated); for ``GET`` endpoints, the query parameters.
    :param paginate: walk every page of a list endpoint and return the list of items. A
        ``status`` in the payload of ``order_list`` or ``taobao_order_list`` is then applied to
        the rows, not sent: a server-side status filter skips a row whenever an order changes
        status while the pages are read.
    :param page_size: items per page when paginating (1-100).
    :param max_items: fail instead of collecting more than this many items (default 10 000).
    :param on_unknown_outcome: for a write endpoint, what a retry does when an earlier try sent
        the same write and its outcome is unknown and cannot be looked up: ``"fail"`` (default,
        names what to check in the console) or ``"resend"`` (relies on the service refusing a
        repeat). Endpoints with a look-up never need it unless the look-up cannot decide.

    XCom: return value = ``data`` (or the item list); key ``request_id`` = the last requestId.
    """

    template_fields: Sequence[str] = (*XportcnBaseOperator.template_fields, "endpoint", "payload")
    template_fields_renderers = {"payload": "json", "extra": "json"}

    def __init__(
        self,
        *,
        endpoint: str,
        payload: Mapping[str, Any] | str | None = None,
        paginate: bool = False,
        page_size: int = 50,
        max_items: int = DEFAULT_MAX_ITEMS,
        on_unknown_outcome: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_unknown_outcome = on_unknown_outcome
        self.endpoint = endpoint
        self.payload = payload
        self.paginate = paginate
        self.page_size = page_size
        self.max_items = max_items

    def build_request(self) -> dict[str, Any]:
        if not isinstance(self.endpoint, str) or self.endpoint.strip() not in CATALOGUE:
            raise XportcnValidationError(
                f"endpoint: {self.endpoint!r} is not a catalogue endpoint name. "
                f"Valid names: {', '.join(ENDPOINT_NAMES)}.",
                parameter="endpoint",
            )
        endpoint = CATALOGUE[self.endpoint.strip()]
        payload = optional_mapping(self.payload, "payload") or {}
        extra = self.extra_body() or {}
        clash = sorted(set(payload) & set(extra))
        if clash:
            raise XportcnValidationError(
                f"extra: repeats {', '.join(clash)}, already in payload.", parameter="extra"
            )
        payload.update(extra)
        for field in endpoint.required:
            if payload.get(field) in (None, "", [], {}):
                raise XportcnValidationError(
                    f"payload: {endpoint.name} needs {field!r}.", parameter="payload", endpoint=endpoint.name
                )
        paginate = optional_bool(self.paginate, "paginate")
        if paginate and not endpoint.paginated:
            paginated = sorted(e.name for e in CATALOGUE.values() if e.paginated)
            raise XportcnValidationError(
                f"paginate: {endpoint.name} is not a list endpoint; paginated ones: {', '.join(paginated)}.",
                parameter="paginate",
            )
        self._paginate = paginate
        self._keep_statuses: frozenset[str] | None = None
        if paginate:  # a status filter is applied to the rows, not sent (see client_side_status_filter)
            payload, self._keep_statuses = client_side_status_filter(endpoint.name, payload)
        self._page_size = require_positive_int(self.page_size, "page_size")
        if self._page_size > MAX_PAGE_SIZE:
            raise XportcnValidationError(
                f"page_size: must be at most {MAX_PAGE_SIZE}, got {self._page_size}.", parameter="page_size"
            )
        self._max_items = require_positive_int(self.max_items, "max_items")
        self._resend = (
            require_choice(self.on_unknown_outcome, "on_unknown_outcome", ON_UNKNOWN_OUTCOME) == "resend"
        )
        return {"payload": payload, "endpoint": endpoint.name}

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        name, payload = request["endpoint"], request["payload"]
        if not self._paginate:
            if CATALOGUE[name].read_only:
                envelope = self.hook.call_envelope(name, payload)
                data, request_id = envelope.data, envelope.request_id
            else:
                data, request_id = send_write(self, context, name, payload, resend=self._resend)
            self.push(context, request_id=request_id)
            self.log_action(name, {k: v for k, v in payload.items() if k.endswith(("Id", "_id"))}, "ok")
            return data
        items: list[Any] = []
        for item in self.hook.paginate(name, payload, page_size=self._page_size):
            if self._keep_statuses is not None and not row_has_status(item, name, self._keep_statuses):
                continue
            if len(items) >= self._max_items:
                raise XportcnValidationError(
                    f"max_items: {name} has more than {self._max_items} items; narrow the filters in "
                    "payload or raise max_items.",
                    parameter="max_items",
                    endpoint=name,
                )
            items.append(item)
        self.push(context, request_id=self.hook.last_request_id)
        self.log_action(name, {"page_size": self._page_size}, f"{len(items)} item(s) over all pages")
        return items


__all__ = ["XportcnApiOperator"]
