"""DAGs the Dify tests run with dag.test(), each in deferrable and blocking mode.

Connections (set by the tests): ``dify_default`` -> the emulator's echo app, ``dify_slow`` -> its slow
app, whose runs last ``delay`` seconds and fail for ``delay`` -1.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator
from airflow_workflow_providers.dify.sensors import DifyWorkflowRunSensor

FAST = {"poll_interval": 0.2, "retries": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)


for mode, deferrable in (("deferred", True), ("blocking", False)):
    with _dag(f"dify_echo_{mode}") as dag:
        result = DifyRunWorkflowOperator(
            task_id="run", inputs={"query": "{{ dag_run.conf['query'] }}"}, deferrable=deferrable, **FAST
        )

        @task
        def use(run: dict) -> str:
            return run["outputs"]["result"].upper()

        use(result.output)
    globals()[dag.dag_id] = dag

    with _dag(f"dify_failure_{mode}") as dag:
        DifyRunWorkflowOperator(
            task_id="run",
            conn_id="dify_slow",
            inputs={"query": "fail", "delay": -1},
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"dify_timeout_{mode}") as dag:
        DifyRunWorkflowOperator(
            task_id="run",
            conn_id="dify_slow",
            inputs={"query": "slow", "delay": 60},
            timeout=2,
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"dify_invalid_{mode}") as dag:
        DifyRunWorkflowOperator(task_id="run", inputs={"qeury": "typo"}, deferrable=deferrable, **FAST)
    globals()[dag.dag_id] = dag

    with _dag(f"dify_sensor_{mode}") as dag:
        start = DifyRunWorkflowOperator(
            task_id="start",
            conn_id="dify_slow",
            inputs={"query": "elsewhere", "delay": 1},
            wait_for_completion=False,
            **FAST,
        )
        sensor = DifyWorkflowRunSensor(
            task_id="wait",
            conn_id="dify_slow",
            run_id="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
            poke_interval=0.2,
            timeout=60,
            deferrable=deferrable,
            retries=0,
        )
        start >> sensor
    globals()[dag.dag_id] = dag

with _dag("dify_faults_deferred") as dag:
    DifyRunWorkflowOperator(
        task_id="run",
        conn_id="dify_slow",
        inputs={"query": "through the storm", "delay": 3},
        deferrable=True,
        **FAST,
    )
