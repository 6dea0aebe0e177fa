"""Throw-away Postgres and Redis servers for the distributed end-to-end test.

Each starter is a context manager that runs the Debian binaries (packages ``postgresql`` and
``redis-server``) on a free loopback port with all their files in a fresh temporary directory,
waits until the server answers, yields its connection URL and stops it afterwards (also when the
body raised), removing the directory.

Postgres refuses to run as root, so when the tests run as root (as CI does) ``initdb`` and
``pg_ctl`` run as the unprivileged ``postgres`` user that the Debian package creates, through
``runuser``. The cluster trusts local connections (``--auth=trust``, loopback only) and is tuned
for a throw-away test database (``fsync=off``, no full-page writes): durability is not what the
test is about, speed on a 2-core machine is.

When a binary is missing, :func:`postgres_missing` / :func:`redis_missing` return a one-line
reason naming the Debian package (the test skips with it; ``.ci/run`` installs the packages).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Where Debian's ``postgresql-NN`` packages put the server binaries (not on ``PATH``).
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
#: The user the Debian package creates, used to run the server when the tests run as root.
PG_USER = "postgres"
#: Database role and name inside the throw-away cluster.
PG_ROLE = "airflow"
PG_DB = "airflow"
#: Trust loopback connections (a throw-away cluster), C locale, no fsync while creating it.
INITDB_OPTIONS = ("--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")


class ServiceError(RuntimeError):
    """A service could not start (its log tail is in the message)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "<no log file>"


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        time.sleep(0.1)
    return False


# --- Postgres ------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``pg_dump``: newest Debian version, else PATH."""
    versions = sorted(
        (p for p in DEBIAN_PG_ROOT.glob("*/bin") if (p / "initdb").exists() and (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


def postgres_missing() -> str | None:
    """Why Postgres cannot be started here (one line naming the Debian package), or ``None``."""
    if postgres_bin_dir() is None:
        return "Postgres server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return f"running as root and no {PG_USER!r} user to run Postgres as: apt-get install postgresql"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing: apt-get install util-linux"
    return None


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away cluster; ``url`` is a SQLAlchemy URL for the psycopg2 driver."""

    port: int
    directory: Path
    bin_dir: Path

    @property
    def url(self) -> str:
        # SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3: name the installed driver.
        return f"postgresql+psycopg2://{PG_ROLE}@127.0.0.1:{self.port}/{PG_DB}"

    @property
    def dsn(self) -> str:
        """The same database as a libpq connection string (psycopg2, ``pg_dump``)."""
        return f"postgresql://{PG_ROLE}@127.0.0.1:{self.port}/{PG_DB}"

    def dump(self) -> bytes:
        """``pg_dump`` of the whole database as SQL text (every table's rows)."""
        result = subprocess.run(
            [str(self.bin_dir / "pg_dump"), "--no-owner", "--data-only", self.dsn],
            capture_output=True,
            timeout=120,
            check=True,
        )
        return result.stdout


def _as_pg_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def postgres_server(timeout: float = 60.0) -> Iterator[PostgresServer]:
    """Start Postgres on a free port in a temporary directory; stop it and remove the directory."""
    reason = postgres_missing()
    if reason:
        raise ServiceError(reason)
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    directory = Path(tempfile.mkdtemp(prefix="xportcn-e2e-pg-"))
    if os.geteuid() == 0:  # the server runs as ``postgres``: it must own its directory (0700)
        user = pwd.getpwnam(PG_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
    data, log = directory / "data", directory / "postgres.log"
    port = free_port()
    server = PostgresServer(port, directory, bin_dir)
    started = False
    try:
        subprocess.run(
            _as_pg_user([str(bin_dir / "initdb"), "-D", str(data), "-U", PG_ROLE, *INITDB_OPTIONS]),
            capture_output=True,
            timeout=timeout,
            check=True,
        )
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c full_page_writes=off -c synchronous_commit=off -c max_connections=300"
        )
        started = True
        result = subprocess.run(
            _as_pg_user(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
            ),
            capture_output=True,
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise ServiceError(f"pg_ctl start exited {result.returncode}: {result.stderr!r}\n{_tail(log)}")
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user=PG_ROLE, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {PG_DB}")
        finally:
            conn.close()
        yield server
    except subprocess.CalledProcessError as err:
        raise ServiceError(f"{err.cmd[0]} failed: {err.stderr!r}\n{_tail(log)}") from err
    finally:
        if started:
            stopped = subprocess.run(
                _as_pg_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                timeout=60,
            )
            if stopped.returncode != 0:  # not running, or stuck: make sure no postmaster is left
                with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError, IndexError):
                    os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)


# --- Redis ---------------------------------------------------------------------------------------


def redis_missing() -> str | None:
    """Why Redis cannot be started here (one line naming the Debian package), or ``None``."""
    if shutil.which("redis-server") is None:
        return "redis-server not found: apt-get install redis-server"
    return None


@contextlib.contextmanager
def redis_server(timeout: float = 30.0) -> Iterator[str]:
    """Start ``redis-server`` on a free port in a temporary directory; yields its ``redis://`` URL."""
    reason = redis_missing()
    if reason:
        raise ServiceError(reason)
    directory = Path(tempfile.mkdtemp(prefix="xportcn-e2e-redis-"))
    port = free_port()
    log = directory / "redis.log"
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    args += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(log)]
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        if not _wait_for_port(port, timeout, proc):
            raise ServiceError(f"redis-server did not listen on {port} (exit {proc.poll()}):\n{_tail(log)}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(directory, ignore_errors=True)
