"""DAGs the Arcee Orchestra tests run with dag.test(), each in deferrable and blocking mode.

Connection (set by the tests): ``arcee_orchestra_default`` -> the emulator. Its echo workflow returns
its ``query`` as a string; its slow workflow lasts ``delay`` seconds, returns an object, and fails for
a negative ``delay``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.arcee.operators import ArceeOrchestraRunWorkflowOperator
from airflow_workflow_providers.arcee.sensors import ArceeOrchestraWorkflowRunSensor

ECHO = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0001"
SLOW = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002"
FAST = {"poll_interval": 0.2, "retries": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)


for mode, deferrable in (("deferred", True), ("blocking", False)):
    with _dag(f"arcee_echo_{mode}") as dag:
        result = ArceeOrchestraRunWorkflowOperator(
            task_id="run",
            workflow_id="{{ dag_run.conf['workflow'] }}",
            inputs={"query": "{{ dag_run.conf['query'] }}"},
            deferrable=deferrable,
            **FAST,
        )

        @task
        def use(run: dict) -> str:
            return run["outputs"]["output"].upper()

        use(result.output)
    globals()[dag.dag_id] = dag

    with _dag(f"arcee_failure_{mode}") as dag:
        ArceeOrchestraRunWorkflowOperator(
            task_id="run",
            workflow_id=SLOW,
            inputs={"query": "fail", "delay": -1},
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"arcee_timeout_{mode}") as dag:
        ArceeOrchestraRunWorkflowOperator(
            task_id="run",
            workflow_id=SLOW,
            inputs={"query": "slow", "delay": 60},
            timeout=1.5,
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"arcee_invalid_{mode}") as dag:
        ArceeOrchestraRunWorkflowOperator(
            task_id="run",
            workflow_id=ECHO,
            inputs={"query": "x", "when": datetime.date(2024, 1, 1)},
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    for name, delay in (("sensor", 1), ("sensor_failure", -1)):
        with _dag(f"arcee_{name}_{mode}") as dag:
            start = ArceeOrchestraRunWorkflowOperator(
                task_id="start",
                workflow_id=SLOW,
                inputs={"query": "elsewhere", "delay": delay},
                wait_for_completion=False,
                **FAST,
            )
            sensor = ArceeOrchestraWorkflowRunSensor(
                task_id="wait",
                workflow_id=SLOW,
                run_id="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
                poke_interval=0.2,
                timeout=60,
                deferrable=deferrable,
                retries=0,
            )
            start >> sensor
        globals()[dag.dag_id] = dag
