"""The throw-away Postgres and Redis of ``services.py``: up on a free port, gone afterwards.

Fast (a few seconds); the distributed end-to-end test depends on both starters cleaning up after
themselves, also when its body fails, and on a clear skip reason where the binaries are missing.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import services


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_postgres_runs_as_an_unprivileged_user_and_is_removed_afterwards() -> None:
    reason = services.postgres_missing()
    if reason:
        pytest.skip(reason)
    import psycopg2

    with pytest.raises(RuntimeError, match="body failed"), services.postgres_server() as pg:
        directory = pg.directory
        conn = psycopg2.connect(pg.dsn)
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT current_database(), current_user, setting FROM pg_settings WHERE name = 'fsync'"
                )
                assert cursor.fetchone() == ("airflow", "airflow", "off")
        finally:
            conn.close()
        server_user = (directory / "data").owner()
        assert server_user != "root"  # initdb ran as the postgres user (or as the non-root caller)
        assert b"PostgreSQL database dump" in pg.dump()
        raise RuntimeError("body failed")
    assert not _listening(pg.port)
    assert not Path(directory).exists()


def test_redis_answers_and_is_stopped_afterwards() -> None:
    reason = services.redis_missing()
    if reason:
        pytest.skip(reason)
    with services.redis_server() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(16) == b"+PONG\r\n"
    assert not _listening(port)


def test_missing_binaries_give_a_one_line_reason_naming_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(services, "DEBIAN_PG_ROOT", tmp_path / "no-postgresql")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert services.postgres_missing() == (
        "Postgres server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    )
    assert services.redis_missing() == "redis-server not found: apt-get install redis-server"
    with pytest.raises(services.ServiceError, match="apt-get install redis-server"), services.redis_server():
        pass
