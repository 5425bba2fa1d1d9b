"""The side-by-side of ``python -m benchmarks.batch_mapped``: the same items as one batch task, and as
dynamically mapped run tasks (one task instance per item). ``params.items`` items, runs of ``params.delay`` s."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyBatchRunWorkflowOperator, DifyRunWorkflowOperator

PARAMS = {"items": 1000, "delay": 2, "output_path": "/tmp/bench-batch-results.jsonl"}


@task
def make_items(count: str, delay: str) -> list[dict]:
    return [{"query": f"item-{n}", "delay": float(delay)} for n in range(int(count))]


with DAG(
    "bench_batch", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False, params=PARAMS
) as dag:
    DifyBatchRunWorkflowOperator(
        task_id="batch",
        conn_id="dify_slow",
        deferrable=True,
        concurrency=50,
        poll_interval=5,
        retries=0,
        items=make_items("{{ params['items'] }}", "{{ params['delay'] }}"),
        output_path="{{ params['output_path'] }}",
    )

with DAG(
    "bench_mapped",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params=PARAMS,
    max_active_tasks=1024,
) as dag:
    DifyRunWorkflowOperator.partial(
        task_id="run",
        conn_id="dify_slow",
        deferrable=True,
        poll_interval=5,
        retries=0,
    ).expand(inputs=make_items("{{ params['items'] }}", "{{ params['delay'] }}"))
