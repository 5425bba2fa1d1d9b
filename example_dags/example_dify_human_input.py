"""A Dify workflow that pauses for an approval, answered in Airflow (Browse -> Required Actions).

Connections: ``dify_approval`` points at a Dify workflow app with a Human Input node (host = base URL,
password = the app's API key). Against the bundled emulator use its ``app-approval`` key: the run
pauses at "Approval" (actions Approve / Reject, input ``comment``) and then returns the decision.
Needs Airflow >= 3.1 (its human-in-the-loop API).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator

with DAG(
    "example_dify_human_input",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={"request": "deploy release 2.0"},
    tags=["example", "dify"],
) as dag:
    approval = DifyRunWorkflowOperator(
        task_id="approval",
        conn_id="dify_approval",
        inputs={"query": "{{ params.request }}"},
        on_human_input="airflow",  # the form becomes an Airflow required action
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )

    @task
    def act(result: dict) -> str:
        outputs = result["outputs"]
        print(f"{outputs['result']!r}: {outputs['decision']} ({outputs['comment']!r})")
        return outputs["decision"]

    act(approval.output)
