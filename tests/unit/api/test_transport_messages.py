"""Network failures say where and why (issue 14 item 3), on real sockets, sync and async alike.

With the sandbox down, a task failed with "connection failed or dropped (ConnectionError)": no
URL, no "refused". A bare host:port connection without ``protocol=http`` failed with
"(SSLError)" and no hint. Now the error names the base URL (never a secret), the cause in words
and, for TLS against a plain-HTTP server, the fix.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from xportcn_provider.api.client import AsyncXportcnClient, ClientSettings, Credentials, XportcnClient
from xportcn_provider.api.errors import XportcnError, XportcnTransientError
from xportcn_provider.api.transport import describe_failure, safe_url

from .._http_script import refused_url
from .._support import ACCESS_KEY, USER_ID, fresh_secret


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def plain_http() -> Iterator[str]:
    """A plain-HTTP server on a free loopback port, as ``host:port`` (what a user types)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _settings(base_url: str) -> ClientSettings:
    return ClientSettings(base_url=base_url, timeout=3, max_retries=0, backoff_initial=0.01)


def sync_error(base_url: str, secret: str) -> XportcnError:
    client = XportcnClient(Credentials(ACCESS_KEY, secret, USER_ID), _settings(base_url))
    try:
        with pytest.raises(XportcnError) as caught:
            client.call("order_detail", {"orderId": "1"})
    finally:
        client.close()
    return caught.value


def async_error(base_url: str, secret: str) -> XportcnError:
    async def go() -> XportcnError:
        client = AsyncXportcnClient(Credentials(ACCESS_KEY, secret, USER_ID), _settings(base_url))
        try:
            with pytest.raises(XportcnError) as caught:
                await client.call("order_detail", {"orderId": "1"})
        finally:
            await client.aclose()
        return caught.value

    return asyncio.run(go())


@pytest.mark.parametrize("call", [sync_error, async_error], ids=["sync", "async"])
def test_refused_names_the_url_and_says_refused(call: Any) -> None:
    secret = fresh_secret()
    base = refused_url() + "/api"
    err = call(base, secret)
    assert isinstance(err, XportcnTransientError) and err.not_processed
    text = str(err)
    assert f"{base}: connection refused by {base.split('//')[1].split('/')[0]}" in text, text
    assert "is the server or the sandbox running?" in text
    assert secret not in text and ACCESS_KEY not in text


@pytest.mark.parametrize("call", [sync_error, async_error], ids=["sync", "async"])
def test_tls_to_a_plain_http_server_says_how_to_fix_it(call: Any, plain_http: str) -> None:
    secret = fresh_secret()
    err = call(f"https://{plain_http}/api", secret)
    text = str(err)
    assert f"https://{plain_http}/api: TLS handshake with {plain_http} failed" in text, text
    assert "plain-HTTP server" in text
    assert f"Use http:// in the connection's host (http://{plain_http}/api)" in text
    assert '"protocol": "http" in its extra' in text
    assert secret not in text


@pytest.mark.parametrize("call", [sync_error, async_error], ids=["sync", "async"])
def test_an_unknown_host_is_a_dns_failure(call: Any) -> None:
    err = call("https://no-such-host.invalid/api", fresh_secret())
    assert "DNS: the host name 'no-such-host.invalid' could not be resolved" in str(err), str(err)


def test_a_url_shown_in_an_error_carries_no_user_info_or_query() -> None:
    assert safe_url("https://key:s3cret@example.com:8443/api?token=abc#x") == "https://example.com:8443/api"
    assert safe_url("http://[::1]:8765/api") == "http://[::1]:8765/api"
    message = describe_failure(ConnectionRefusedError("refused"), "https://key:s3cret@example.com/api")
    assert "s3cret" not in message and "example.com:443" in message
