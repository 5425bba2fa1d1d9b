"""The deployment the e2e tests, the slot benchmark and the demo share: emulators + Airflow + the pool."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from harness.deployment import Deployment
from harness.emulators import Emulators
from harness.slots import POOL, POOL_SLOTS

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
E2E_DAGS = REPO / "tests" / "e2e" / "dags"


@contextlib.contextmanager
def e2e_deployment(
    dag_folders: Iterable[Path] = (EXAMPLE_DAGS, E2E_DAGS),
    connections: Mapping[str, str] | None = None,
    keep_logs: Callable[[], bool] = lambda: False,
    connections_in_db: bool = False,
    **options,
) -> Iterator[tuple[Deployment, Emulators]]:
    """Emulators, then a deployment whose connections reach them (``connections`` override), then the pool.

    The emulators' connections are ``AIRFLOW_CONN_*`` variables, or with ``connections_in_db`` rows of
    the metadata DB (what the UI's Connections page lists, edits and tests); ``connections`` are
    always variables. Everything is torn down on exit, by pid; the deployment's home (component and
    task logs) is kept, and its path printed, when the block raised or ``keep_logs()`` says so.
    """
    emulators = Emulators().start()
    own = emulators.connections()
    env = {**({} if connections_in_db else own), **(connections or {})}
    deployment = Deployment(dag_folders, connections=env, **options)
    failed = True
    try:
        deployment.start()
        if connections_in_db:
            for name, value in own.items():
                if name not in env:
                    deployment.api.create_connection(
                        name[len("AIRFLOW_CONN_") :].lower(),
                        json.loads(value),
                        "the bundled emulator (a new key at every start)",
                    )
        deployment.api.set_pool(POOL, POOL_SLOTS, include_deferred=False)
        yield deployment, emulators
        failed = False
    finally:
        try:
            deployment.stop(keep_logs=failed or keep_logs())
        finally:
            emulators.stop()
