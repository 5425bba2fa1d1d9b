"""DAGs the Scade tests run with dag.test(), each in deferrable and blocking mode.

Connection (set by the tests): ``scade_default`` -> the emulator. Flow 1607 echoes ``text`` at once;
flow 1608 lasts ``delay`` seconds and fails for ``delay`` -1.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator
from airflow_workflow_providers.scade.sensors import ScadeFlowRunSensor

FAST = {"poll_interval": 0.2, "retries": 0}
ECHO = {"flow_id": "1607", "start_node_id": "SYnn-start", "end_node_id": "y5iI-end"}
SLOW = {"flow_id": "1608", "start_node_id": "Qk3a-start", "end_node_id": "Zp9w-end"}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)


for mode, deferrable in (("deferred", True), ("blocking", False)):
    run_kwargs = {**FAST, "deferrable": deferrable}
    with _dag(f"scade_echo_{mode}") as dag:
        result = ScadeRunFlowOperator(
            task_id="run", inputs={"text": "{{ dag_run.conf['text'] }}"}, **ECHO, **run_kwargs
        )

        @task
        def use(run: dict) -> str:
            return run["outputs"]["result"].upper()

        @task
        def pulled_run_id(ti=None) -> str:
            return repr(ti.xcom_pull(task_ids="run", key="run_id"))

        use(result.output)
        result >> pulled_run_id()
    globals()[dag.dag_id] = dag

    with _dag(f"scade_status_map_{mode}") as dag:
        # for a flow whose terminal status is 7: the test sets it on the emulator
        ScadeRunFlowOperator(
            task_id="run", inputs={"text": "mapped"}, status_map={7: "succeeded"}, **ECHO, **run_kwargs
        )
    globals()[dag.dag_id] = dag

    with _dag(f"scade_failure_{mode}") as dag:
        ScadeRunFlowOperator(task_id="run", inputs={"text": "fail", "delay": -1}, **SLOW, **run_kwargs)
    globals()[dag.dag_id] = dag

    with _dag(f"scade_timeout_{mode}") as dag:
        ScadeRunFlowOperator(
            task_id="run", inputs={"text": "slow", "delay": 60}, timeout=2, **SLOW, **run_kwargs
        )
    globals()[dag.dag_id] = dag

    with _dag(f"scade_invalid_{mode}") as dag:
        # the template renders to a string, not a dict; and node_settings holds a non-dict
        ScadeRunFlowOperator(
            task_id="run",
            inputs="{{ dag_run.conf }}",
            node_settings={"y5iI-end": "loud"},
            **ECHO,
            **run_kwargs,
        )
    globals()[dag.dag_id] = dag

    with _dag(f"scade_sensor_{mode}") as dag:
        start = ScadeRunFlowOperator(
            task_id="start",
            inputs={"text": "elsewhere", "delay": 1},
            wait_for_completion=False,
            **SLOW,
            **FAST,
        )
        sensor = ScadeFlowRunSensor(
            task_id="wait",
            run_id="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
            poke_interval=0.2,
            timeout=60,
            deferrable=deferrable,
            retries=0,
        )
        start >> sensor
    globals()[dag.dag_id] = dag
