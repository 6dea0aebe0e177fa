"""``xportcn-sandbox``: run the sandbox in the foreground and print the connection to use.

    xportcn-sandbox --host 127.0.0.1 --port 8765

prints ``AIRFLOW_CONN_XPORTCN_DEFAULT='...'`` (ready to paste into a shell) before serving, so a
user can point Airflow at it in one step. Credentials come from flags, then the
``XPORTCN_SANDBOX_*`` environment variables, then the documented defaults.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from xportcn_provider.api.signing import DEFAULT_SIGNATURE_RULE, SIGNATURE_RULE_NAMES
from xportcn_provider.sandbox.config import DELAY_NAMES, ConfigError
from xportcn_provider.sandbox.defaults import (
    API_PREFIX,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENV_ACCESS_KEY,
    ENV_ACCESS_SECRET,
    ENV_USER_ID,
    SandboxCredentials,
)
from xportcn_provider.sandbox.engine import Sandbox
from xportcn_provider.sandbox.handle import SandboxHandle
from xportcn_provider.sandbox.paths import PathMapError, load_path_map
from xportcn_provider.sandbox.push import PushConfigError
from xportcn_provider.sandbox.server import serve_forever
from xportcn_provider.sandbox.variants import VARIANTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xportcn-sandbox",
        description="Run a local Xportcn API sandbox (every catalogue endpoint under /api, "
        "control API under /_sandbox, docs at /docs).",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = free port)"
    )
    parser.add_argument("--access-key", help=f"accepted Access Key (env {ENV_ACCESS_KEY})")
    parser.add_argument("--access-secret", help=f"its Access Secret (env {ENV_ACCESS_SECRET})")
    parser.add_argument("--user-id", help=f"accepted user id (env {ENV_USER_ID})")
    parser.add_argument(
        "--delay",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help=f"life-cycle delay, repeatable; NAME is 'all' or one of: {', '.join(DELAY_NAMES)}",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="answer like a service that differs from the assumed shapes, repeatable; a reset "
        "through the control API switches variants off. NAME is one of: "
        + "; ".join(f"{name} ({text})" for name, text in VARIANTS.items()),
    )
    parser.add_argument(
        "--no-dedupe",
        action="store_true",
        help="play a service that trusts its client: a repeated outOrderId or tmallOrderId creates "
        "again, a second refund on the same sub-orders is opened, paying a paid order charges again "
        "(a control-API reset turns deduplication back on)",
    )
    parser.add_argument(
        "--signature-rule",
        choices=SIGNATURE_RULE_NAMES,
        default=None,
        help="accept only this signature rule, to play a service that signs differently "
        f"(default {DEFAULT_SIGNATURE_RULE}, the contract's rule; a control-API reset keeps it)",
    )
    parser.add_argument(
        "--path-map",
        metavar="FILE",
        help='serve endpoints under other paths: a JSON object {"<endpoint name>": "/path"}; their '
        "catalogue paths answer 404 (a control-API reset keeps these moves)",
    )
    parser.add_argument(
        "--push-url",
        metavar="URL",
        help="POST a push message (contract §4) to URL on each order and refund change, retrying "
        "like Xport (every 30 sandbox minutes, at most 5 times); e.g. "
        "http://127.0.0.1:8080/xportcn/push/xportcn_default/<push token>. A reset through the "
        "control API stops pushing.",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    return parser


def _delays(specs: Sequence[str]) -> dict[str, float]:
    delays: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            raise ConfigError(f"--delay expects NAME=SECONDS, got {spec!r}")
        try:
            seconds = float(value)
        except ValueError:
            raise ConfigError(f"--delay {name}: {value!r} is not a number of seconds") from None
        delays["all_delays" if name == "all" else name] = seconds
    return delays


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    credentials = SandboxCredentials.from_env(
        access_key=args.access_key, access_secret=args.access_secret, user_id=args.user_id
    )
    try:
        path_map = load_path_map(args.path_map) if args.path_map else None
        sandbox = Sandbox(credentials, signature_rule=args.signature_rule, path_map=path_map)
    except PathMapError as err:
        parser.error(str(err))
    try:
        sandbox.configure(**_delays(args.delay))
        if args.variant:
            sandbox.configure(variants=args.variant)
        if args.no_dedupe:
            sandbox.configure(dedupe=False)
    except ConfigError as err:
        parser.error(str(err))

    if args.push_url:
        try:
            sandbox.pusher.configure(url=args.push_url)
        except PushConfigError as err:
            parser.error(str(err))

    def announce(port: int) -> None:
        handle = SandboxHandle.for_server(args.host, port, credentials)
        ((name, value),) = handle.env().items()
        print(f"Xportcn sandbox on {handle.url}")
        print(f"  docs: {handle.base_url}/docs   control API: {handle.base_url}/_sandbox")
        print(f"  console pages (the connection's console_url, for task links): {handle.console_url}")
        if args.variant:
            print(f"  variants: {', '.join(sorted(set(args.variant)))}")
        if args.no_dedupe:
            print("  no deduplication: every create creates, every pay charges (--no-dedupe)")
        if args.signature_rule and args.signature_rule != DEFAULT_SIGNATURE_RULE:
            print(
                f"  signature rule: only {args.signature_rule} is accepted (the connection below keeps "
                "the default rule: `airflow xportcn check` names the field to set)"
            )
        for moved, path in sandbox.paths.moves().items():
            print(f"  {moved} is served at {API_PREFIX}{path} (its catalogue path answers 404)")
        print("Use it from Airflow with:")
        print(f"export {name}={shlex.quote(value)}")
        print(f"# or as a URI: export {name}={shlex.quote(handle.conn_uri)}", flush=True)

    try:
        serve_forever(args.host, args.port, sandbox, log_level=args.log_level, on_ready=announce)
    except OSError as err:
        print(f"xportcn-sandbox: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
