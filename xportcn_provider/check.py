"""``python -m xportcn_provider.check`` — the same command as ``airflow xportcn check``.

Thin on purpose: it reads the Airflow connection through :class:`~xportcn_provider.hooks.xportcn.
XportcnHook` (so the secret is masked and the connection is read exactly as tasks read it), runs
:class:`~xportcn_provider.api.contract_check.ContractChecker`, and prints. What is decided —
which bodies are sent, how an answer is classified, the exit code — lives in the api core.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from xportcn_provider.api.contract_check import (
    AUTH_ADVICE,
    CheckReport,
    ContractChecker,
    compare_record,
    load_record,
    select_endpoints,
)
from xportcn_provider.api.errors import XportcnError, XportcnValidationError
from xportcn_provider.cli.args import CHECK_ARGS, CHECK_HELP
from xportcn_provider.connection import EXTRA_OVERRIDES, EXTRA_SIGNATURE_RULE, XportcnConnectionConfig

EXIT_MEANING = {
    0: "every probed endpoint answered where the provider expects it",
    1: "something differs: set what is suggested above in the connection",
    2: "authentication or transport failure: see above",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xportcn_provider.check", description=CHECK_HELP)
    for flags, kwargs in CHECK_ARGS:
        parser.add_argument(*flags, **kwargs)
    return parser


def read_config(conn_id: str) -> XportcnConnectionConfig:
    """The connection as tasks read it (Airflow's secrets backends, the secret masked at once)."""
    from xportcn_provider.hooks.xportcn import XportcnHook

    return XportcnHook(conn_id).config


def run(
    args: argparse.Namespace,
    *,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    config: XportcnConnectionConfig | None = None,
) -> int:
    """Run the check described by ``args``; returns the exit code (0, 1 or 2)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.compare and not args.record:
            return _compare(Path(args.compare), args.output, out)
        endpoints = select_endpoints(args.endpoints, include_writes=args.include_writes)
        if config is None:
            try:
                config = read_config(args.conn_id)
            except XportcnError:
                raise
            except Exception as exc:  # Airflow's "isn't defined", a secrets backend failure...
                print(f"xportcn check: cannot read connection {args.conn_id!r}: {exc}", file=err)
                return 2
        checker = ContractChecker(config.credentials, config.settings, delay=args.delay)
        report = checker.run(endpoints)
    except XportcnValidationError as exc:
        print(f"xportcn check: {exc}", file=err)
        return 2
    except XportcnError as exc:  # pragma: no cover - every probe error is caught by the checker
        print(f"xportcn check: {exc}", file=err)
        return 2
    code = report.exit_code
    if args.record:
        Path(args.record).write_text(json.dumps(report.record(), indent=2, ensure_ascii=False) + "\n")
    if args.output == "json":
        document: dict[str, Any] = report.as_dict()
        if args.compare:
            differences = compare_record(load_record(Path(args.compare).read_text(encoding="utf-8")))
            document["compare"] = {k: [d.__dict__ for d in v] for k, v in differences.items()}
            code = max(code, 1 if differences else 0)
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
        return code
    print(render_table(report, args.conn_id), file=out)
    if args.record:
        print(f"\nShapes recorded in {args.record} (keys and types only, no values).", file=out)
    if args.compare:
        code = max(code, _compare(Path(args.compare), "table", out))
    print(f"\nexit {code}: {EXIT_MEANING[code]}", file=out)
    return code


def _compare(path: Path, output: str, out: IO[str]) -> int:
    try:
        record = load_record(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise XportcnValidationError(f"cannot read {path}: {exc}", parameter="compare") from None
    differences = compare_record(record)
    if output == "json":
        print(json.dumps({k: [d.__dict__ for d in v] for k, v in differences.items()}, indent=2), file=out)
        return 1 if differences else 0
    print(f"\nShapes in {path} compared with the shapes the provider assumes:", file=out)
    if not differences:
        print(f"  all {len(record['shapes'])} recorded shapes fit.", file=out)
    for name, found in differences.items():
        print(f"  {name}:", file=out)
        for difference in found:
            print(f"    {difference}", file=out)
    return 1 if differences else 0


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render_table(report: CheckReport, conn_id: str) -> str:
    """The human report: one row per probe, then what to set in the connection."""
    header = ("endpoint", "confidence", "path tried", "result", "ms", "requestId")
    rows: list[tuple[str, ...]] = []
    for entry in report.endpoints:
        for i, attempt in enumerate(entry.attempts):
            result: str = attempt.result
            if attempt.result != "ok" and attempt.http_status not in (None, 200):
                result = f"{result} (HTTP {attempt.http_status})"
            elif attempt.result == "ok" and attempt.code not in (200, "200", None):
                result = f"ok (code {attempt.code})"
            rows.append(
                (
                    entry.endpoint if i == 0 else "  ↳ alternate",
                    entry.confidence if i == 0 else "",
                    attempt.path,
                    result,
                    f"{attempt.ms:.0f}",
                    _cell(attempt.request_id),
                )
            )
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [f"Xportcn contract check: connection {conn_id!r} at {report.base_url}", ""]
    for row in (header, tuple("-" * w for w in widths), *rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if report.refused is not None:
        lines += ["", f"Signature rule {report.signature_rule!r} was refused: {report.refused.msg}"]
    if report.rule_search:
        tried = ", ".join(f"{a.rule} ({a.result})" for a in report.rule_search)
        lines.append(f"Signature rules tried, one call each: {tried}")
        if report.accepted_rule:
            lines += [
                f"The service accepted signature rule {report.accepted_rule!r}. Set it in the connection:",
                f'  extra: {{"{EXTRA_SIGNATURE_RULE}": "{report.accepted_rule}"}}   '
                "(the form's 'Signature rule' field)",
            ]
        else:
            lines.append("No listed signature rule was accepted: check the Access Secret (password).")
    if report.auth is not None:
        cause = report.auth.auth_cause or "other"
        lines += [
            "",
            f"Stopped at {report.auth.endpoint}: {AUTH_ADVICE[cause]}.",
            f"  Server said: {report.auth.msg}",
        ]
    elif report.stopped:
        lines += ["", f"Stopped: {report.stopped}."]
    paging = [e.paging for e in report.endpoints if e.paging is not None]
    if paging:
        lines += ["", "Paging (two pages of size 1):"]
        lines += [f"  {p.endpoint}: {p.result} — {p.detail}" for p in paging]
    moved = [e for e in report.endpoints if e.moved]
    if moved:
        lines += ["", "Moved endpoints:"]
        for entry in moved:
            where = f"answers at {entry.found_at}" if entry.found_at else "not found at any known path"
            lines.append(f"  {entry.endpoint}: {where}")
        if report.overrides != report.current_overrides:
            lines += [
                "",
                f"Paste into the connection's extra ({EXTRA_OVERRIDES}):",
                json.dumps({EXTRA_OVERRIDES: report.overrides}, ensure_ascii=False),
            ]
        if report.missing:
            lines.append(
                f"Not found anywhere: {', '.join(report.missing)} — please tell us "
                "(README: sending a record)."
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
