"""``[core] hostname_callable`` for stacks whose components share one machine.

Every Airflow process on this machine reports the same host name, so ``task_instance.hostname``
and ``job.hostname`` could not tell ``worker-1`` from ``worker-2`` or ``triggerer-1`` from
``triggerer-2``. ``airflow_stack.py`` gives each component its own ``XPORTCN_E2E_ROLE`` and points
``AIRFLOW__CORE__HOSTNAME_CALLABLE`` at :func:`get`, which imitates one machine per component.
(Fetching logs over HTTP by host name would break; the stack's logs are local files anyway.)
"""

from __future__ import annotations

import os
import socket

ROLE_ENV = "XPORTCN_E2E_ROLE"


def get() -> str:
    """This process's component name (``worker-2``, ``triggerer-1``, ...), else the real FQDN."""
    return os.environ.get(ROLE_ENV) or socket.getfqdn()
