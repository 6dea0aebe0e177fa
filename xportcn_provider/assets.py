"""The Airflow assets the provider updates: one per connection and kind of pushed message.

The push receiver (``xportcn_provider.plugins``) records each accepted Xport message as one
asset event on ``xportcn://<conn_id>/orders`` or ``xportcn://<conn_id>/refunds``; a DAG is
scheduled on them with::

    from xportcn_provider.assets import order_messages, refund_messages

    @dag(schedule=order_messages() | refund_messages())
    def on_xportcn_message(): ...

Each event's ``extra`` is the normalised message (see ``PushMessage.event_extra`` in
:mod:`xportcn_provider.api.messages` and the README's "Push messages").

The ``xportcn`` scheme is registered in the provider info (``asset-uris``) with
:func:`sanitize_uri` as its handler, so Airflow rejects a malformed ``xportcn://`` URI when a DAG
file is parsed instead of silently scheduling on an asset nobody updates.

:func:`order_partitions` is the other kind: the folder ``XportcnOrdersToStorageOperator`` writes
daily order partitions into (a ``file://``, ``s3://``, … URI, not ``xportcn://``).
"""

from __future__ import annotations

from urllib.parse import SplitResult

from airflow.sdk import Asset

from xportcn_provider.api.messages import KIND_ORDERS, KIND_REFUNDS, KINDS, asset_uri, valid_conn_id
from xportcn_provider.connection import DEFAULT_CONN_ID


def message_asset(kind: str, conn_id: str = DEFAULT_CONN_ID) -> Asset:
    """The asset updated by ``conn_id``'s pushed messages of ``kind`` (``orders`` or ``refunds``)."""
    uri = asset_uri(conn_id, kind)
    return Asset(name=uri, uri=uri, group="xportcn")


def order_messages(conn_id: str = DEFAULT_CONN_ID) -> Asset:
    """``xportcn://<conn_id>/orders``: one event per pushed order message (1688 and Taobao)."""
    return message_asset(KIND_ORDERS, conn_id)


def refund_messages(conn_id: str = DEFAULT_CONN_ID) -> Asset:
    """``xportcn://<conn_id>/refunds``: one event per pushed refund message."""
    return message_asset(KIND_REFUNDS, conn_id)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``xportcn://``: ``<conn_id>`` as host and ``/orders`` or ``/refunds``."""
    kind = uri.path.strip("/")
    if not uri.netloc or not valid_conn_id(uri.netloc):
        raise ValueError(f"xportcn asset URI needs a connection id as its host: xportcn://<conn_id>/{kind}")
    if kind not in KINDS:
        raise ValueError(f"xportcn asset URI path must be one of /{', /'.join(KINDS)}, got {uri.path!r}")
    if uri.query:
        raise ValueError("xportcn asset URI takes no query string")
    return uri._replace(path=f"/{kind}")


def order_partitions(destination: object) -> Asset:
    """The Asset ``XportcnOrdersToStorageOperator`` updates by default for ``destination``.

    Same URL normalisation as the operator (``/data/orders/`` → ``file:///data/orders``, a
    connection id in the URL dropped), so a downstream DAG can write
    ``schedule=[order_partitions("s3://bucket/orders")]`` without spelling the URI by hand.
    Each event's ``extra`` lists the partitions the run wrote (see ``docs/operators.md``).
    """
    from xportcn_provider.transfers.storage import destination_url

    return Asset(uri=destination_url(destination))
