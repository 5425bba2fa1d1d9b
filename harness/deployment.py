"""A real Airflow 3 deployment on loopback in a temporary AIRFLOW_HOME.

api-server, scheduler (LocalExecutor), dag-processor and triggerer run as separate processes, like a
user's deployment; every one gets the same configuration through ``AIRFLOW__*`` variables and the
``AIRFLOW_CONN_*`` connections. :meth:`Deployment.start` returns once the API answers, every
component heartbeats and every DAG file has been parsed; :meth:`Deployment.stop` ends every process
it started, by pid, and removes the home unless logs should be kept.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

from harness.api import AirflowAPI
from harness.database import Database, database
from harness.processes import Process, descendants, wait_until

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: what /api/v2/monitor/health calls each component
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
USERNAME = "admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """One Airflow deployment; use as a context manager or call :meth:`start` / :meth:`stop`.

    :param dag_folders: folders whose ``*.py`` files are linked into the deployment's dags folder.
    :param connections: ``AIRFLOW_CONN_*`` name -> value, given to every Airflow process.
    :param parallelism: ``[core] parallelism``: the LocalExecutor's worker slots.
    :param db: ``sqlite`` or ``postgres`` (default: ``$HARNESS_DB`` or sqlite).
    :param home: the AIRFLOW_HOME to create (default: a new temporary directory).
    :param config: extra ``AIRFLOW__SECTION__KEY`` settings.
    """

    def __init__(
        self,
        dag_folders: Iterable[Path],
        connections: Mapping[str, str] | None = None,
        parallelism: int = 4,
        db: str | None = None,
        home: Path | None = None,
        config: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="awp-e2e-"))
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder = self.home / "dags"
        self.log_folder = self.home / "logs"
        self.dag_files = self._link_dags(dag_folders)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.username = USERNAME
        self.password = secrets.token_urlsafe(12)
        self.db: Database = database(db or os.environ.get("HARNESS_DB", "sqlite"), self.home, free_port())
        self.processes: dict[str, Process] = {}
        self.env = self._environment(dict(connections or {}), parallelism, dict(config or {}))
        self.api = AirflowAPI(self.url, self.username, self.password)
        self._finalizer = weakref.finalize(self, _stop_all, self.processes, self.db)

    # -- setup -------------------------------------------------------------------------------------
    def _link_dags(self, folders: Iterable[Path]) -> list[str]:
        self.dags_folder.mkdir(exist_ok=True)
        names = []
        for folder in folders:
            for path in sorted(Path(folder).glob("*.py")):
                if path.name.startswith("_"):
                    continue
                (self.dags_folder / path.name).symlink_to(path.resolve())
                names.append(path.name)
        return names

    def _environment(
        self, connections: dict[str, str], parallelism: int, config: dict[str, str]
    ) -> dict[str, str]:
        (self.home / "passwords.json").write_text(json.dumps({self.username: self.password}))
        (self.home / "passwords.json").chmod(0o600)
        # nothing Airflow-related leaks in from the caller (e.g. the unit tests' AIRFLOW_HOME)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(connections)
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM=str(parallelism),
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG="32",
            AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="32",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{self.username}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.log_folder),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.5",
            # Airflow 3.0's REST API returns deserialized XCom values only when this is on (gone in 3.1)
            AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT="True",
            # A task's supervisor notices its process exited only when its select() times out, after up
            # to min_heartbeat_interval (default 5 s); the executor reports the deferral that late. A
            # trigger that fires sooner loses Airflow 3.3's defer/resume race and the scheduler fails the
            # resumed try (apache/airflow#66374, #72716). 1 s narrows that window; see docs/e2e.md.
            AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.db.env())
        env.update(config)
        return env

    def airflow(self, *args: str, timeout: float = 300) -> None:
        """Run one ``airflow`` CLI command to completion in this deployment's environment."""
        log = self.home / "cli.log"
        with log.open("ab") as out:
            out.write(f"\n$ airflow {' '.join(args)}\n".encode())
            out.flush()
            done = subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
            )
        if done.returncode:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"airflow {' '.join(args)} failed ({done.returncode}):\n{tail}")

    def start(self, timeout: float = 240) -> Deployment:
        try:
            started = time.monotonic()
            self.db.start()
            self.airflow("db", "migrate")
            for component in COMPONENTS:
                self.start_component(component)
            self.wait_ready(timeout - (time.monotonic() - started))
        except BaseException:
            self.stop(keep_logs=True)
            raise
        return self

    # -- components ----------------------------------------------------------------------------------
    def start_component(self, component: str, name: str | None = None, args: Iterable[str] = ()) -> Process:
        """Start ``airflow <component> <args>`` as process ``name`` (default: the component), logging to ``<name>.log``.

        A second triggerer is ``start_component("triggerer", "triggerer-2")``; a restart appends to the log.
        A Celery worker is ``start_component("celery", "worker-1", ["worker", ...])``.
        """
        name = name or component
        if name in self.processes and self.processes[name].alive():
            raise RuntimeError(f"{name} is already running (pid {self.processes[name].pid})")
        argv = [sys.executable, "-m", "airflow", component, *args]
        self.processes[name] = process = Process(name, argv, self.env, self.home / f"{name}.log")
        return process

    def kill_component(self, name: str) -> int | None:
        """SIGKILL process ``name`` and everything it started, at once (a crash, not a shutdown)."""
        return self.processes.pop(name).kill()

    def stop_component(self, name: str) -> int | None:
        """SIGTERM process ``name`` and let it shut down as it would on a deploy (SIGKILL after 15 s)."""
        return self.processes.pop(name).stop()

    def task_processes(self, ti_id: str) -> dict[int, str]:
        """pid -> title of the LocalExecutor processes running one task instance (by its UUID).

        Airflow 3.3's LocalExecutor worker names itself ``airflow worker -- LocalExecutor: <task>``
        while its supervisor runs a task, and the forked task process ``airflow worker -- <ti id>``
        (in a process group of its own); both descend from the scheduler.
        """
        scheduler = self.processes["scheduler"].pid
        return {pid: title for pid, title in descendants(scheduler).items() if title.endswith(f"-- {ti_id}")}

    def dump_database(self) -> str:
        """The metadata database's whole content as SQL text (what a secret scan reads)."""
        return self.db.dump()

    # -- readiness ---------------------------------------------------------------------------------
    def _check_alive(self) -> None:
        for process in self.processes.values():
            if not process.alive():
                raise RuntimeError(
                    f"airflow {process.name} exited ({process.popen.returncode}); "
                    f"log {process.log}:\n{process.tail()}"
                )

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/api/v2/monitor/health", timeout=10).json()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}

        def healthy() -> bool:
            self._check_alive()
            try:
                last.update(self.health())
            except (requests.RequestException, ValueError):
                return False
            return all((last.get(key) or {}).get("status") == "healthy" for key in HEALTH_KEYS)

        wait_until(
            healthy,
            max(deadline - time.monotonic(), 1),
            "every Airflow component reporting healthy",
            describe=lambda: f"health: {json.dumps(last)}; logs in {self.home}",
        )
        self.wait_parsed(max(deadline - time.monotonic(), 1))

    def parse_state(self) -> tuple[set[str], dict[str, str]]:
        """(files that produced DAGs, file -> import error) among this deployment's dag files."""
        parsed = {Path(dag["fileloc"]).name for dag in self.api.dags()}
        errors = {Path(err["filename"]).name: err["stack_trace"] for err in self.api.import_errors()}
        return parsed, errors

    def wait_parsed(self, timeout: float) -> None:
        """Until every dag file has produced a DAG or an import error."""
        pending: set[str] = set(self.dag_files)

        def parsed() -> bool:
            self._check_alive()
            done, errors = self.parse_state()
            pending.clear()
            pending.update(set(self.dag_files) - done - set(errors))
            return not pending

        wait_until(
            parsed,
            timeout,
            "the dag-processor parsing every DAG file",
            interval=1,
            describe=lambda: (
                f"not parsed yet: {sorted(pending)}; dag-processor log {self.home / 'dag-processor.log'}"
            ),
        )

    # -- teardown ----------------------------------------------------------------------------------
    def stop(self, keep_logs: bool = False) -> None:
        """End every process this deployment started; remove its home unless ``keep_logs``."""
        _stop_all(self.processes, self.db)
        if keep_logs:
            print(
                f"\nAirflow deployment logs kept in {self.home} (component logs *.log, task logs logs/)",
                file=sys.stderr,
            )
        else:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop(keep_logs=exc_type is not None)

    def __repr__(self) -> str:
        return f"<Deployment {self.url} home={self.home}>"


def _stop_all(processes: dict[str, Process], db: Database) -> None:
    # the scheduler first, so it stops handing out tasks; the api-server last, tasks report to it
    for name in ("scheduler", "triggerer", "dag-processor", "api-server"):
        process = processes.pop(name, None)
        if process is not None:
            process.stop()
    for process in list(processes.values()):
        process.stop()
    processes.clear()
    db.stop()
