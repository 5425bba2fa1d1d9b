"""Run a Dify workflow app, deferrably, and use its outputs downstream.

Connections: ``dify_default`` points at a Dify app (host = base URL such as ``https://api.dify.ai/v1``,
password = the app's API key). ``make demo`` points it at the bundled emulator's echo app.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator

with DAG(
    "example_dify",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={"topic": "quarterly sales"},
    tags=["example", "dify"],
) as dag:
    summarize = DifyRunWorkflowOperator(
        task_id="summarize",
        inputs={"query": "Summarize {{ params.topic }} for run {{ run_id }}"},
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )

    @task
    def publish(result: dict) -> str:
        """A downstream step that uses the workflow's outputs."""
        answer = result["outputs"]["result"]
        print(f"Dify run {result['run_id']} used {result['total_tokens']} tokens: {answer}")
        return answer

    publish(summarize.output)
