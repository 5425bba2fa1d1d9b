"""Example: run a Scade flow, deferrably, and use its result node's values downstream.

Needs a connection ``scade_default`` (type ``scade``; password = the server key from Scade's settings, sent
as it is), e.g.::

    export AIRFLOW_CONN_SCADE_DEFAULT='{"conn_type": "scade", "password": "<server key>"}'

``FLOW`` names the Scade emulator's default echo flow (``python -m airflow_workflow_providers.testing
scade`` serves it locally; point the connection's host at the emulator's base URL). For your own flow, take
its id and its start and end node ids from the flow editor, and name the start node's inputs in ``inputs``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, task

from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator

FLOW = {"flow_id": "1607", "start_node_id": "SYnn-start", "end_node_id": "y5iI-end"}

with DAG(
    "example_scade",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={
        "topic": Param(
            "quarterly sales",
            type="string",
            title="Topic",
            description="What the flow summarizes: the start node's `text` input.",
        )
    },
    tags=["example", "scade"],
    doc_md="""
### Run a Scade flow

`summarize` runs flow 1607 (start node `SYnn-start`, end node `y5iI-end`) through the `scade_default`
connection and **defers** while it runs: Scade's integer statuses (1 queued, 2 running, 3 done) show in
the task log as they change, and the result carries the flow's cost (`execution_cost`) and time.
Scade cannot stop a flow: if the task times out, the flow runs on.
""",
) as dag:
    summarize = ScadeRunFlowOperator(
        task_id="summarize",
        **FLOW,
        inputs={"text": "Summarize {{ params.topic }} for run {{ run_id }}"},
        deferrable=True,
        poll_interval=1,
        # Scade cannot stop a flow: after this the task fails but the flow runs on (and is billed)
        timeout=600,
    )

    @task
    def publish(run: dict) -> str:
        """A downstream step that uses the flow's outputs."""
        answer = run["outputs"]["result"]
        cost, seconds = run["execution_cost"], run["execution_time"]
        print(f"Scade task {run['run_id']} cost {cost} credits in {seconds} s: {answer}")
        return answer

    publish(summarize.output)
