"""The deployment's metadata database: SQLite (default) or a throwaway PostgreSQL server on loopback.

``HARNESS_DB=postgres`` picks PostgreSQL: the harness runs ``initdb`` and ``postgres`` from the Debian
``postgresql`` package in a directory of the temporary AIRFLOW_HOME, on a free loopback port, as the
``postgres`` system user when it is root (PostgreSQL refuses to run as root). It needs the
``psycopg2-binary`` and ``asyncpg`` packages (``pip install -e '.[postgres]'`` adds them).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
from pathlib import Path

from harness.processes import Process, wait_until


class Database:
    """A metadata database the Airflow processes share."""

    name = "?"

    def start(self) -> None:
        """Bring the server up (no-op for SQLite)."""

    def stop(self) -> None:
        """End the server (no-op for SQLite)."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    def dump(self) -> str:
        """Every table's content as SQL text."""
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple]:
        """Rows of one read-only query, for what the REST API does not show (e.g. ``trigger.triggerer_id``)."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.url}


class SqliteDatabase(Database):
    """One file in AIRFLOW_HOME; Airflow serialises writers with its busy timeout."""

    name = "sqlite"

    def __init__(self, home: Path) -> None:
        self.path = home / "airflow.db"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def dump(self) -> str:
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)) as db:
            return "\n".join(db.iterdump())

    def query(self, sql: str) -> list[tuple]:
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)) as db:
            return db.execute(sql).fetchall()


class PostgresDatabase(Database):
    """A private PostgreSQL cluster under ``home/postgres``, listening on ``127.0.0.1:port`` only."""

    name = "postgresql"

    def __init__(self, home: Path, port: int) -> None:
        self.dir = home / "postgres"
        self.port = port
        self.process: Process | None = None
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/airflow"

    def _as_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> None:
        import subprocess

        bindir = _postgres_bindir()
        data = self.dir / "data"
        data.mkdir(parents=True)
        if os.geteuid() == 0:
            # the server's user must traverse the (root-owned, 0700) temporary home to reach its directory
            home = self.dir.parent
            home.chmod(home.stat().st_mode | 0o711)
            shutil.chown(self.dir, self.user)
            shutil.chown(data, self.user)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        done = subprocess.run(
            self._as_user(
                [f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", self.user, "-E", "UTF8"]
            ),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        self.process = Process(
            "postgres",
            self._as_user(
                [
                    f"{bindir}/postgres",
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    "max_connections=200",
                    "-c",
                    "fsync=off",
                ]
            ),
            env,
            self.dir / "postgres.log",
        )

        def ready() -> bool:
            if not self.process.alive():
                raise RuntimeError(f"postgres exited:\n{self.process.tail()}")
            return (
                subprocess.run(
                    [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                    stdout=subprocess.DEVNULL,
                ).returncode
                == 0
            )

        wait_until(ready, 60, "PostgreSQL accepting connections", interval=0.2)
        subprocess.run(
            self._as_user([f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "airflow"]),
            env=env,
            check=True,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def dump(self) -> str:
        import subprocess

        done = subprocess.run(
            [
                f"{_postgres_bindir()}/pg_dump",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "airflow",
            ],
            capture_output=True,
            check=True,
        )
        return done.stdout.decode(errors="replace")

    def query(self, sql: str) -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="airflow")
        with contextlib.closing(connection) as db, db.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


def _postgres_bindir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    if candidates:
        return str(Path(candidates[0]).parent)
    found = shutil.which("postgres")
    if found:
        return str(Path(found).parent)
    raise RuntimeError("PostgreSQL server not found: apt-get install postgresql (make postgres does it)")


def database(kind: str, home: Path, port: int) -> Database:
    if kind == "sqlite":
        return SqliteDatabase(home)
    if kind in ("postgres", "postgresql"):
        return PostgresDatabase(home, port)
    raise ValueError(f"unknown database {kind!r}; expected sqlite or postgres")
