"""Provider metadata returned through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from xportcn_provider import __version__
from xportcn_provider.api.signing import DEFAULT_SIGNATURE_RULE, SIGNATURE_RULE_NAMES
from xportcn_provider.names import CONN_TYPE


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-xportcn",
        "name": "Xportcn",
        "description": "Xportcn (Xport Global Open Platform) KA open API: 1688/Taobao purchasing, "
        "Xport warehouse (wms), international logistics and after-sale.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Xportcn",
                "external-doc-url": "https://www.xportcn.com",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Xportcn", "python-modules": ["xportcn_provider.hooks.xportcn"]}],
        "operators": [
            {
                "integration-name": "Xportcn",
                "python-modules": [
                    "xportcn_provider.operators.orders",
                    "xportcn_provider.operators.refunds",
                    "xportcn_provider.operators.logistics",
                    "xportcn_provider.operators.wms",
                    "xportcn_provider.operators.basics",
                    "xportcn_provider.operators.generic",
                ],
            }
        ],
        "extra-links": [
            "xportcn_provider.links.XportcnOrderLink",
            "xportcn_provider.links.XportcnRefundLink",
            "xportcn_provider.links.XportcnLogisticsLink",
            "xportcn_provider.links.XportcnPackageLink",
        ],
        "sensors": [{"integration-name": "Xportcn", "python-modules": ["xportcn_provider.sensors.status"]}],
        "transfers": [
            {
                "source-integration-name": "Xportcn",
                "target-integration-name": "Common IO",
                "python-module": "xportcn_provider.transfers.orders_to_storage",
            }
        ],
        "triggers": [{"integration-name": "Xportcn", "python-modules": ["xportcn_provider.triggers.status"]}],
        "asset-uris": [{"schemes": ["xportcn"], "handler": "xportcn_provider.assets.sanitize_uri"}],
        "cli": ["xportcn_provider.cli.definition.get_xportcn_cli_commands"],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "xportcn_provider.hooks.xportcn.XportcnHook",
                "hook-name": "Xportcn",
                "ui-field-behaviour": {
                    # The port stays visible: Airflow 3.3.2's connection-list Test button sends
                    # port 0 for a connection stored without one, and the REST API refuses the test
                    # ("The host or port to test differs from the stored connection"). With the port
                    # filled in (443), what the list sends matches what is stored (issue 14 item 4).
                    "hidden-fields": ["schema"],
                    "relabeling": {
                        "host": "Base URL",
                        "port": "Port (443 for https)",
                        "login": "Access Key",
                        "password": "Access Secret",
                    },
                    "placeholders": {
                        "host": "https://www.xportcn.com/api",
                        "port": "443",
                        "login": "32 hex chars from the Xport console",
                        "password": "Access Secret (never logged)",
                        "user_id": "e.g. 2100008388036",
                        "timeout": "30",
                        "max_retries": "5",
                        "max_connections": "10",
                        "endpoint_overrides": '{"refund_create": "/alibaba/ka/refund/apply"}',
                        "console_url": "https://www.xportcn.com",
                        "push_token": "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                    },
                },
                "conn-fields": {
                    "user_id": {
                        "label": "User ID",
                        "description": "Xport user id (sub-account) sent in the user-id header. Required.",
                        "schema": {"type": "string"},
                    },
                    "timeout": {
                        "label": "Timeout (s)",
                        "description": "Seconds to wait for each attempt.",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries of transient failures (connection errors, timeouts, "
                        "429, 5xx), each after a backoff; a write whose outcome is unknown is looked "
                        "up, never resent blindly.",
                        "schema": {"type": ["integer", "null"], "default": 5},
                    },
                    "max_connections": {
                        "label": "Max connections",
                        "description": "Sockets that deferred sensors (one triggerer) keep open to "
                        "Xportcn for this connection; more polls wait their turn.",
                        "schema": {"type": ["integer", "null"], "default": 10, "minimum": 1, "maximum": 100},
                    },
                    "endpoint_overrides": {
                        "label": "Endpoint overrides",
                        "description": "JSON object: endpoint name -> path, for paths that differ "
                        "from the provider's catalogue.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "console_url": {
                        "label": "Console URL",
                        "description": "Base URL of the Xport web console, used by the task links.",
                        "schema": {"type": ["string", "null"], "default": "https://www.xportcn.com"},
                    },
                    "push_token": {
                        "label": "Push token",
                        "description": "At least 32 random characters; the push callback URL is "
                        "<api-server>/xportcn/push/<conn id>/<push token>. Empty: this connection "
                        "accepts no pushes.",
                        "schema": {"type": ["string", "null"], "minLength": 32, "format": "password"},
                    },
                    "signature_rule": {
                        "label": "Signature rule",
                        "description": "How the signature header is computed. Keep the default "
                        "unless `airflow xportcn check` names another rule that the service accepts.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": [*SIGNATURE_RULE_NAMES, None],
                            "default": DEFAULT_SIGNATURE_RULE,
                        },
                    },
                },
            }
        ],
    }
