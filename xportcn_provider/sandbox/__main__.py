"""``python -m xportcn_provider.sandbox``: the same as the ``xportcn-sandbox`` console script
(useful where the venv's ``bin/`` is not on ``PATH``)."""

import sys

from xportcn_provider.sandbox.cli import main

sys.exit(main())
