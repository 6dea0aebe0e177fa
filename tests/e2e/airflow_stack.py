"""A real, throw-away Airflow 3 deployment for end-to-end tests.

``airflow_stack(dags_folder, env_extra)`` is a context manager that does by hand what
``airflow standalone`` does: a fresh ``AIRFLOW_HOME`` in a temporary directory, a migrated SQLite
metadata DB, and the four long-running components (``api-server``, ``scheduler`` with the
LocalExecutor, ``dag-processor``, ``triggerer``) as subprocesses, each in its own process group
with its output in ``<home>/component-logs/<name>.log``. The stack talks to Airflow only through
what a user would use: the public REST API v2 (token from the simple auth manager's
``POST /auth/token``), the CLI, and — for evidence — the task log files and the metadata DB
(read-only).

Everything is stopped on exit, also when the body raised: SIGTERM to each process group, then
SIGKILL to whatever (including forked task workers) is still alive.

``airflow_stack(..., distributed=Distributed(db_url, broker_url))`` starts the distributed
variant instead: ``CeleryExecutor`` on a Postgres metadata DB and a Redis broker (both supplied
by the caller, e.g. from ``services.py``), ``workers`` × ``airflow celery worker`` and
``triggerers`` × ``airflow triggerer``. Each component then reports its own host name
(``worker-1``, ``triggerer-2``, ... through ``e2e_hostname.py``), so Airflow's records say which
worker ran a task and which triggerer ran a trigger, and :meth:`AirflowStack.kill_component`
can SIGKILL one of them like a machine dying.

See ``docs/e2e.md`` for the rationale behind the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
USERNAME = "admin"

#: Roles of the simple auth manager (``SimpleAuthManagerRole``), lowest first.
ROLES = ("viewer", "user", "op", "admin")
#: The test auth manager used when a stack hides DAGs from users (see ``e2e_auth.py``).
HIDDEN_DAGS_AUTH_MANAGER = "e2e_auth.HiddenDagsAuthManager"

#: The directory of this file: put on the components' PYTHONPATH for ``e2e_hostname`` and
#: ``e2e_auth`` when a stack uses them.
E2E_DIR = Path(__file__).resolve().parent
#: Marks a celery worker as ready in its log (``worker-1@<host> ready.``).
CELERY_READY = " ready."

#: Stacks currently running in this process (the e2e conftest attaches their log tails to failures).
RUNNING: weakref.WeakSet[AirflowStack] = weakref.WeakSet()


class AirflowStackError(RuntimeError):
    """The stack could not start, a component died, or a wait ran out of time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _inherited_env() -> dict[str, str]:
    """``os.environ`` without any Airflow setting of the calling process (its home, conns, config)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def _with_e2e_dir(pythonpath: str | None) -> str:
    """``pythonpath`` with :data:`E2E_DIR` in front (once)."""
    parts = [p for p in (pythonpath or "").split(os.pathsep) if p and p != str(E2E_DIR)]
    return os.pathsep.join([str(E2E_DIR), *parts])


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON records of an Airflow 3 task/trigger log file (other lines skipped)."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "<no log file>"
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Distributed:
    """The distributed topology: CeleryExecutor, an external metadata DB and broker, N workers/triggerers.

    ``sql_alchemy_conn`` must name its driver (``postgresql+psycopg2://...``: SQLAlchemy 2.1 maps a
    bare ``postgresql://`` to psycopg 3, which is not installed); the Celery result backend is the
    same database (``db+`` prefix), which scheduler and workers must agree on.
    """

    sql_alchemy_conn: str
    broker_url: str
    workers: int = 2
    triggerers: int = 2
    #: task slots per ``airflow celery worker``
    worker_concurrency: int = 4

    def __post_init__(self) -> None:
        if not self.sql_alchemy_conn.startswith("postgresql+"):
            raise ValueError(
                f"sql_alchemy_conn must be postgresql+<driver>://..., got {self.sql_alchemy_conn!r}"
            )
        if self.workers < 1 or self.triggerers < 1 or self.worker_concurrency < 1:
            raise ValueError("workers, triggerers and worker_concurrency must be >= 1")

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, self.workers + 1)]

    @property
    def triggerer_names(self) -> list[str]:
        return [f"triggerer-{i}" for i in range(1, self.triggerers + 1)]


class AirflowStack:
    """One running deployment. Built and started by :func:`airflow_stack`.

    ``users`` adds simple-auth-manager users (name -> role, one of :data:`ROLES`) next to the
    admin, each with a known password; :meth:`token` signs any of them in. ``hidden_dags`` (user
    -> DAG ids) runs the api-server with ``e2e_auth.HiddenDagsAuthManager``, which denies those
    DAGs to that user: a stand-in for an auth manager with per-DAG rights.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env_extra: Mapping[str, str] | None = None,
        distributed: Distributed | None = None,
        users: Mapping[str, str] | None = None,
        hidden_dags: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.home = home
        self.distributed = distributed
        self.dags_folder = dags_folder
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        #: name -> role of every simple-auth-manager user; the admin first
        self.users: dict[str, str] = {USERNAME: "admin", **_checked_users(users or {})}
        #: name -> password written to the passwords file (re-read by :meth:`token` on a 401)
        self.passwords: dict[str, str] = {name: secrets.token_urlsafe(12) for name in self.users}
        self.hidden_dags: dict[str, list[str]] = _checked_hidden(hidden_dags or {}, self.users)
        self.component_log_dir = home / "component-logs"
        self.task_log_dir = home / "logs"
        self.db_path = home / "airflow.db"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        #: components stopped on purpose (name -> time.time() of the kill); check_alive skips them
        self.killed: dict[str, float] = {}
        self._tokens: dict[str, str] = {}
        #: keep AIRFLOW_HOME after stop (set by the e2e conftest when a test using the stack failed)
        self.keep_home = False
        self._http = httpx.Client(base_url=self.base_url, timeout=30.0)
        self.env = self._build_env(dict(env_extra or {}))

    # -- configuration -------------------------------------------------------------------------

    def _build_env(self, env_extra: dict[str, str]) -> dict[str, str]:
        from cryptography.fernet import Fernet

        passwords_file = self.home / "simple_auth_manager_passwords.json"
        passwords_file.write_text(json.dumps(self.passwords))
        env = _inherited_env()
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "PYTHONUNBUFFERED": "1",
                # --- core
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
                # --- auth: simple auth manager, the admin (and ``users``) with known passwords
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    f"{name}:{role}" for name, role in self.users.items()
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                # --- api-server
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                # --- fast parsing / scheduling on a small machine
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "15",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                # --- logs: plain text, no log-server ports (components run with --skip-serve-logs)
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.task_log_dir),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            }
        )
        if self.distributed is not None:
            env.update(self._distributed_env(self.distributed, env.get("PYTHONPATH")))
        if self.hidden_dags:
            env.update(
                {
                    "AIRFLOW__CORE__AUTH_MANAGER": HIDDEN_DAGS_AUTH_MANAGER,
                    "XPORTCN_E2E_HIDDEN_DAGS": ";".join(
                        f"{user}={','.join(dags)}" for user, dags in self.hidden_dags.items()
                    ),
                    "PYTHONPATH": _with_e2e_dir(env.get("PYTHONPATH")),
                }
            )
        env.update(env_extra)
        return env

    @staticmethod
    def _distributed_env(dist: Distributed, pythonpath: str | None) -> dict[str, str]:
        """Settings of the distributed topology (see ``docs/e2e.md``, "Distributed")."""
        db_url = dist.sql_alchemy_conn
        slots = dist.workers * dist.worker_concurrency
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(2 * slots),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CELERY__BROKER_URL": dist.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(dist.worker_concurrency),
            # one host name per component (e2e_hostname.get reads XPORTCN_E2E_ROLE)
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "e2e_hostname.get",
            "PYTHONPATH": _with_e2e_dir(pythonpath),
        }

    # -- processes -----------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this deployment."""
        result = subprocess.run(
            [str(AIRFLOW_BIN), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AirflowStackError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
            )
        return result

    def _spawn(self, name: str, args: list[str]) -> None:
        self.component_log_dir.mkdir(parents=True, exist_ok=True)
        env = self.env
        if self.distributed is not None:
            env = {**env, "XPORTCN_E2E_ROLE": name}  # its host name, see e2e_hostname.py
        with open(self.component_log_dir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                [str(AIRFLOW_BIN), *args],
                env=env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals the whole group
            )

    def start(self, timeout: float = 90.0) -> None:
        """Migrate the DB, start the four components and wait until the API reports them healthy."""
        self.cli("db", "migrate", timeout=timeout)
        RUNNING.add(self)
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)])
        self._spawn("scheduler", ["scheduler", "--skip-serve-logs"])
        self._spawn("dag-processor", ["dag-processor"])
        if self.distributed is None:
            self._spawn("triggerer", ["triggerer", "--skip-serve-logs"])
        else:
            for name in self.distributed.triggerer_names:
                self._spawn(name, ["triggerer", "--skip-serve-logs"])
            for name in self.distributed.worker_names:
                args = ["celery", "worker", "--skip-serve-logs", "--celery-hostname", f"{name}@%h"]
                self._spawn(name, [*args, "--concurrency", str(self.distributed.worker_concurrency)])
        self.wait_healthy(timeout=timeout)
        # The execution API's one-off start-up (tens of seconds of CPU on the api-server's event
        # loop on a loaded 2-core machine) happens here, not in the middle of a test's first task.
        self.warm_up_execution_api()

    def check_alive(self) -> None:
        """Raise if a component exited (other than one stopped by :meth:`kill_component`)."""
        for name, proc in self.procs.items():
            if name not in self.killed and proc.poll() is not None:
                raise AirflowStackError(f"{name} exited with {proc.returncode}\n{self.log_tails()}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every component's process group, wait, then SIGKILL what is left (idempotent)."""
        RUNNING.discard(self)
        self._http.close()
        victims: set[int] = set()
        for proc in self.procs.values():
            with contextlib.suppress(psutil.Error):
                victims.update(p.pid for p in psutil.Process(proc.pid).children(recursive=True))
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers in the group, even if the leader exited
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for pid in victims:  # children that left the group (e.g. called setsid)
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()

    def kill_component(self, name: str, sig: signal.Signals = signal.SIGKILL) -> float:
        """Send ``sig`` to a component's whole process group, like its machine dying; returns when.

        The group holds the component and its children (a triggerer's trigger runner and a
        worker's pool and task processes). The time returned is ``time.time()`` just before
        the signal; the component is then expected dead (:meth:`check_alive` ignores it).
        """
        proc = self.procs[name]
        if proc.poll() is not None:
            raise AirflowStackError(f"{name} already exited with {proc.returncode}")
        killed_at = time.time()
        os.killpg(proc.pid, sig)
        self.killed[name] = killed_at
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        return killed_at

    def component_log(self, name: str) -> str:
        """The whole log of one component so far (``triggerer``, ``scheduler``, ...)."""
        path = self.component_log_dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = 40) -> str:
        """The last lines of every component's log, for failure reports."""
        parts = [f"AIRFLOW_HOME={self.home}"]
        for name in self.procs or COMPONENTS:
            parts.append(f"----- {name} (last {lines} lines) -----")
            parts.append(_tail(self.component_log_dir / f"{name}.log", lines))
        return "\n".join(parts)

    # -- REST API ------------------------------------------------------------------------------

    @property
    def password(self) -> str:
        """The admin's password."""
        return self.passwords[USERNAME]

    def token(self, username: str = USERNAME) -> str:
        """A JWT for ``username`` (the admin by default) from ``POST /auth/token``, cached per user.

        On a 401 the password is read back from the passwords file: the api-server's simple
        auth manager rewrites that file with a generated password when, at its start, it does
        not find the user in it (seen intermittently with the distributed topology on a fresh
        clone); the file is what the api-server checks against.
        """
        if username not in self.users:
            raise ValueError(f"no user {username!r} in this stack (users: {sorted(self.users)})")
        if username not in self._tokens:
            credentials = {"username": username, "password": self.passwords[username]}
            resp = self._http.post("/auth/token", json=credentials)
            if resp.status_code == 401:
                passwords_file = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
                current = json.loads(passwords_file.read_text() or "{}").get(username)
                if current and current != self.passwords[username]:
                    print(
                        f"[airflow_stack] {passwords_file.name} was rewritten by the api-server",
                        file=sys.stderr,
                    )
                    self.passwords[username] = str(current)
                    resp = self._http.post("/auth/token", json={**credentials, "password": str(current)})
            resp.raise_for_status()
            self._tokens[username] = str(resp.json()["access_token"])
        return self._tokens[username]

    def api(self, method: str, path: str, *, json: Any = None, params: Any = None, ok: bool = True) -> Any:
        """Call ``/api/v2/<path>`` as the admin; returns the decoded JSON (or the response if ok=False).

        On SQLite a write the API makes (its audit-log row, before the endpoint runs) can lose the
        single write lock to a busy scheduler and answer 500 "Database error" (seen once in a full
        run on 2 cores). A call that is safe to repeat (anything but POST) is then tried again, up
        to 3 times; every other answer, and every POST, is returned as it is.
        """
        for attempt in range(4):
            resp = self._http.request(
                method,
                f"/api/v2/{path.lstrip('/')}",
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {self.token()}"},
            )
            locked = resp.status_code == 500 and "Database error" in resp.text
            if not locked or method.upper() == "POST" or attempt == 3:
                break
            print(f"[airflow_stack] {method} {path}: database busy, trying again", file=sys.stderr)
            time.sleep(1 + attempt)
        if not ok:
            return resp
        if resp.is_error:
            raise AirflowStackError(f"{method} {path} -> {resp.status_code}: {resp.text[:2000]}")
        return resp.json() if resp.content else None

    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (no auth needed)."""
        resp = self._http.get("/api/v2/monitor/health")
        resp.raise_for_status()
        return dict(resp.json())

    def wait_healthy(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the metadatabase, scheduler, triggerer and dag-processor all report healthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = self.health()
            except httpx.HTTPError as exc:
                last = exc
            else:
                parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if all((last.get(p) or {}).get("status") == "healthy" for p in parts) and (
                    self.distributed is None or self._distributed_ready()
                ):
                    return last
            time.sleep(1)
        raise AirflowStackError(f"stack not healthy after {timeout}s (last: {last!r})\n{self.log_tails()}")

    def _distributed_ready(self) -> bool:
        """Every triggerer has a heartbeating job and every celery worker logged ``ready``.

        The health endpoint says "healthy" as soon as *one* triggerer heartbeats. Worker readiness
        comes from the worker's own log line: ``celery inspect ping`` costs seconds of CPU.
        """
        assert self.distributed is not None
        alive = {str(job["hostname"]) for job in self.triggerer_jobs(alive_within=10.0)}
        if not set(self.distributed.triggerer_names) <= alive:
            return False
        for name in self.distributed.worker_names:
            log = self.component_log_dir / f"{name}.log"
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            if not any(f"{name}@" in line and CELERY_READY in line for line in lines):
                return False
        return True

    def triggerer_jobs(self, alive_within: float | None = None) -> list[dict[str, Any]]:
        """``TriggererJob`` rows (id, hostname, state, latest_heartbeat), newest first.

        ``alive_within`` keeps only jobs that heartbeated that many seconds ago or less: a
        SIGKILLed triggerer's job stays ``running`` in the table, only its heartbeat ages.
        """
        jobs = self.api("GET", "jobs", params={"job_type": "TriggererJob", "limit": 100})["jobs"]
        jobs = sorted(jobs, key=lambda j: int(j["id"]), reverse=True)
        if alive_within is not None:
            now = time.time()
            jobs = [
                j
                for j in jobs
                if j.get("latest_heartbeat")
                and j.get("end_date") is None
                and now - _ts(str(j["latest_heartbeat"])).timestamp() <= alive_within
            ]
        return [dict(j) for j in jobs]

    def warm_up_execution_api(self, timeout: float = 180.0) -> None:
        """Have the execution API answer once (``GET /execution/health``) before timed work.

        The execution API (Cadwyn) builds its versioned routes on its first request, on the
        api-server's event loop: on a loaded 2-core machine that blocks every route of the
        api-server (plugin routes included) for tens of seconds. Tests and benchmarks that time
        answers call this first, so the first task run does not land in their measurement.
        """
        self._http.get("/execution/health", timeout=timeout)

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "importErrors")["import_errors"])

    def wait_for_dag(self, dag_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed and serialized ``dag_id``; fail fast on import errors."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            resp = self.api("GET", f"dags/{dag_id}", ok=False)
            if resp.status_code == 200:
                return dict(resp.json())
            errors = self.import_errors()
            if errors:
                raise AirflowStackError(f"import errors while waiting for {dag_id}: {errors}")
            time.sleep(1)
        raise AirflowStackError(f"DAG {dag_id} not parsed after {timeout}s\n{self.log_tails()}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Create a manual DAG run through the REST API; returns its run_id."""
        body = {"logical_date": None, "conf": dict(conf or {})}
        return str(self.api("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}"))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        """Poll the run until it is ``success`` or ``failed``; returns that state."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self.check_alive()
            state = self.dag_run(dag_id, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                return str(state)
            time.sleep(1)
        tis = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
        raise AirflowStackError(f"run {dag_id}/{run_id} still {state} after {timeout}s; tasks: {tis}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return list(data["task_instances"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: str | set[str], timeout: float = 60.0
    ) -> str:
        """Poll one task instance until its state is in ``states`` (e.g. ``"deferred"``)."""
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self.check_alive()
            state = self.task_instance(dag_id, run_id, task_id)["state"]
            if state in wanted:
                return str(state)
            time.sleep(0.5)
        raise AirflowStackError(f"{dag_id}/{run_id}/{task_id} is {state}, not {wanted}, after {timeout}s")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value as the REST API returns it (``GET .../xcomEntries/<key>``)."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.api("GET", path)["value"]

    def event_log(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        """Audit-log rows (``GET /eventLogs``) of a run, oldest first."""
        params: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id, "order_by": "id", "limit": 100}
        if task_id is not None:
            params["task_id"] = task_id
        return list(self.api("GET", "eventLogs", params=params)["event_logs"])

    # -- evidence from Airflow's own records ---------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """A read-only query on the metadata DB (SQLite, or Postgres when distributed).

        Parameters are written ``?`` in both cases (translated to ``%s`` for Postgres).
        """
        if self.distributed is not None:
            return _pg_query(self.distributed.sql_alchemy_conn, sql.replace("?", "%s"), params)
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
        finally:
            conn.close()

    def task_log_files(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        """Every log file of one task instance (worker attempts and ``.trigger.<job id>.log`` files)."""
        folder = self.task_log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sorted(folder.glob("attempt=*.log*")) if folder.is_dir() else []

    def deferral_evidence(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """What Airflow recorded about one task instance deferring and being resumed by a trigger.

        Three independent records, all written by Airflow itself:

        * the audit log (``GET /eventLogs``): the task's events for one try, e.g.
          ``running, deferred, running, success`` — the worker deferred, then ran again;
        * the worker's task log ``attempt=<n>.log``: ``Pausing task as DEFERRED`` from the first
          run, and a second ``Pre Execute`` group from the resumed run;
        * the trigger log ``attempt=<n>.log.trigger.<job id>.log``, written by the triggerer while
          it ran the trigger: ``Trigger fired event`` / ``trigger completed``; ``<job id>`` is the
          ``job`` row of the triggerer process (``GET /jobs``: ``job_type == "TriggererJob"``).

        ``completed_by_triggerer`` is true when all three agree and the trigger fired between the
        deferral and the resumption.
        """
        ti = self.task_instance(dag_id, run_id, task_id)
        try_number = int(ti["try_number"])
        events = [e for e in self.event_log(dag_id, run_id, task_id) if e.get("try_number") == try_number]
        event_names = [str(e["event"]) for e in events]
        deferred_at = resumed_at = None
        for event in events:
            if event["event"] == "deferred" and deferred_at is None:
                deferred_at = str(event["when"])
            elif event["event"] == "running" and deferred_at is not None and resumed_at is None:
                resumed_at = str(event["when"])

        files = [
            f
            for f in self.task_log_files(dag_id, run_id, task_id)
            if f.name.startswith(f"attempt={try_number}.")
        ]
        worker_log = next((f for f in files if f.name == f"attempt={try_number}.log"), None)
        worker_lines = _json_lines(worker_log) if worker_log else []
        worker_events = [str(line.get("event", "")) for line in worker_lines]

        triggerer_jobs = self.api("GET", "jobs", params={"job_type": "TriggererJob", "limit": 100})["jobs"]
        jobs = {int(j["id"]): j for j in triggerer_jobs}
        triggers: list[dict[str, Any]] = []
        for path in files:
            if ".trigger." not in path.name:
                continue
            job_id = int(path.name.rsplit(".trigger.", 1)[1].removesuffix(".log"))
            lines = _json_lines(path)
            fired = [line for line in lines if line.get("event") == "Trigger fired event"]
            triggers.append(
                {
                    "log_file": str(path),
                    "triggerer_job_id": job_id,
                    "triggerer_job_type": (jobs.get(job_id) or {}).get("job_type"),
                    "trigger_classes": sorted(
                        {str(line["logger"]) for line in lines if "triggers" in str(line.get("logger", ""))}
                    ),
                    "fired_at": [str(line["timestamp"]) for line in fired],
                    "events": [str(line.get("result")) for line in fired],
                    "completed": any(line.get("event") == "trigger completed" for line in lines),
                }
            )

        deferred = "deferred" in event_names and any(
            e.startswith("Pausing task as DEFERRED") for e in worker_events
        )
        resumed = resumed_at is not None and worker_events.count("::group::Pre Execute") >= 2
        fired_by_triggerer = [
            t
            for t in triggers
            if t["triggerer_job_type"] == "TriggererJob" and t["fired_at"] and t["completed"]
        ]
        in_order = bool(
            deferred_at
            and resumed_at
            and any(
                _ts(deferred_at) <= _ts(fired) <= _ts(resumed_at)
                for t in fired_by_triggerer
                for fired in t["fired_at"]
            )
        )
        return {
            "state": ti["state"],
            "try_number": try_number,
            "events": event_names,
            "deferred_at": deferred_at,
            "resumed_at": resumed_at,
            "deferred": deferred,
            "resumed": resumed,
            "worker_log": str(worker_log) if worker_log else None,
            "triggers": triggers,
            "completed_by_triggerer": bool(
                deferred and resumed and fired_by_triggerer and in_order and ti["state"] == "success"
            ),
        }

    # -- reschedule mode and the UI's connection Test (issue 14 items 4 and 5) -------------------

    def reschedules(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """The ``task_reschedule`` rows of a task (one per poke that rescheduled), oldest first,
        with ``gap`` = seconds from the poke's end to the date it asked to be run again."""
        rows = self.query(
            "SELECT tr.start_date, tr.end_date, tr.reschedule_date FROM task_reschedule tr "
            "JOIN task_instance ti ON ti.id = tr.ti_id "
            "WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ? ORDER BY tr.id",
            (dag_id, run_id, task_id),
        )
        for row in rows:
            row["gap"] = (_ts(str(row["reschedule_date"])) - _ts(str(row["end_date"]))).total_seconds()
        return rows

    def scheduler_state_mismatches(self, task_id: str) -> list[str]:
        """Scheduler log lines where an executor's report contradicted a TI's state for ``task_id``
        ("finished with state success, but the task instance's state attribute is queued")."""
        log = self.component_log_dir / "scheduler.log"
        if not log.exists():
            return []
        return [
            line
            for line in log.read_text(errors="replace").splitlines()
            if "state attribute is" in line and f".{task_id} " in line
        ]

    def hook_meta(self, conn_type: str) -> dict[str, Any]:
        """What the UI's connection form is built from (``GET /ui/connections/hook_meta``)."""
        resp = self._http.get(
            "/ui/connections/hook_meta", headers={"Authorization": f"Bearer {self.token()}"}
        )
        resp.raise_for_status()
        return next(dict(m) for m in resp.json() if m["connection_type"] == conn_type)

    def test_connection_from_list(self, conn_id: str) -> Any:
        """Press the connection list's **Test** button: the request Airflow 3.3.2's UI sends.

        The UI takes the row of ``GET /api/v2/connections`` and posts it to
        ``/api/v2/connections/test`` with ``description``/``host``/``login``/``password``/
        ``schema`` as ``?? ""``, ``extra`` ``""``/``null`` as ``"{}"``, and ``port`` as
        ``Number(port)`` (``0`` for none); the password in that row is masked (``***``).
        Returns the raw response (status 200 with ``{status, message}``, or the 400 refusal).
        """
        rows = self.api("GET", "connections", params={"limit": 1000})["connections"]
        row = next(r for r in rows if r["connection_id"] == conn_id)
        body = {
            "conn_type": row["conn_type"],
            "connection_id": row["connection_id"],
            "description": row.get("description") or "",
            "extra": "{}" if row.get("extra") in ("", None) else row["extra"],
            "host": row.get("host") or "",
            "login": row.get("login") or "",
            "password": row.get("password") or "",
            "port": int(row["port"]) if row.get("port") is not None else 0,
            "schema": row.get("schema") or "",
        }
        return self.api("POST", "connections/test", json=body, ok=False)


