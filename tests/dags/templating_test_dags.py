"""One DAG, per-environment connections: ``conn_id`` is templated on operators and sensors.

The tests point ``scade_<env>`` at the emulator and trigger with ``{"env": ...}``; ``scade_default`` is
never defined, so a hook built before rendering would fail to find its connection.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator
from airflow_workflow_providers.scade.sensors import ScadeFlowRunSensor

CONN_ID = "scade_{{ dag_run.conf['env'] }}"

for mode, deferrable in (("deferred", True), ("blocking", False)):
    with DAG(f"templated_conn_id_{mode}", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
        run = ScadeRunFlowOperator(
            task_id="run",
            conn_id=CONN_ID,
            flow_id="1607",
            start_node_id="SYnn-start",
            end_node_id="y5iI-end",
            inputs={"text": "{{ dag_run.conf['env'] }}"},
            node_settings={"y5iI-end": {"data": {}}},
            deferrable=deferrable,
            poll_interval=0.2,
            retries=0,
        )
        wait = ScadeFlowRunSensor(
            task_id="wait",
            conn_id=CONN_ID,
            run_id="{{ ti.xcom_pull(task_ids='run', key='run_id') }}",
            deferrable=deferrable,
            poke_interval=0.2,
            retries=0,
        )
        run >> wait
    globals()[dag.dag_id] = dag
