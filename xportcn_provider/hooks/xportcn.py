"""``XportcnHook``: an Airflow connection turned into a signed, retrying Xportcn client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.log import amask_secret, mask_secret

from xportcn_provider.api.client import AsyncXportcnClient, XportcnClient
from xportcn_provider.api.endpoints import resolve
from xportcn_provider.api.envelope import Envelope
from xportcn_provider.api.errors import XportcnAuthError, XportcnError, XportcnValidationError
from xportcn_provider.connection import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    XportcnConnectionConfig,
    push_token_of,
    read_connection,
)
from xportcn_provider.hooks.async_client import connection_config, shared_session
from xportcn_provider.hooks.endpoint_methods import XportcnEndpointMethods

if TYPE_CHECKING:
    from airflow.sdk import Connection


class XportcnHook(XportcnEndpointMethods, BaseHook):
    """Signed access to every Xportcn endpoint.

    Nothing is read in ``__init__`` (operators build hooks while DAG files are parsed); the
    connection is read once, on first use, and its secret handed to Airflow's masker at once.

    :param xportcn_conn_id: the Airflow connection (type ``xportcn``) to use.
    :param timeout: overrides the connection's ``extra.timeout`` (seconds per attempt).
    :param max_retries: overrides the connection's ``extra.max_retries`` (transient retries).
    """

    conn_name_attr = "xportcn_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Xportcn"

    def __init__(
        self,
        xportcn_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.xportcn_conn_id = xportcn_conn_id
        self._timeout = timeout
        self._max_retries = max_retries

    @cached_property
    def connection(self) -> Connection:
        """The Airflow connection, read once; its secret goes to the masker before anything else."""
        conn = self.get_connection(self.xportcn_conn_id)
        if conn.password:
            mask_secret(conn.password)
        return conn

    @cached_property
    def config(self) -> XportcnConnectionConfig:
        """The validated connection, read once (secret masked before anything can log it)."""
        conn = self.connection
        return self._with_overrides(read_connection(conn, conn.extra_dejson))

    def _with_overrides(self, config: XportcnConnectionConfig) -> XportcnConnectionConfig:
        """Apply the hook's ``timeout``/``max_retries`` arguments over the connection's extra."""
        overrides: dict[str, Any] = {}
        if self._timeout is not None:
            overrides["timeout"] = self._timeout
        if self._max_retries is not None:
            overrides["max_retries"] = self._max_retries
        if overrides:
            config = replace(config, settings=replace(config.settings, **overrides))
        return config

    # --- async side (triggers) --------------------------------------------------------------------
    async def aget_config(self) -> XportcnConnectionConfig:
        """The validated connection, read with Airflow's async API (safe on the triggerer's loop).

        The sync ``get_connection``/``extra_dejson`` would block the event loop and, before
        Airflow 3.3.2, could raise ``DeadlockImminentError``; the async variants mask secrets
        with ``asend`` instead. Read once per hook, and shared by the hooks of one event loop for
        a minute (:func:`~xportcn_provider.hooks.async_client.connection_config`): a triggerer
        starting a thousand waits reads the connection once, not a thousand times.
        """
        cached: XportcnConnectionConfig | None = self.__dict__.get("_async_config")
        if cached is not None:
            return cached
        config = self._with_overrides(await connection_config(self.xportcn_conn_id, self._aread_connection))
        self.__dict__["_async_config"] = config
        return config

    async def _aread_connection(self) -> XportcnConnectionConfig:
        conn = await self.aget_connection(self.xportcn_conn_id)
        if conn.password:
            await amask_secret(conn.password)
        return read_connection(conn, await conn.aextra_dejson())

    @contextlib.asynccontextmanager
    async def async_client(self) -> AsyncIterator[AsyncXportcnClient]:
        """An async client on the loop's shared, pooled HTTP session for this connection.

        Every trigger of one triggerer that uses the same connection borrows the same
        ``aiohttp.ClientSession`` and request gate (see :mod:`xportcn_provider.hooks.async_client`);
        signing, the envelope rules and the retry policy are those of the sync client.
        """
        config = await self.aget_config()
        async with shared_session(self.xportcn_conn_id, config.settings) as shared:
            yield AsyncXportcnClient(
                config.credentials,
                config.settings,
                session=shared.session,
                logger=self.log,  # type: ignore[arg-type]
                gate=shared.gate,
            )

    def get_conn(self) -> XportcnClient:
        """The configured client (one keep-alive session per hook)."""
        return self.client

    @cached_property
    def client(self) -> XportcnClient:
        config = self.config
        return XportcnClient(config.credentials, config.settings, logger=self.log)  # type: ignore[arg-type]

    @property
    def console_url(self) -> str:
        """Base URL of the Xportcn web console, for links (``extra.console_url``)."""
        return self.config.console_url

    @property
    def last_request_id(self) -> str | None:
        """``requestId`` of the last successful call, for log lines."""
        envelope = self.client.last_envelope
        return envelope.request_id if envelope else None

    def call_envelope(
        self, name: str, payload: Mapping[str, Any] | None = None, *, params: Mapping[str, Any] | None = None
    ) -> Envelope:
        """Call ``name`` and return the whole envelope (``requestId`` included)."""
        resolve(name)  # an unknown name fails before the connection is even read
        return self.client.call_envelope(name, payload, params=params)

    def call(
        self, name: str, payload: Mapping[str, Any] | None = None, *, params: Mapping[str, Any] | None = None
    ) -> Any:
        """Call any catalogue endpoint by name; returns the envelope's ``data`` or raises."""
        return self.call_envelope(name, payload, params=params).data

    def paginate(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        page_size: int = 50,
        max_pages: int | None = None,
    ) -> Iterator[Any]:
        """Yield every item of a list endpoint, fetching one page at a time."""
        resolve(name)
        return self.client.paginate(name, payload, page_size=page_size, max_pages=max_pages)

    def test_connection(self) -> tuple[bool, str]:
        """One cheap signed read (``address_list``), with a message that says what to check."""
        # Never raises: the UI/API/CLI (and, on Airflow 3.3, workers) show the message as is.
        try:
            # A push token too short to guard the callback URL is reported here (the receiver
            # refuses it), before the call, so the form says what to fix.
            push_token_of(self.connection.extra_dejson)
            self.client.call("address_list", {})
        except XportcnValidationError as err:
            return False, f"The connection is not usable: {err}"
        except XportcnAuthError as err:
            return False, str(err)
        except XportcnError as err:
            return False, f"Xportcn answered but the test call failed: {err}"
        except Exception as err:
            return False, f"Could not test the Xportcn connection {self.xportcn_conn_id!r}: {err}"
        return True, f"Connection to {self.config.settings.base_url} works (signed call accepted)."
