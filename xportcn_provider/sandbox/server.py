"""Running the sandbox with uvicorn: in a background thread (tests, demos) or in the foreground (CLI).

The socket is bound before uvicorn starts, so port ``0`` (a free port) is known at once and the
caller can print or hand out the URL without racing the server.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn

from xportcn_provider.sandbox.app import create_app
from xportcn_provider.sandbox.defaults import DEFAULT_HOST, SandboxCredentials
from xportcn_provider.sandbox.engine import Sandbox
from xportcn_provider.sandbox.handle import SandboxHandle

STARTUP_TIMEOUT = 15.0


def bind_socket(host: str = DEFAULT_HOST, port: int = 0) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (``port=0``: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def make_server(sandbox: Sandbox, *, log_level: str = "warning", access_log: bool = False) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(sandbox),
        log_level=log_level,
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


@dataclass
class RunningSandbox:
    """A sandbox served from a background thread; ``stop()`` shuts it down."""

    host: str
    port: int
    sandbox: Sandbox
    server: uvicorn.Server
    thread: threading.Thread
    handle: SandboxHandle = field(init=False)

    def __post_init__(self) -> None:
        self.handle = SandboxHandle.for_server(self.host, self.port, self.sandbox.credentials)

    @property
    def base_url(self) -> str:
        return self.handle.base_url

    @property
    def url(self) -> str:
        return self.handle.url

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, drop slow (fault-delayed) calls, join the thread."""
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(timeout)
        self.handle.control.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    credentials: SandboxCredentials | None = None,
    sandbox: Sandbox | None = None,
    log_level: str = "warning",
) -> RunningSandbox:
    """Start a sandbox on ``host:port`` (``0``: a free port) and return once it accepts calls."""
    sandbox = sandbox or Sandbox(credentials or SandboxCredentials.from_env())
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    server = make_server(sandbox, log_level=log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"xportcn-sandbox-{actual_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"xportcn sandbox did not start on {host}:{actual_port}")
        time.sleep(0.01)
    logging.getLogger(__name__).debug("xportcn sandbox listening on %s:%s", host, actual_port)
    return RunningSandbox(host, actual_port, sandbox, server, thread)


def serve_forever(
    host: str,
    port: int,
    sandbox: Sandbox,
    *,
    log_level: str = "info",
    on_ready: object = None,
) -> None:
    """Serve in the foreground until Ctrl-C (the CLI); ``on_ready(port)`` runs after binding."""
    sock = bind_socket(host, port)
    if callable(on_ready):
        on_ready(sock.getsockname()[1])
    make_server(sandbox, log_level=log_level, access_log=log_level in ("debug", "trace")).run(sockets=[sock])
