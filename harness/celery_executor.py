"""The e2e deployment on the CeleryExecutor, as most production deployments run it.

PostgreSQL is the metadata database and Celery's result backend, Redis the broker (both private to the
deployment's AIRFLOW_HOME, on free loopback ports), and two Celery workers run the tasks beside the
usual api-server, scheduler, dag-processor and triggerer. A worker reports a task's end through the
result backend, later than the LocalExecutor's in-process queue does.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.broker import Redis
from harness.deployment import Deployment, free_port
from harness.emulators import Emulators
from harness.processes import wait_until
from harness.session import E2E_DAGS
from harness.slots import POOL, POOL_SLOTS

WORKERS = 2
#: task slots per worker: four in all, as the LocalExecutor deployment has
CONCURRENCY = 2


@contextlib.contextmanager
def celery_deployment(
    keep_logs: Callable[[], bool] = lambda: False, **config: str
) -> Iterator[tuple[Deployment, Emulators]]:
    """Emulators, Redis, then a CeleryExecutor deployment on PostgreSQL with two workers; all torn down on exit."""
    emulators = Emulators().start()
    home = Path(tempfile.mkdtemp(prefix="awp-e2e-celery-"))
    redis = Redis(home, free_port())
    failed = True
    try:
        redis.start()
        deployment = Deployment(
            (E2E_DAGS,),
            connections=emulators.connections(),
            db="postgres",
            home=home,
            config={
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": redis.url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CONCURRENCY),
                **config,
            },
        )
        deployment.env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + deployment.db.url
        try:
            deployment.start()
            for number in range(1, WORKERS + 1):
                start_worker(deployment, number)
            deployment.api.set_pool(POOL, POOL_SLOTS, include_deferred=False)
            yield deployment, emulators
            failed = False
        finally:
            deployment.stop(keep_logs=failed or keep_logs())
    finally:
        redis.stop()
        emulators.stop()


def start_worker(deployment: Deployment, number: int) -> None:
    """``airflow celery worker`` as ``worker-<number>``; returns once it consumes from the broker."""
    name = f"worker-{number}"
    process = deployment.start_component(
        "celery",
        name,
        ["worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(CONCURRENCY), "--skip-serve-logs"],
    )

    def ready() -> bool:
        if not process.alive():
            raise RuntimeError(f"celery {name} exited:\n{process.tail()}")
        return " ready." in process.log.read_text(errors="replace")

    wait_until(ready, 120, f"celery {name} ready", interval=0.5, describe=process.tail)
