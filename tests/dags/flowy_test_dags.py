"""DAGs the Flowy tests run with dag.test(), each in deferrable and blocking mode.

The connection ``flowy_default`` (set by the tests) points at the Flowy emulator: its echo app captions
``prompt`` and renders an image in 0.2 s; its slow app lasts ``seconds`` seconds and fails for -1.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.flowy.operators import FlowyRunAppOperator
from airflow_workflow_providers.flowy.sensors import FlowyAppRunSensor
from airflow_workflow_providers.testing.flowy import ECHO_APP, SLOW_APP

FAST = {"poll_interval": 0.2, "retries": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)


for mode, deferrable in (("deferred", True), ("blocking", False)):
    with _dag(f"flowy_echo_{mode}") as dag:
        result = FlowyRunAppOperator(
            task_id="run",
            app_id="{{ dag_run.conf.get('app_id', '" + ECHO_APP + "') }}",
            inputs={"prompt": "{{ dag_run.conf['prompt'] }}"},
            output_dir="{{ dag_run.conf.get('output_dir', '') }}",
            deferrable=deferrable,
            **FAST,
        )

        @task
        def use(run: dict) -> dict:
            return {"caption": run["outputs"]["caption"]["text"].upper(), "image": run["outputs"]["image"]}

        use(result.output)
    globals()[dag.dag_id] = dag

    with _dag(f"flowy_retry_{mode}") as dag:
        FlowyRunAppOperator(
            task_id="run",
            app_id=ECHO_APP,
            inputs={"prompt": "again"},
            output_dir="{{ dag_run.conf['output_dir'] }}",
            deferrable=deferrable,
            poll_interval=0.2,
            retries=1,
            retry_delay=datetime.timedelta(0),
        )
    globals()[dag.dag_id] = dag

    with _dag(f"flowy_failure_{mode}") as dag:
        FlowyRunAppOperator(
            task_id="run",
            app_id=SLOW_APP,
            inputs={"prompt": "fail", "seconds": "-1"},
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"flowy_timeout_{mode}") as dag:
        FlowyRunAppOperator(
            task_id="run",
            app_id=SLOW_APP,
            inputs={"prompt": "slow", "seconds": "60"},
            timeout=1,
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"flowy_invalid_{mode}") as dag:
        FlowyRunAppOperator(
            task_id="run",
            app_id=ECHO_APP,
            inputs={"promt": "typo", "reference": "cat.png"},
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"flowy_sensor_{mode}") as dag:
        start = FlowyRunAppOperator(
            task_id="start",
            app_id=SLOW_APP,
            inputs={"prompt": "elsewhere", "seconds": "0.5"},
            wait_for_completion=False,
            **FAST,
        )
        sensor = FlowyAppRunSensor(
            task_id="wait",
            run_id="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
            poke_interval=0.2,
            timeout=60,
            deferrable=deferrable,
            retries=0,
        )
        start >> sensor
    globals()[dag.dag_id] = dag
