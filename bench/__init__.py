"""Benchmarks of airflow-provider-xportcn against named anchors (``make bench``, ``docs/performance.md``).

One module per benchmark, each with ``NAME``, ``GOAL`` and ``run(quick: bool) -> dict`` returning a
``results.json`` entry (see :func:`bench._common.result`); :mod:`bench.run` runs them all.
"""

BENCHMARKS = (
    "hook_overhead",
    "wait_scale",
    "wait_scale_5k",
    "parse_cost",
    "sync_memory",
    "push_latency",
    "ui_page",
)
