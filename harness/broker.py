"""A throwaway Redis server on loopback: the CeleryExecutor's broker for the e2e Celery deployment.

Debian's ``redis-server`` (``make celery`` installs it) runs with no persistence in a directory of the
temporary AIRFLOW_HOME, on a free loopback port, and is ended by pid like every harness process.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from harness.processes import Process, wait_until


def redis_server() -> str | None:
    """The path of ``redis-server``, or ``None`` when it is not installed."""
    return shutil.which("redis-server") or next(
        (
            str(path)
            for path in (Path("/usr/bin/redis-server"), Path("/usr/sbin/redis-server"))
            if path.exists()
        ),
        None,
    )


class Redis:
    """``redis-server`` listening on ``127.0.0.1:port`` only, keeping nothing on disk."""

    def __init__(self, home: Path, port: int) -> None:
        self.dir = home / "redis"
        self.port = port
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        binary = redis_server()
        if binary is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server (make celery does it)")
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--protected-mode",
            "yes",
        ]
        self.process = Process("redis", argv, {"PATH": "/usr/bin:/bin"}, self.dir / "redis.log")
        wait_until(self._answers, 30, "Redis accepting connections", interval=0.2)
        return self

    def _answers(self) -> bool:
        if self.process is None or not self.process.alive():
            raise RuntimeError(f"redis-server exited:\n{self.process.tail() if self.process else ''}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
