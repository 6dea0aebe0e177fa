"""The small adapter between a validated push message and Airflow: token lookup and asset events.

Runs inside the api-server process (the plugin's FastAPI app), which has Airflow's metadata DB
configured. Everything it decides comes from :mod:`xportcn_provider.api.messages`; this module
only reads the connection, keeps receipts and makes the one call into Airflow's asset machinery
(:func:`emit_asset_event`).

**Receipts.** One row per distinct message in the table ``xportcn_push_receipt`` (created on
first use; it lives beside Airflow's tables and is not one of them). A unique key on
``(conn_id, message_key)`` makes redelivery safe across threads, api-server workers and
database backends: the second insert of the same message fails inside the same transaction that
would have created its event, so two racing deliveries yield exactly one event. The newest
``sent_at_ms`` per object decides whether a late message is ``stale``. Rows older than
:data:`~xportcn_provider.api.messages.RECEIPT_RETENTION_SECONDS` are pruned now and then, far
beyond the 3-hour redelivery window.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.messages import (
    RECEIPT_RETENTION_SECONDS,
    PushMessage,
    asset_uri,
    is_stale,
)
from xportcn_provider.connection import CONN_TYPE, push_token_of

log = logging.getLogger(__name__)

_metadata = sa.MetaData()
RECEIPTS = sa.Table(
    "xportcn_push_receipt",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conn_id", sa.String(250), nullable=False),
    sa.Column("message_key", sa.String(64), nullable=False),
    sa.Column("object_key", sa.String(400), nullable=False),
    sa.Column("message_type", sa.String(100), nullable=False),
    sa.Column("sent_at_ms", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.UniqueConstraint("conn_id", "message_key", name="xportcn_push_receipt_message_uq"),
    sa.Index("xportcn_push_receipt_object_idx", "conn_id", "object_key", "sent_at_ms"),
    sa.Index("xportcn_push_receipt_received_idx", "received_at"),
)

_table_ready = False
_table_lock = threading.Lock()
_last_prune = 0.0
PRUNE_EVERY_SECONDS = 600.0
_write_lock = threading.Lock()


def ensure_receipts_table() -> None:
    """Create the receipts table if it is missing (idempotent; once per process)."""
    global _table_ready
    if _table_ready:
        return
    from airflow import settings

    with _table_lock:
        if not _table_ready:
            engine = settings.engine or settings.get_engine()
            RECEIPTS.create(bind=engine, checkfirst=True)
            _table_ready = True


#: Seconds a connection's push token is cached by the receiver (a rotated token applies after this).
TOKEN_CACHE_SECONDS = 10.0
_token_cache: dict[str, tuple[float, str | None]] = {}
#: Connection ids cached at most (a prober inventing ids cannot grow the cache without bound).
_TOKEN_CACHE_MAX = 256


def connection_push_token(conn_id: str) -> str | None:
    """The push token of an ``xportcn`` connection; ``None`` for anything that must answer 404.

    Unknown connection, another connection type, no token, or a token shorter than 32
    characters all give ``None``, so the caller cannot tell them apart (nor can a prober).
    Cached for :data:`TOKEN_CACHE_SECONDS` so a burst of pushes reads the connection once.
    """
    now = time.monotonic()
    cached = _token_cache.get(conn_id)
    if cached is not None and now - cached[0] < TOKEN_CACHE_SECONDS:
        return cached[1]
    token = _read_push_token(conn_id)
    if len(_token_cache) >= _TOKEN_CACHE_MAX:
        _token_cache.clear()
    _token_cache[conn_id] = (now, token)
    return token


def cached_push_token(conn_id: str) -> tuple[bool, str | None]:
    """``(True, token)`` when a fresh cache entry exists (no I/O), else ``(False, None)``."""
    cached = _token_cache.get(conn_id)
    if cached is not None and time.monotonic() - cached[0] < TOKEN_CACHE_SECONDS:
        return True, cached[1]
    return False, None


def _read_push_token(conn_id: str) -> str | None:
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    if conn.conn_type != CONN_TYPE:
        return None
    try:
        return push_token_of(conn.extra_dejson)
    except XportcnValidationError:
        log.warning("Xportcn connection %r has a push token shorter than 32 characters; refusing", conn_id)
        return None


def emit_asset_event(session: Session, *, uri: str, extra: dict[str, Any]) -> int | None:
    """The one call into Airflow's asset machinery: an event on the asset ``uri`` (name = uri).

    Returns the new event's id, or ``None`` when no DAG has declared the asset yet (Airflow only
    knows assets that a parsed DAG references; it logs a warning and records nothing).
    """
    from airflow.assets.manager import asset_manager
    from airflow.serialization.definitions.assets import SerializedAssetUniqueKey

    event = asset_manager.register_asset_change(
        asset=SerializedAssetUniqueKey(name=uri, uri=uri), extra=extra, session=session
    )
    return None if event is None else int(event.id)


@dataclass(frozen=True)
class Recorded:
    """What happened to one delivery."""

    duplicate: bool
    stale: bool = False
    asset_uri: str | None = None
    asset_event_id: int | None = None


def record_push(conn_id: str, message: PushMessage) -> Recorded:
    """Record one delivery in one short transaction: a receipt, then (if new) one asset event."""
    from airflow.utils.session import create_session

    ensure_receipts_table()
    uri = asset_uri(conn_id, message.kind)
    now = time.time()
    # One writer at a time per api-server process: concurrent pushes queue here (FIFO-ish, no
    # cost) instead of in SQLite's busy handler, whose growing back-off sleeps turned a burst
    # into multi-second answers and "database is locked" errors. Across processes and on other
    # databases the unique key still decides.
    with _write_lock, create_session(scoped=False) as session:
        try:
            inserted = session.execute(
                RECEIPTS.insert().values(
                    conn_id=conn_id,
                    message_key=message.message_key,
                    object_key=message.object_key,
                    message_type=message.message_type,
                    sent_at_ms=message.sent_at_ms,
                    received_at=now,
                )
            )
        except IntegrityError:
            session.rollback()  # the insert was the transaction's first write: nothing else is lost
            return Recorded(duplicate=True, asset_uri=uri)
        receipt_id = inserted.inserted_primary_key[0]  # type: ignore[attr-defined]
        # Read after our own insert: on SQLite the insert holds the write lock, so a concurrent
        # delivery about the same object is either fully before us or fully after us.
        newest = session.scalar(
            sa.select(sa.func.max(RECEIPTS.c.sent_at_ms)).where(
                RECEIPTS.c.conn_id == conn_id,
                RECEIPTS.c.object_key == message.object_key,
                RECEIPTS.c.id != receipt_id,
            )
        )
        stale = is_stale(message.sent_at_ms, newest)
        event_id = emit_asset_event(session, uri=uri, extra=message.event_extra(conn_id=conn_id, stale=stale))
        _maybe_prune(session, now)
    return Recorded(duplicate=False, stale=stale, asset_uri=uri, asset_event_id=event_id)


def _maybe_prune(session: Session, now: float) -> None:
    """Delete receipts past retention, at most once per :data:`PRUNE_EVERY_SECONDS` per process."""
    global _last_prune
    if now - _last_prune < PRUNE_EVERY_SECONDS:
        return
    _last_prune = now
    session.execute(RECEIPTS.delete().where(RECEIPTS.c.received_at < now - RECEIPT_RETENTION_SECONDS))
