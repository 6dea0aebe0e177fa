"""One pooled ``aiohttp.ClientSession`` per (event loop, connection id), shared by every trigger.

A triggerer runs hundreds or thousands of triggers in one event loop. If each opened its own
session (or worse, one per poll, as ``HttpSensorTrigger`` does) every poll would pay a TCP + TLS
handshake and the server would see thousands of sockets. Instead, triggers that use the same
Airflow connection borrow one session whose connector is bounded (``extra.max_connections``,
default 10), so the number of sockets stays small however many triggers wait at once.

Next to the session lives its *gate*, an ``asyncio.Semaphore`` of the same size: a request
waits on it before it is signed, so a poll that queued behind a thousand others still leaves
with a fresh timestamp (see :class:`~xportcn_provider.api.client.AsyncXportcnClient`), and
aiohttp's own connection queue stays empty.

Sessions are reference counted: the first borrower opens the session, the last one to give it
back closes it (shielded from cancellation, so a cancelled trigger still closes its sockets).
aiohttp sessions belong to the loop they were opened on, so the key includes the loop. A loop
that was closed while it still had borrowers (it never ran their ``finally``) is found on the
next borrow and its sessions are detached and their sockets dropped, so neither "Unclosed client
session" nor "Unclosed connector" is reported for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from xportcn_provider.api.client import ClientSettings, new_session

log = logging.getLogger(__name__)


@dataclass
class SharedSession:
    """A loop's session for one connection, its request gate and how many borrowers hold it."""

    session: aiohttp.ClientSession
    gate: asyncio.Semaphore
    max_connections: int
    users: int = 0


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedSession]] = (
    weakref.WeakKeyDictionary()
)


def _new_session(settings: ClientSettings) -> aiohttp.ClientSession:
    """Open one pooled session (a seam: tests wrap it to count the sessions opened)."""
    return new_session(settings)


def _abandon(shared: SharedSession) -> None:
    """Forget a session whose loop is closed: it cannot be awaited closed any more.

    Its sockets are aborted directly (their loop is gone, so ``close`` would schedule on a dead
    loop) and the session detached, which marks it closed without touching that loop.
    """
    connector = shared.session.connector
    shared.session.detach()
    if connector is None:
        return
    with contextlib.suppress(Exception):
        for protocols in list(getattr(connector, "_conns", {}).values()):
            for protocol, _ in protocols:
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    with contextlib.suppress(Exception):
                        transport.abort()
        connector._conns.clear()
    with contextlib.suppress(Exception):
        connector._closed = True


def _loop_pool(loop: asyncio.AbstractEventLoop) -> dict[str, SharedSession]:
    for other in [lp for lp in _POOLS if lp.is_closed()]:
        for shared in _POOLS.pop(other, {}).values():
            _abandon(shared)
    return _POOLS.setdefault(loop, {})


@contextlib.asynccontextmanager
async def shared_session(conn_id: str, settings: ClientSettings) -> AsyncIterator[SharedSession]:
    """Borrow the running loop's session for ``conn_id``; the last borrower to leave closes it.

    ``settings.max_connections`` and ``settings.timeout`` shape the session only when this call
    opens it (the first borrower decides; every attempt still passes its own timeout).
    """
    loop = asyncio.get_running_loop()
    pool = _loop_pool(loop)
    shared = pool.get(conn_id)
    if shared is None or shared.session.closed:
        shared = SharedSession(
            _new_session(settings), asyncio.Semaphore(settings.max_connections), settings.max_connections
        )
        pool[conn_id] = shared
        log.debug("Opened the shared Xportcn HTTP session for connection %r", conn_id)
    shared.users += 1
    try:
        yield shared
    finally:
        shared.users -= 1
        if shared.users <= 0:
            if pool.get(conn_id) is shared:
                del pool[conn_id]
            await asyncio.shield(shared.session.close())
            log.debug("Closed the shared Xportcn HTTP session for connection %r", conn_id)


def pool_stats() -> dict[str, int]:
    """For tests and debugging: open shared sessions and borrowers, over every live loop."""
    sessions = users = 0
    for loop, pool in list(_POOLS.items()):
        if loop.is_closed():
            continue
        sessions += len(pool)
        users += sum(shared.users for shared in pool.values())
    return {"clients": sessions, "users": users}
