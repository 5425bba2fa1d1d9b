"""DAGs the knowledge-base tests run with dag.test(), each in deferrable and blocking mode.

Connection (set by the tests): ``dify_knowledge_default`` -> the emulator's dataset API. ``dag_run.conf``
gives the dataset id and the folder to ingest.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyKnowledgeIngestOperator
from airflow_workflow_providers.dify.sensors import DifyKnowledgeIndexingSensor

FAST = {"poll_interval": 0.2, "retries": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)


for mode, deferrable in (("deferred", True), ("blocking", False)):
    with _dag(f"dify_knowledge_{mode}") as dag:

        @task
        def export() -> list[dict]:
            """An upstream step that produces documents (e.g. rows of a table)."""
            return [{"name": "faq.txt", "text": "Q: What is a pool? A: A limit on concurrent tasks."}]

        ingest = DifyKnowledgeIngestOperator(
            task_id="ingest",
            dataset_id="{{ dag_run.conf['dataset_id'] }}",
            documents=export(),
            source="{{ dag_run.conf['folder'] }}",
            deferrable=deferrable,
            timeout=60,
            **FAST,
        )
        DifyKnowledgeIndexingSensor(
            task_id="wait",
            dataset_id="{{ dag_run.conf['dataset_id'] }}",
            batch="{{ ti.xcom_pull(task_ids='ingest')['documents'][0]['batch'] }}",
            poke_interval=0.2,
            timeout=60,
            deferrable=deferrable,
            retries=0,
        ).set_upstream(ingest)
    globals()[dag.dag_id] = dag

    with _dag(f"dify_knowledge_missing_dataset_{mode}") as dag:
        DifyKnowledgeIngestOperator(
            task_id="ingest",
            dataset_id="00000000-0000-0000-0000-000000000000",
            documents=[{"name": "a.txt", "text": "a"}],
            deferrable=deferrable,
            **FAST,
        )
    globals()[dag.dag_id] = dag
