"""Run an Arcee Orchestra workflow, deferrably, and use its outputs downstream.

Connection: ``arcee_orchestra_default`` (host = ``https://orchestra.arcee.ai/api/v1/workflow``,
password = an Arcee Orchestra API key). The ``workflow_id`` param picks the workflow; its default is
the bundled emulator's echo workflow
(``python -m airflow_workflow_providers.testing arcee`` serves it).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, task

from airflow_workflow_providers.arcee.operators import ArceeOrchestraRunWorkflowOperator

with DAG(
    "example_arcee",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={
        "workflow_id": Param(
            "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0001",
            type="string",
            title="Workflow id",
            description="The Arcee Orchestra workflow to run (default: the emulator's echo workflow).",
        ),
        "topic": Param(
            "quarterly sales",
            type="string",
            title="Topic",
            description="Sent as the workflow's `query` input.",
        ),
    },
    tags=["example", "arcee"],
    doc_md="""
### Run an Arcee Orchestra workflow

`summarize` executes the workflow through the `arcee_orchestra_default` connection and **defers** while
it runs. When it ends, the task log lists every node's step (node, status, seconds) and the result
carries them as `steps`; `outputs["output"]` is the end node's text. Arcee cannot stop a run.
""",
) as dag:
    summarize = ArceeOrchestraRunWorkflowOperator(
        task_id="summarize",
        workflow_id="{{ params.workflow_id }}",
        inputs={"query": "Summarize {{ params.topic }} for run {{ run_id }}"},
        deferrable=True,
        poll_interval=1,
        timeout=600,
    )

    @task
    def publish(result: dict) -> str:
        """A downstream step that uses the workflow's outputs and its per-node steps."""
        answer = result["outputs"]["output"]  # the end node's text (an object's keys would be there instead)
        nodes = ", ".join(f"{s['node']} ({s['status']})" for s in result["steps"] or [])
        print(
            f"Arcee Orchestra run {result['run_id']} took {result['elapsed_time']} s through {nodes}: {answer}"
        )
        return answer

    publish(summarize.output)
