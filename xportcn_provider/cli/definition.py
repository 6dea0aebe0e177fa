"""Provider-info ``cli`` entry: ``airflow xportcn check`` (Airflow >= 3.2 reads this on CLI start).

Only Airflow's light ``cli_config`` building blocks and :mod:`.args` are imported here; the
command itself (:func:`xportcn_provider.cli.commands.check`) loads when it runs.
"""

from __future__ import annotations

from typing import Any

from xportcn_provider.cli.args import CHECK_ARGS, CHECK_HELP


def get_xportcn_cli_commands() -> list[Any]:
    """The ``xportcn`` command group."""
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand, lazy_load_command

    check = ActionCommand(
        name="check",
        help=CHECK_HELP,
        func=lazy_load_command("xportcn_provider.cli.commands.check"),
        args=tuple(Arg(flags, **kwargs) for flags, kwargs in CHECK_ARGS),
    )
    return [GroupCommand(name="xportcn", help="Xportcn provider commands", subcommands=(check,))]