def _checked_users(users: Mapping[str, str]) -> dict[str, str]:
    """Extra users, validated before anything starts (the admin's name is taken)."""
    checked: dict[str, str] = {}
    for name, role in users.items():
        if not name or any(c in name for c in ":,;= ") or name == USERNAME:
            raise ValueError(f"user name {name!r}: not empty, not {USERNAME!r}, no ':,;= '")
        if role.lower() not in ROLES:
            raise ValueError(f"user {name!r}: role {role!r} is not one of {ROLES}")
        checked[name] = role.lower()
    return checked


def _checked_hidden(hidden: Mapping[str, Iterable[str]], users: Mapping[str, str]) -> dict[str, list[str]]:
    """``hidden_dags`` validated: known users, non-empty DAG ids without separators."""
    checked: dict[str, list[str]] = {}
    for name, dag_ids in hidden.items():
        if name not in users:
            raise ValueError(f"hidden_dags names user {name!r}, who is not in users {sorted(users)}")
        dags = sorted(set(dag_ids))
        if not dags or any(not d or any(c in d for c in ",;=") for d in dags):
            raise ValueError(f"hidden_dags[{name!r}]: non-empty DAG ids without ',;=', got {dags}")
        checked[name] = dags
    return checked


def _pg_query(sqlalchemy_url: str, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    """One read-only query on Postgres, rows as dicts (psycopg2; the URL's ``+driver`` dropped)."""
    import psycopg2
    import psycopg2.extras

    scheme, rest = sqlalchemy_url.split("://", 1)
    conn = psycopg2.connect(f"{scheme.split('+', 1)[0]}://{rest}")
    try:
        conn.set_session(readonly=True, autocommit=True)
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]
    finally:
        conn.close()


