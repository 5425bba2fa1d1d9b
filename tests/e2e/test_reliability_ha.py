"""Two triggerers on PostgreSQL; one is killed with 50 runs deferred (docs/reliability.md, item 8).

A deployment of its own: PostgreSQL (Debian's ``postgresql``, run by the harness under the temporary
AIRFLOW_HOME; ``make postgres``), api-server, scheduler, dag-processor and two triggerers. Trigger
ownership (``trigger.triggerer_id``) is read from the database, which the REST API does not show.
"""

from __future__ import annotations

import time

import pytest

from harness.processes import wait_until
from harness.scan import find_secrets

pytestmark = pytest.mark.e2e

RUNS = 50
DEFERRED = "e2e_rel_deferred"
#: seconds without a heartbeat after which a triggerer's triggers go to another (Airflow's default is 30)
HEALTH_CHECK_THRESHOLD = 15


def _postgres_available() -> str | None:
    try:
        import asyncpg  # noqa: F401
        import psycopg2  # noqa: F401

        from harness.database import _postgres_bindir

        _postgres_bindir()
    except (ImportError, RuntimeError) as exc:
        return f"PostgreSQL not installed (make postgres): {exc}"
    return None


@pytest.fixture(scope="module")
def ha(request):
    """``(deployment, emulators, {job id: process name})`` with triggerers ``triggerer`` and ``triggerer-2``."""
    missing = _postgres_available()
    if missing:
        pytest.skip(missing)
    from harness.session import E2E_DAGS, e2e_deployment

    config = {"AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(HEALTH_CHECK_THRESHOLD)}
    with e2e_deployment(
        (E2E_DAGS,),
        db="postgres",
        parallelism=6,
        config=config,
        keep_logs=lambda: request.session.testsfailed > 0,
    ) as (deployment, emulators):
        deployment.start_component("triggerer", "triggerer-2")

        def two_triggerers():
            rows = deployment.db.query(
                "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' ORDER BY start_date"
            )
            return len(rows) == 2 and rows

        jobs = wait_until(two_triggerers, 90, "the second triggerer heartbeating")
        # the first triggerer job is the deployment's own, the second the one started just now
        yield deployment, emulators, {jobs[0][0]: "triggerer", jobs[1][0]: "triggerer-2"}


def _owners(deployment) -> dict[int | None, int]:
    """triggerer job id -> how many of our triggers it runs."""
    rows = deployment.db.query("SELECT triggerer_id, count(*) FROM trigger GROUP BY triggerer_id")
    return {owner: count for owner, count in rows}


def test_fifty_deferred_runs_complete_exactly_once_after_one_of_two_triggerers_is_killed(ha):
    deployment, emulators, processes = ha
    api, dify = deployment.api, emulators["dify"]
    started = time.monotonic()
    ends_at = (
        time.time() + 60
    )  # every remote run ends then, however late its task started (50 defer in ~20 s)
    run_ids = [api.trigger(DEFERRED, conf={"ends_at": ends_at}) for _ in range(RUNS)]

    def all_deferred():
        tis = api.get(f"dags/{DEFERRED}/dagRuns/~/taskInstances", limit=1000)["task_instances"]
        deferred = [ti for ti in tis if ti["dag_run_id"] in run_ids and ti["state"] == "deferred"]
        owners = _owners(deployment)
        return len(deferred) == RUNS and sum(n for o, n in owners.items() if o is not None) == RUNS and owners

    owners = wait_until(
        all_deferred,
        120,  # ~20 s on a quiet machine; a deadline for a hang, not a speed target
        f"{RUNS} tasks deferred, each trigger on a triggerer",
        describe=lambda: f"trigger owners {_owners(deployment)}",
    )
    assert len(dify.control.runs()) == RUNS
    victim_job = max((job for job in owners if job is not None), key=owners.get)
    victim = processes[victim_job]
    survivor_job = next(job for job, name in processes.items() if name != victim)
    print(
        f"\n{RUNS} deferred after {time.monotonic() - started:.0f} s; triggers per triggerer "
        f"{ {processes.get(j, j): n for j, n in owners.items()} }; killing {victim}"
    )

    deployment.kill_component(victim)
    # the survivor takes over the dead one's triggers once its heartbeat is older than the threshold
    wait_until(
        lambda: set(_owners(deployment)) <= {survivor_job} or not _owners(deployment),
        90,
        "the surviving triggerer owning every trigger",
        describe=lambda: f"trigger owners {_owners(deployment)}",
    )

    states = {run_id: api.wait_for_run(DEFERRED, run_id, timeout=240)["state"] for run_id in run_ids}
    print(f"all {RUNS} done {time.monotonic() - started:.0f} s after the first trigger")
    assert set(states.values()) == {"success"}, [
        api.describe_run(DEFERRED, r) for r in run_ids if states[r] != "success"
    ]
    runs = dify.control.runs()
    assert len(runs) == RUNS and dify.control.count("starts") == RUNS, "one remote run per task, none twice"
    results = [api.xcom(DEFERRED, run_id, "run") for run_id in run_ids]
    assert {r["run_id"] for r in results} == set(runs) and {r["status"] for r in results} == {"succeeded"}
    tis = api.get(f"dags/{DEFERRED}/dagRuns/~/taskInstances", limit=1000)["task_instances"]
    assert {ti["try_number"] for ti in tis if ti["dag_run_id"] in run_ids} == {1}, "no task retried"
    assert dify.control.count("stops") == 0, "a triggerer crash stopped a remote run"

    # item 6 on PostgreSQL: the keys are nowhere in this deployment's home nor in a pg_dump of its database
    assert find_secrets(deployment.home, emulators.api_keys(), deployment.dump_database()) == []
