#!/usr/bin/env python
"""Print the endpoint catalogue as the markdown table used in docs/hook.md.

    .venv/bin/python scripts/endpoint_table.py

A unit test checks that docs/hook.md contains exactly this output, so after a catalogue change
run the script and paste its output over the table in the docs.
"""

from __future__ import annotations

from xportcn_provider.api.endpoints import CATALOGUE, RETRY_RULES, Endpoint

HEADER = (
    "| name (hook method) | method | path | confidence | kind | after a lost answer | required fields |\n"
    "|---|---|---|---|---|---|---|"
)
RULES_HEADER = "| write | after a lost answer | how the outcome is found out |\n|---|---|---|"


def _row(e: Endpoint) -> str:
    kind = "read" if e.read_only else "write"
    if e.query_signed:
        kind += ", query-signed"
    if e.paginated:
        kind += ", paginated"
    required = ", ".join(f"`{f}`" for f in e.required) or "–"
    return f"| `{e.name}` | {e.method} | `{e.path}` | {e.confidence} | {kind} | {e.retry} | {required} |"


def render() -> str:
    """The table, one row per catalogue entry in catalogue order."""
    return "\n".join([HEADER, *(_row(e) for e in CATALOGUE.values())])


def render_rules() -> str:
    """The write endpoints' rule after an unknown outcome, and why (``endpoints.RETRY_RULES``)."""
    rows = [f"| `{name}` | {rule} | {why} |" for name, (rule, why) in sorted(RETRY_RULES.items())]
    return "\n".join([RULES_HEADER, *rows])


if __name__ == "__main__":
    print(render())
    print()
    print(render_rules())
