"""DAGs of the batch e2e tests (``tests/e2e/test_batch.py``): a Dify batch over the items in
``params.items`` (a JSONL path or URI) into ``params.output_path``, deferred and blocking."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_workflow_providers.dify.operators import DifyBatchRunWorkflowOperator

for dag_id, deferrable, concurrency in (("e2e_batch_dify", True, 25), ("e2e_batch_dify_blocking", False, 5)):
    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        params={"items": "", "output_path": ""},
        tags=["e2e", "batch"],
    ) as dag:
        DifyBatchRunWorkflowOperator(
            task_id="batch",
            conn_id="dify_slow",
            deferrable=deferrable,
            items="{{ params['items'] }}",
            output_path="{{ params['output_path'] }}",
            concurrency=concurrency,
            poll_interval=1.0,
            timeout=1800,
            retries=0,
        )
    globals()[dag_id] = dag
