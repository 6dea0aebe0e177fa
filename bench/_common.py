"""Shared pieces of the benchmarks: environment, the sandbox subprocess, child runs, results.

Every benchmark compares *ours* with a named *anchor* and reports ``ratio = ours / anchor``
against a goal (lower is better for every benchmark here). The sandbox always runs in its own
process (``python -m xportcn_provider.sandbox.cli``) so its CPU time and its share of the GIL never
land on the measured side.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
#: Scratch space (git-ignored): Airflow home, sync partitions, child outputs.
WORK_DIR = BENCH_DIR / ".work"
RESULTS_PATH = BENCH_DIR / "results.json"
QUICK_RESULTS_PATH = WORK_DIR / "results-quick.json"

#: Keys every benchmark entry of ``results.json`` carries (the smoke test checks them).
RESULT_KEYS = ("ours", "anchor", "ratio", "goal", "unit", "met")


# --- environment -------------------------------------------------------------------------------


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` plus a throw-away ``AIRFLOW_HOME`` and no example DAGs (for children too)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    home = WORK_DIR / "airflow_home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")])),
        }
    )
    env.pop("AIRFLOW_CONN_XPORTCN_DEFAULT", None)
    env.pop("AIRFLOW_CONN_HTTP_DEFAULT", None)
    env.update(extra or {})
    return env


def apply_bench_env() -> None:
    """Point this process at the benchmark's Airflow home; call before Airflow is imported."""
    os.environ.update(bench_env())


# --- the sandbox in its own process -------------------------------------------------------------


@dataclass
class SandboxProcess:
    """A sandbox served by a child process; ``handle`` has the URL, the connection and control."""

    process: subprocess.Popen[str]
    handle: Any  # xportcn_provider.sandbox.SandboxHandle

    @property
    def control(self) -> Any:
        return self.handle.control

    @property
    def port(self) -> int:
        return int(self.handle.port)


_URL_LINE = re.compile(r"Xportcn sandbox on http://(?P<host>[^:/]+):(?P<port>\d+)/")


@contextmanager
def sandbox_process(startup_timeout: float = 60.0) -> Iterator[SandboxProcess]:
    """Start ``python -m xportcn_provider.sandbox.cli --port 0`` and stop it (by its pid) afterwards."""
    from xportcn_provider.sandbox import SandboxCredentials, SandboxHandle

    command = [sys.executable, "-m", "xportcn_provider.sandbox.cli", "--port", "0", "--log-level", "warning"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=bench_env()
    )
    try:
        deadline = time.monotonic() + startup_timeout
        match = None
        assert process.stdout is not None
        while match is None:
            line = process.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("the sandbox subprocess did not announce its URL")
            match = _URL_LINE.search(line)
        handle = SandboxHandle.for_server(match["host"], int(match["port"]), SandboxCredentials.from_env())
        while True:  # the URL is printed before uvicorn accepts; wait for /health
            try:
                handle.control.health()
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield SandboxProcess(process, handle)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


# --- children ----------------------------------------------------------------------------------


def run_child(args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 300) -> Any:
    """Run ``python <args>`` in a fresh interpreter; its last stdout line is JSON, returned decoded."""
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else bench_env(),
        cwd=REPO_ROOT,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"bench child {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / (1024 * 1024)


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    return time.process_time()


# --- statistics and results ---------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return float(ordered[index])


def result(
    ours: float,
    anchor: float,
    *,
    goal: float,
    unit: str,
    anchor_name: str,
    measures: str,
    **details: Any,
) -> dict[str, Any]:
    """One ``results.json`` entry: ``ratio = ours / anchor``, ``met`` when ``ratio <= goal``."""
    ratio = ours / anchor if anchor else float("inf")
    return {
        "ours": round(ours, 6),
        "anchor": round(anchor, 6),
        "ratio": round(ratio, 3),
        "goal": goal,
        "unit": unit,
        "met": ratio <= goal,
        "anchor_name": anchor_name,
        "measures": measures,
        **details,
    }


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def write_results(
    results: Mapping[str, Mapping[str, Any]], path: Path, *, quick: bool, seconds: float
) -> dict[str, Any]:
    """Write ``{"_meta": {...}, "<name>": {...}}``; keys starting with ``_`` are not benchmarks."""
    for name, entry in results.items():
        missing = [key for key in RESULT_KEYS if key not in entry]
        if missing:
            raise ValueError(f"benchmark {name!r} result lacks {', '.join(missing)}")
    document: dict[str, Any] = {
        "_meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "quick": quick,
            "seconds": round(seconds, 1),
            "machine": machine(),
        },
        **results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2, sort_keys=False)
        out.write("\n")
    os.replace(tmp, path)
    return document


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The printed summary: one row per benchmark (``_``-prefixed keys skipped)."""
    header = ("benchmark", "ours", "anchor", "unit", "ratio", "goal", "met")
    rows = [header]
    for name, entry in results.items():
        if name.startswith("_"):
            continue
        rows.append(
            (
                name,
                _fmt(entry["ours"]),
                _fmt(entry["anchor"]),
                str(entry["unit"]),
                _fmt(entry["ratio"]),
                f"<= {_fmt(entry['goal'])}",
                "yes" if entry["met"] else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(document: Mapping[str, Any]) -> str:
    """The README/performance table for a ``results.json`` document (a test keeps both in sync)."""
    meta = document.get("_meta", {})
    machine = meta.get("machine", {})
    lines = [
        f"Measured {str(meta.get('date', '?'))[:10]} on {machine.get('cpus', '?')} cores, "
        f"{machine.get('memory_gib', '?')} GiB, Python {machine.get('python', '?')} "
        "(`bench/results.json`):",
        "",
        "| benchmark | ours | anchor | unit | ratio (ours / anchor) | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in document.items():
        if name.startswith("_"):
            continue
        lines.append(
            f"| `{name}` | {_fmt(entry['ours'])} | {_fmt(entry['anchor'])} | {entry['unit']} | "
            f"**{_fmt(entry['ratio'])}** | ≤ {_fmt(entry['goal'])} | {'yes' if entry['met'] else 'no'} |"
        )
    return "\n".join(lines)
