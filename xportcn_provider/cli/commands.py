"""Bodies of the ``airflow xportcn`` commands (loaded lazily by :mod:`.definition`)."""

from __future__ import annotations

import argparse
import sys

from xportcn_provider.check import run


def check(args: argparse.Namespace) -> None:
    """``airflow xportcn check``: exits with the checker's code (0 fine, 1 differs, 2 failed)."""
    sys.exit(run(args))
