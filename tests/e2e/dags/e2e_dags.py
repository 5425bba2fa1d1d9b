"""DAGs the end-to-end tests run on the real deployment (scheduler, LocalExecutor, triggerer).

Connections (set by the harness): ``dify_default`` -> the Dify emulator's echo app, ``dify_slow`` -> its
slow app, whose runs last ``delay`` seconds. Pool ``e2e_two_slots`` (2 slots, deferred tasks not
counted) is created by the harness.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator
from airflow_workflow_providers.dify.sensors import DifyWorkflowRunSensor

#: the pool standing for "two worker slots" in the slot test
SLOT_POOL = "e2e_two_slots"
#: seconds each remote run of the slot test lasts in the emulator
SLOW_RUN_SECONDS = 20
#: Remote runs here last longer than a loaded 2-core scheduler takes to process a deferring task's exit
#: (up to ~6 s seen): a trigger that fires before that loses Airflow 3.3's race between the defer-exit
#: executor event and the resumed try, and the scheduler fails the task instance ("finished with state
#: success, but the task instance's state attribute is queued"; apache/airflow#66374, #72716). See docs/e2e.md.
REMOTE_SECONDS = 10
MAPPED_INPUTS = [{"query": f"item {i:02d}", "delay": REMOTE_SECONDS} for i in range(20)]


def _dag(dag_id: str, **kwargs) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=16,
        tags=["e2e"],
        **kwargs,
    )


for mode, deferrable in (("deferred", True), ("blocking", False)):
    with _dag(f"e2e_slots_{mode}") as dag:
        DifyRunWorkflowOperator(
            task_id="run",
            conn_id="dify_slow",
            pool=SLOT_POOL,
            deferrable=deferrable,
            inputs={"query": "{{ run_id }}", "delay": SLOW_RUN_SECONDS},
            poll_interval=1,
            timeout=300,
            retries=0,
        )
    globals()[dag.dag_id] = dag


with _dag("e2e_mapped") as dag:
    runs = DifyRunWorkflowOperator.partial(
        task_id="run", conn_id="dify_slow", deferrable=True, poll_interval=0.5, retries=0
    ).expand(inputs=MAPPED_INPUTS)

    @task
    def collect(results: list[dict]) -> list[str]:
        return [result["outputs"]["result"] for result in results]

    collect(runs.output)


with _dag("e2e_sensor") as dag:
    start = DifyRunWorkflowOperator(
        task_id="start",
        conn_id="dify_slow",
        inputs={"query": "started upstream", "delay": 2 * REMOTE_SECONDS},
        wait_for_completion=False,
        retries=0,
    )
    wait = DifyWorkflowRunSensor(
        task_id="wait",
        conn_id="dify_slow",
        run_id="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
        deferrable=True,
        poke_interval=0.5,
        timeout=120,
        retries=0,
    )
    start >> wait
