"""A full-URL host with the form's Port field (issue 14 item 4): the port agrees or is applied."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.connection import base_url_of


@dataclass
class Conn:
    host: str | None
    port: int | None
    conn_id: str = "xportcn_default"
    schema: str | None = None
    login: str | None = None
    password: str | None = None


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("https://www.xportcn.com/api", None, "https://www.xportcn.com/api"),
        ("https://www.xportcn.com/api", 0, "https://www.xportcn.com/api"),  # a form's empty port
        ("https://www.xportcn.com/api", 443, "https://www.xportcn.com/api"),
        ("http://127.0.0.1:8765/api", 8765, "http://127.0.0.1:8765/api"),
        ("http://127.0.0.1/api", 8765, "http://127.0.0.1:8765/api"),
        ("http://[::1]/api", 8765, "http://[::1]:8765/api"),
        ("127.0.0.1", 8765, "https://127.0.0.1:8765/api"),  # bare host: as before
    ],
)
def test_the_port_applies_to_a_full_url(host: str, port: int | None, expected: str) -> None:
    assert base_url_of(Conn(host, port), {}) == expected


def test_a_port_that_contradicts_the_url_is_an_error_naming_port() -> None:
    with pytest.raises(XportcnValidationError) as caught:
        base_url_of(Conn("http://127.0.0.1:8765/api", 9000), {})
    assert caught.value.parameter == "port"
    assert "9000" in str(caught.value) and "8765" in str(caught.value)
