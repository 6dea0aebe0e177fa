"""``[core] auth_manager`` for e2e stacks that need a user who may *not* read some DAGs.

Airflow's simple auth manager (the only one installed here; FAB is not) gives every role read
access to every DAG outside multi-team mode, so with it alone a test cannot show that a page hides
the objects of DAGs a user may not read. :class:`HiddenDagsAuthManager` is the simple auth manager
plus one rule: the DAGs listed for a user in :data:`HIDDEN_DAGS_ENV` are denied to that user, for
every method (admins included when listed). It stands in for any auth manager with per-DAG rights
— FAB's DAG-level permissions, Keycloak, multi-team — because the Xportcn pages rely only on the
auth manager's DAG filter (``get_authorized_dag_ids``), never on roles.

Format: ``XPORTCN_E2E_HIDDEN_DAGS="outsider=xportcn_fulfilment,other_dag;bob=dag_c"``.
``airflow_stack(..., hidden_dags={"outsider": ["xportcn_fulfilment"]})`` writes it, selects this
class (``e2e_auth.HiddenDagsAuthManager``) and puts ``tests/e2e`` on the components'
``PYTHONPATH``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

HIDDEN_DAGS_ENV = "XPORTCN_E2E_HIDDEN_DAGS"


@functools.cache
def parse_hidden_dags(value: str) -> Mapping[str, frozenset[str]]:
    """``"u1=a,b;u2=c"`` -> ``{"u1": {"a", "b"}, "u2": {"c"}}``; a malformed entry raises ValueError."""
    hidden: dict[str, frozenset[str]] = {}
    for entry in filter(None, (part.strip() for part in value.split(";"))):
        user, sep, dags = entry.partition("=")
        dag_ids = frozenset(d.strip() for d in dags.split(",") if d.strip())
        if not sep or not user.strip() or not dag_ids:
            raise ValueError(f"{HIDDEN_DAGS_ENV}: expected 'user=dag_a,dag_b', got {entry!r}")
        hidden[user.strip()] = hidden.get(user.strip(), frozenset()) | dag_ids
    return hidden


def hidden_dags_of(username: str) -> frozenset[str]:
    """The DAG ids denied to ``username`` by the current environment."""
    return parse_hidden_dags(os.environ.get(HIDDEN_DAGS_ENV, "")).get(username, frozenset())


class HiddenDagsAuthManager(SimpleAuthManager):
    """The simple auth manager, except that the DAGs of :data:`HIDDEN_DAGS_ENV` are denied per user.

    Both ways Airflow asks are covered: :meth:`is_authorized_dag` (one DAG; the base class's
    ``filter_authorized_dag_ids``, which the simple auth manager does not override, calls it per
    DAG) and :meth:`filter_authorized_dag_ids` (so a future override in the simple auth manager
    cannot bypass the rule).
    """

    def init(self) -> None:
        """Start as the simple auth manager does; a malformed :data:`HIDDEN_DAGS_ENV` fails here."""
        parse_hidden_dags(os.environ.get(HIDDEN_DAGS_ENV, ""))
        super().init()

    def is_authorized_dag(
        self,
        *,
        method: ResourceMethod,
        user: SimpleAuthManagerUser,
        access_entity: DagAccessEntity | None = None,
        details: DagDetails | None = None,
    ) -> bool:
        if details is not None and details.id is not None and details.id in hidden_dags_of(user.username):
            return False
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )

    def filter_authorized_dag_ids(
        self,
        *,
        dag_ids: set[str],
        user: SimpleAuthManagerUser,
        method: ResourceMethod = "GET",
        team_name: str | None = None,
    ) -> set[str]:
        allowed = super().filter_authorized_dag_ids(
            dag_ids=dag_ids, user=user, method=method, team_name=team_name
        )
        return allowed - hidden_dags_of(user.username)
