"""What each catalogue endpoint does: validate the body, change the store, answer ``data``.

One module per domain; each handler registers itself in :data:`HANDLERS` under its catalogue
name. The generic checks (auth, required fields) have run before a handler is called; a handler
checks types and values and raises :class:`~xportcn_provider.sandbox.failures.ApiFailure` with a
message naming the field.
"""

from xportcn_provider.sandbox.handlers import (  # noqa: F401  (importing registers the handlers)
    after_sale,
    basics,
    logistics,
    orders,
    products,
    taobao,
    warehouse,
)
from xportcn_provider.sandbox.handlers.orders import new_order
from xportcn_provider.sandbox.handlers.registry import HANDLERS, Body, Context, Handler, missing_handlers

__all__ = ["HANDLERS", "Body", "Context", "Handler", "missing_handlers", "new_order"]
