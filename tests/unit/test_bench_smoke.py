"""The benchmarks import, declare their goals, and write the documented ``results.json`` schema.

No timing is asserted here (``make bench`` measures; ``docs/performance.md`` reports).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import BENCHMARKS  # noqa: E402
from bench._common import RESULT_KEYS, format_table, result, write_results  # noqa: E402


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_modules_import_and_declare_a_goal(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert name == module.NAME
    assert isinstance(module.GOAL, float) and module.GOAL > 0
    assert callable(module.run)


def test_runner_imports() -> None:
    run = importlib.import_module("bench.run")
    assert callable(run.main)


def test_result_entry_has_the_documented_keys() -> None:
    entry = result(2.0, 4.0, goal=0.5, unit="ms CPU/poll", anchor_name="anchor", measures="what")
    assert set(RESULT_KEYS) <= set(entry)
    assert entry["ratio"] == 0.5
    assert entry["met"] is True
    assert result(3.0, 2.0, goal=1.2, unit="MiB", anchor_name="a", measures="m")["met"] is False


def test_write_results_produces_the_schema(tmp_path: Path) -> None:
    entries = {
        "hook_overhead": result(1.1, 1.0, goal=1.1, unit="ms/call", anchor_name="raw", measures="m"),
        "parse_cost": result(100.0, 200.0, goal=1.2, unit="ms", anchor_name="http", measures="m", extra=1),
    }
    path = tmp_path / "results.json"
    write_results(entries, path, quick=True, seconds=1.5)
    document = json.loads(path.read_text())
    meta = document.pop("_meta")
    assert meta["quick"] is True
    assert {"date", "seconds", "machine"} <= set(meta)
    assert {"cpus", "memory_gib"} <= set(meta["machine"])
    assert list(document) == ["hook_overhead", "parse_cost"]
    for entry in document.values():
        assert set(RESULT_KEYS) <= set(entry)
        assert entry["ratio"] == pytest.approx(entry["ours"] / entry["anchor"], rel=1e-3)
    assert document["parse_cost"]["extra"] == 1
    table = format_table(document)
    assert "hook_overhead" in table and "parse_cost" in table and "_meta" not in table


def test_write_results_refuses_an_incomplete_entry(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ratio"):
        write_results({"x": {"ours": 1, "anchor": 1}}, tmp_path / "r.json", quick=True, seconds=0)


def test_committed_results_follow_the_schema() -> None:
    path = REPO_ROOT / "bench" / "results.json"
    if not path.exists():
        pytest.skip("bench/results.json not generated yet")
    document = json.loads(path.read_text())
    assert "_meta" in document
    for name, entry in document.items():
        if name.startswith("_"):
            continue
        assert name in BENCHMARKS
        assert set(RESULT_KEYS) <= set(entry)


def test_anchor_dags_compile() -> None:
    anchors = sorted((REPO_ROOT / "bench" / "anchor_dags").glob("*.py"))
    assert {p.name for p in anchors} >= {"http_fulfilment.py", "http_after_sale.py", "http_order_sync.py"}
    for path in anchors:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


async def test_sandbox_await_mirror_answers_404_until_the_status_is_reached() -> None:
    """The unsigned mirror ``bench/wait_scale.py`` points ``HttpSensorTrigger`` at (served in-process)."""
    import httpx

    from xportcn_provider.sandbox.app import create_app
    from xportcn_provider.sandbox.engine import Sandbox

    sandbox = Sandbox()
    [order_id] = sandbox.seed_orders(1, status="waitsellersend")
    url = f"/_sandbox/await/order/{order_id}"
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        waiting = await client.get(url, params={"status": "waitbuyerreceive,success"})
        assert waiting.status_code == 404
        assert waiting.json()["status"] == "waitsellersend"
        reached = await client.get(url, params={"status": "waitsellersend"})
        assert reached.status_code == 200
        assert reached.json()["orderId"] == order_id
        missing = await client.get("/_sandbox/await/order/nope", params={"status": "x"})
        assert missing.status_code == 404
    assert sandbox.calls.stats()["requests"] == 3


def test_readme_and_performance_doc_show_the_recorded_results() -> None:
    """The tables in the docs are the ones ``bench/results.json`` holds (no stale numbers)."""
    from bench._common import RESULTS_PATH, markdown_table

    table = markdown_table(json.loads(RESULTS_PATH.read_text()))
    for doc in ("README.md", "docs/performance.md"):
        text = (REPO_ROOT / doc).read_text()
        assert table in text, f"{doc} is out of date: paste the output of `python -m bench.run --markdown`"
