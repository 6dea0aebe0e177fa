"""The arguments of ``airflow xportcn check`` / ``python -m xportcn_provider.check``, as data.

One list serves both parsers (Airflow's ``Arg`` and plain ``argparse``), so the two ways to run
the checker can never take different arguments. Imports nothing heavy: Airflow reads it on every
CLI start.
"""

from __future__ import annotations

from typing import Any

from xportcn_provider.names import DEFAULT_CONN_ID

DEFAULT_DELAY = 0.2

CHECK_HELP = (
    "Check the Xportcn contract with your account: probe every endpoint once with a request that "
    "cannot change anything, report which paths answer where the provider expects, the "
    "endpoint_overrides that fix the others, paging, and (with --record) the response shapes."
)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


#: (flags, argparse keyword arguments) of every option.
CHECK_ARGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--conn-id",),
        {
            "default": DEFAULT_CONN_ID,
            "help": f"the Airflow connection of type xportcn to check (default {DEFAULT_CONN_ID})",
        },
    ),
    (
        ("--endpoints",),
        {
            "type": _csv,
            "default": None,
            "metavar": "A,B",
            "help": "only these endpoint names (comma-separated; default: every read endpoint)",
        },
    ),
    (
        ("--include-writes",),
        {
            "action": "store_true",
            "help": "also probe write endpoints, each with an empty JSON body {} that the server must "
            "refuse for missing fields (never a body that could create, pay, cancel or book)",
        },
    ),
    (
        ("--record",),
        {
            "metavar": "FILE",
            "default": None,
            "help": "write the shape (keys and JSON types, never a value) of every answer to FILE",
        },
    ),
    (
        ("--compare",),
        {
            "metavar": "FILE",
            "default": None,
            "help": "compare a --record FILE with the shapes the provider assumes; alone it makes "
            "no call, with --record it runs the check first",
        },
    ),
    (
        ("--output",),
        {
            "choices": ["table", "json"],
            "default": "table",
            "help": "table (default) or json",
        },
    ),
    (
        ("--delay",),
        {
            "type": float,
            "default": DEFAULT_DELAY,
            "metavar": "SECONDS",
            "help": f"pause between two probes (default {DEFAULT_DELAY})",
        },
    ),
)
