"""DAGs the batch tests run with dag.test(): each platform's batch operator, deferrable and blocking.

Every DAG takes its items and output from the run's conf: ``items`` (a list, or a file path),
``output_path``, and optionally ``output_dir`` (Dify, Flowy). Connections: ``<platform>_default`` -> each
emulator (``dify_default`` -> the slow app, whose runs last ``delay`` seconds and fail for ``delay`` -1).
"""

from __future__ import annotations

import datetime
from datetime import timedelta

from airflow.sdk import DAG, task

from airflow_workflow_providers.arcee.operators import ArceeOrchestraBatchRunWorkflowOperator
from airflow_workflow_providers.dify.operators import DifyBatchRunWorkflowOperator
from airflow_workflow_providers.flowy.operators import FlowyBatchRunAppOperator
from airflow_workflow_providers.scade.operators import ScadeBatchRunFlowOperator

COMMON = {
    "items": "{{ dag_run.conf['items'] }}",
    "output_path": "{{ dag_run.conf['output_path'] }}",
    "concurrency": 3,
    "poll_interval": 0.2,
    "retries": 0,
}
OPERATORS = {
    "dify": (DifyBatchRunWorkflowOperator, {"output_dir": "{{ dag_run.conf.get('output_dir') }}"}),
    "scade": (
        ScadeBatchRunFlowOperator,
        {"flow_id": "1608", "start_node_id": "Qk3a-start", "end_node_id": "Zp9w-end"},
    ),
    "arcee": (
        ArceeOrchestraBatchRunWorkflowOperator,
        {"workflow_id": "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002"},
    ),
    "flowy": (
        FlowyBatchRunAppOperator,
        {"app_id": "65f1a2b3c4d5e6f708090a02", "output_dir": "{{ dag_run.conf.get('output_dir') }}"},
    ),
}


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
    )


for platform, (operator, arguments) in OPERATORS.items():
    for mode, deferrable in (("deferred", True), ("blocking", False)):
        with _dag(f"batch_{platform}_{mode}") as dag:
            batch = operator(
                task_id="batch",
                deferrable=deferrable,
                conn_id=f"{platform}_default" if platform != "arcee" else "arcee_orchestra_default",
                **arguments,
                **COMMON,
            )

            @task
            def count(summary: dict) -> int:
                return summary["succeeded"]

            count(batch.output)
        globals()[dag.dag_id] = dag

# Dify only for the engine's rules (the engine is the same for every platform)
RULES = {
    "file": {"id_field": "ticket"},
    "skip_invalid": {"skip_invalid": True},
    "max_failures": {"max_failures": 0.25},
    "timeout": {"timeout": 8},  # long enough for a loaded machine to start some of the runs
}
for rule, extra in RULES.items():
    for mode, deferrable in (("deferred", True), ("blocking", False)):
        with _dag(f"batch_dify_{rule}_{mode}") as dag:
            DifyBatchRunWorkflowOperator(
                task_id="batch", deferrable=deferrable, conn_id="dify_default", **COMMON, **extra
            )
        globals()[dag.dag_id] = dag

# a blocking batch cut off by Airflow's own execution_timeout (SIGALRM in the task process)
with _dag("batch_dify_execution_timeout_blocking") as dag:
    DifyBatchRunWorkflowOperator(
        task_id="batch",
        deferrable=False,
        conn_id="dify_default",
        execution_timeout=timedelta(seconds=10),
        **COMMON,
    )
