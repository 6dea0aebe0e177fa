"""The assets pushed messages update, the ``xportcn`` URI scheme, and the connection's push token."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.assets import order_messages, refund_messages
from xportcn_provider.connection import push_token_of
from xportcn_provider.plugins.push import PUSH_ROUTE, URL_PREFIX, create_push_app
from xportcn_provider.plugins.xportcn_plugin import XportcnPlugin


def test_asset_helpers() -> None:
    assert order_messages().uri == "xportcn://xportcn_default/orders"
    assert refund_messages("shop_b").uri == "xportcn://shop_b/refunds"
    assert order_messages().name == order_messages().uri  # the receiver looks assets up by name and uri
    assert order_messages("x") == Asset(name="xportcn://x/orders", uri="xportcn://x/orders", group="xportcn")
    with pytest.raises(XportcnValidationError):
        order_messages("no spaces please")


def test_the_scheme_is_validated_and_normalised_by_airflow() -> None:
    assert Asset(uri="xportcn://c/orders/").uri == "xportcn://c/orders"  # through the provider's handler
    for bad in ("xportcn://c/packages", "xportcn:///orders", "xportcn://c/orders?x=1"):
        with pytest.raises(ValueError, match="xportcn asset URI"):
            Asset(uri=bad)


def test_push_token_field() -> None:
    token = "k" * 40
    assert push_token_of({}) is None
    assert push_token_of({"push_token": ""}) is None
    assert push_token_of({"push_token": token}) == token
    assert push_token_of({"extra__xportcn__push_token": token}) == token  # the form's prefixed key
    with pytest.raises(XportcnValidationError, match="at least 32") as err:
        push_token_of({"push_token": "k" * 31})
    assert err.value.parameter == "extra.push_token"


def test_the_plugin_builds_its_app_only_on_the_api_server() -> None:
    assert XportcnPlugin.name == "xportcn"
    assert XportcnPlugin.fastapi_apps == []  # pytest is not the api-server: nothing built here
    assert [v["destination"] for v in XportcnPlugin.external_views] == ["nav", "task_instance"]
    assert "{DAG_ID}" in XportcnPlugin.external_views[1]["href"]
    app = create_push_app()
    assert URL_PREFIX == "/xportcn"
    assert [(r.path, sorted(r.methods)) for r in app.routes if hasattr(r, "methods")] == [
        (PUSH_ROUTE, ["POST"])
    ]
    assert app.openapi_url is None and app.docs_url is None


def test_the_test_button_refuses_a_short_push_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    conn = (
        '{"conn_type": "xportcn", "host": "http://127.0.0.1:9/api", "login": "k", "password": "s",'
        ' "extra": {"user_id": "1", "push_token": "too-short-token"}}'
    )
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_PUSHTEST", conn)
    ok, message = XportcnHook(xportcn_conn_id="xportcn_pushtest").test_connection()
    assert not ok
    assert "push_token must be at least 32 characters" in message and "too-short-token" not in message