@contextlib.contextmanager
def airflow_stack(
    dags_folder: str | os.PathLike[str],
    env_extra: Mapping[str, str] | None = None,
    *,
    startup_timeout: float = 90.0,
    keep_home: bool | None = None,
    distributed: Distributed | None = None,
    users: Mapping[str, str] | None = None,
    hidden_dags: Mapping[str, Iterable[str]] | None = None,
) -> Iterator[AirflowStack]:
    """Start a throw-away Airflow deployment serving ``dags_folder``; stop it on exit.

    ``env_extra`` is added last to every component's environment (connections as
    ``AIRFLOW_CONN_*``, config overrides as ``AIRFLOW__SECTION__KEY``). The temporary
    ``AIRFLOW_HOME`` is removed on a clean exit and kept (path printed) when the body raised, or
    always when ``keep_home`` is true or ``XPORTCN_E2E_KEEP_HOME=1``. ``distributed`` switches
    to CeleryExecutor with several workers and triggerers (see :class:`Distributed`). ``users``
    (name -> role) adds signed-in users next to the admin (``stack.token(username=...)``);
    ``hidden_dags`` (user -> DAG ids) denies those DAGs to that user (``e2e_auth.py``).
    """
    if keep_home is None:
        keep_home = os.environ.get("XPORTCN_E2E_KEEP_HOME") == "1"
    home = Path(tempfile.mkdtemp(prefix="xportcn-e2e-airflow-"))
    try:
        stack = AirflowStack(home, Path(dags_folder).resolve(), env_extra, distributed, users, hidden_dags)
    except BaseException:  # bad arguments: nothing started, nothing to keep
        shutil.rmtree(home, ignore_errors=True)
        raise
    failed = True
    try:
        stack.start(timeout=startup_timeout)
        yield stack
        failed = False
    except BaseException:
        print(f"\n[airflow_stack] failure; component logs:\n{stack.log_tails()}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        if failed or keep_home or stack.keep_home:
            print(f"[airflow_stack] AIRFLOW_HOME kept at {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
