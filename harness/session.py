"""The deployment the e2e tests, the slot benchmark and the demo share: emulators + Airflow + the pool."""

from __future__ import annotations

import contextlib
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
    **options,
) -> Iterator[tuple[Deployment, Emulators]]:
    """Emulators, then a deployment whose connections reach them (``connections`` override), then the pool.

    Everything is torn down on exit, by pid; the deployment's home (component and task logs) is kept,
    and its path printed, when the block raised or ``keep_logs()`` says so (e.g. a test failed).
    """
    emulators = Emulators().start()
    deployment = Deployment(dag_folders, connections={**emulators.connections(), **(connections or {})}, **options)
    failed = True
    try:
        deployment.start()
        deployment.api.set_pool(POOL, POOL_SLOTS, include_deferred=False)
        yield deployment, emulators
        failed = False
    finally:
        try:
            deployment.stop(keep_logs=failed or keep_logs())
        finally:
            emulators.stop()
