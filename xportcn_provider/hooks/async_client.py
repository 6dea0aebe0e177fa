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

The connection itself is read once per (loop, connection) and kept for :data:`CONFIG_TTL`
seconds (:func:`connection_config`): a thousand triggers starting together share one read instead
of a thousand round trips to the triggerer's supervisor, and an edited connection is picked up
by waits that start a minute later at most.

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
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from xportcn_provider.api.client import ClientSettings, new_session

if TYPE_CHECKING:  # aiohttp itself is loaded when a session is first opened (DAG-parse cost)
    import aiohttp

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

#: Seconds a connection read by one trigger serves the others of the same loop.
CONFIG_TTL = 60.0

_T = TypeVar("_T")
_CONFIGS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, tuple[float, asyncio.Future[object]]]
] = weakref.WeakKeyDictionary()


async def connection_config(conn_id: str, read: Callable[[], Awaitable[_T]]) -> _T:
    """``await read()`` for ``conn_id`` at most once per :data:`CONFIG_TTL` seconds on this loop.

    Callers that arrive while a read is in flight wait for it rather than starting their own; a
    failed read is not kept (every waiter gets its error, the next caller reads again).
    """
    loop = asyncio.get_running_loop()
    configs = _CONFIGS.setdefault(loop, {})
    now = time.monotonic()
    hit = configs.get(conn_id)
    if hit is not None and now - hit[0] < CONFIG_TTL:
        future = hit[1]
        if future.done():  # the common case: read a moment ago
            if future.exception() is None:
                return cast(_T, future.result())
        else:  # shielded: a waiter cancelled must not cancel the read the others wait for
            return cast(_T, await asyncio.shield(future))
    future = loop.create_future()
    configs[conn_id] = (now, future)
    try:
        value = await read()
    except BaseException as err:
        if configs.get(conn_id, (0.0, None))[1] is future:
            del configs[conn_id]
        future.set_exception(err)
        future.exception()  # retrieved here, so an error nobody else awaited is not reported
        raise
    future.set_result(value)
    return value


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
