"""The sandbox's own answers fit the shapes the provider assumes (issue 12, item 5).

Every catalogue endpoint is called through the hook with the cases of
``test_sandbox_endpoints`` (so the sandbox, ``api/shapes.py`` and ``docs/data-shapes.md`` — which
is generated from it — cannot drift apart), and the recorded shape of ``data`` is compared with
``ASSUMED_SHAPES``: nothing lacking, nothing extra, no other type.
"""

from __future__ import annotations

import pytest

from xportcn_provider.api.endpoints import ENDPOINT_NAMES
from xportcn_provider.api.shapes import ASSUMED_SHAPES, compare, shape_of

from .test_sandbox_endpoints import CASES, World, world  # noqa: F401  (world is a fixture)


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
def test_sandbox_answer_fits_the_assumed_shape(world: World, name: str) -> None:  # noqa: F811
    call, _ = CASES[name]
    differences = compare(ASSUMED_SHAPES[name], shape_of(call(world)))
    assert [str(d) for d in differences] == []
