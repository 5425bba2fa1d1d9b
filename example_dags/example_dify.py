"""Run a Dify workflow app, deferrably, and use its outputs downstream.

Connections: ``dify_default`` points at a Dify app (host = base URL such as ``https://api.dify.ai/v1``,
password = the app's API key). ``make demo`` points it at the bundled emulator's echo app.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, task

from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator

with DAG(
    "example_dify",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={
        "topic": Param(
            "quarterly sales",
            type="string",
            title="Topic",
            description="What the Dify app summarizes: sent as its `query` input.",
        )
    },
    tags=["example", "dify"],
    doc_md="""
### Run a Dify workflow app

`summarize` starts a run of the Dify app behind the `dify_default` connection, checks its inputs against
the app's input form first, then **defers**: the run is polled on the triggerer and no worker slot is
held while it goes on. Its task log tells the story (inputs checked, run started, waiting on the
triggerer, state changes, finished with tokens and outputs); its *Details* tab has a **Remote run**
link to the app's run logs in the Dify console. `publish` uses the outputs.
""",
) as dag:
    summarize = DifyRunWorkflowOperator(
        task_id="summarize",
        inputs={"query": "Summarize {{ params.topic }} for run {{ run_id }}"},
        deferrable=True,
        poll_interval=1,
        timeout=600,
    )

    @task
    def publish(result: dict) -> str:
        """A downstream step that uses the workflow's outputs."""
        answer = result["outputs"]["result"]
        print(f"Dify run {result['run_id']} used {result['total_tokens']} tokens: {answer}")
        return answer

    publish(summarize.output)
