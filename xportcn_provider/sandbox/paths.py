"""Serve some endpoints under other paths, to play a service whose paths differ from ours.

Many catalogue paths are inferred (contract §2). To prove that ``airflow xportcn check`` finds a
moved endpoint and the override that fixes it, the sandbox can *move* an endpoint: it then
answers HTTP 404 at the catalogue path (like any unknown route) and serves the endpoint at the
new path instead — one of the endpoint's recorded ``alternates`` or any other free path.

Moves come from ``xportcn-sandbox --path-map FILE`` (a JSON object ``{"<endpoint name>":
"/path"}``, kept across control-API resets) or from ``POST /_sandbox/paths`` (until the next
reset). Thread-safe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xportcn_provider.api.endpoints import CATALOGUE, Endpoint


class PathMapError(ValueError):
    """A bad move: unknown endpoint name, a path that is not absolute, or a path already served."""


def load_path_map(file: str | Path) -> dict[str, str]:
    """Read a ``--path-map`` file: a JSON object of endpoint name -> path (checked by :class:`PathMap`)."""
    try:
        raw = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PathMapError(f"cannot read path map {str(file)!r}: {err}") from None
    if not isinstance(raw, dict):
        raise PathMapError(f"path map {str(file)!r} must be a JSON object of endpoint name -> path")
    return {str(k): v for k, v in raw.items()}


class PathMap:
    """Which endpoints are served elsewhere; ``reset`` returns to the start-up moves."""

    def __init__(self, startup: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._moves: dict[str, str] = {}
        for name, path in (startup or {}).items():
            self.move(name, path)
        self._startup = dict(self._moves)

    def reset(self) -> None:
        with self._lock:
            self._moves = dict(self._startup)

    def clear(self) -> None:
        with self._lock:
            self._moves = {}

    def moves(self) -> dict[str, str]:
        with self._lock:
            return dict(self._moves)

    def move(self, name: str, path: Any) -> dict[str, str]:
        """Serve ``name`` at ``path`` from now on (``None`` or its catalogue path: back home)."""
        if name not in CATALOGUE:
            raise PathMapError(f"unknown endpoint {name!r}; valid: {', '.join(sorted(CATALOGUE))}")
        home = CATALOGUE[name].path
        if path is None or path == home:
            with self._lock:
                self._moves.pop(name, None)
                return dict(self._moves)
        if not isinstance(path, str) or not path.startswith("/") or "?" in path:
            raise PathMapError(f"the new path of {name} must start with '/' (no query), got {path!r}")
        with self._lock:
            for other in CATALOGUE.values():
                if other.name != name and other.path == path and other.name not in self._moves:
                    raise PathMapError(f"{path} is where {other.name} is served; move {other.name} first")
            for other_name, other_path in self._moves.items():
                if other_name != name and other_path == path:
                    raise PathMapError(f"{path} already serves the moved endpoint {other_name}")
            self._moves[name] = path
            return dict(self._moves)

    def moved_away(self, name: str) -> bool:
        """``True`` when ``name`` is no longer served at its catalogue path."""
        with self._lock:
            return name in self._moves

    def endpoint_at(self, path: str) -> Endpoint | None:
        """The moved endpoint served at ``path`` (relative to the API prefix), if any."""
        with self._lock:
            for name, moved in self._moves.items():
                if moved == path:
                    return CATALOGUE[name]
        return None
