"""Moving Xportcn data into other systems (the Airflow ``transfers`` convention).

``from xportcn_provider.transfers import XportcnOrdersToStorageOperator``
"""

from __future__ import annotations

from xportcn_provider.transfers.orders_to_storage import XportcnOrdersToStorageOperator

__all__ = ["XportcnOrdersToStorageOperator"]
