"""Run a Dify workflow app over every line of a JSONL file, on the triggerer; results as JSONL.

One task answers today's tickets, however many there are: at most ``concurrency`` runs in flight
(fewer while Dify says it is busy), resumable after any crash, one result line per ticket.

Connections: ``dify_default`` points at a Dify app whose input is ``query`` (``make demo``: the bundled
emulator's echo app). ``params.storage`` is any ``ObjectStoragePath`` folder: a local path, ``file://``,
or ``s3://<aws conn id>@bucket/prefix``.
"""

from __future__ import annotations

import datetime
import json

from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_workflow_providers.dify.operators import DifyBatchRunWorkflowOperator

FOLDER = "{{ params.storage }}/{{ run_id | replace(':', '') | replace('+', '') }}"

with DAG(
    "example_batch_dify",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={"storage": "file:///tmp/airflow-example-batch", "tickets": 25},
    tags=["example", "dify", "batch"],
) as dag:

    @task
    def export_tickets(folder: str, count: str) -> str:
        """Stands for the upstream export: one JSON object per line, ``ticket_id`` + the workflow's inputs."""
        path = ObjectStoragePath(f"{folder}/tickets.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = (
            {"ticket_id": f"T-{n:04d}", "query": f"Summarize support ticket {n}"} for n in range(int(count))
        )
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return str(path)

    answers = DifyBatchRunWorkflowOperator(
        task_id="answer_tickets",
        items=export_tickets(FOLDER, "{{ params.tickets }}"),
        output_path=f"{FOLDER}/answers.jsonl",
        id_field="ticket_id",  # names each result; not sent as an input
        concurrency=5,
        max_failures=0.05,  # the task fails if more than 5% of the tickets fail (all are attempted)
        deferrable=True,
        poll_interval=2,
    )

    @task
    def report(summary: dict) -> int:
        """A downstream step reading the results file, one JSON line per ticket."""
        lines = ObjectStoragePath(summary["output_path"]).read_text().splitlines()
        answered = [json.loads(line) for line in lines if line]
        print(
            f"{summary['succeeded']}/{summary['total']} tickets answered in {summary['elapsed_seconds']} s; "
            f"first: {answered[0]['id']} -> {answered[0]['outputs']}"
        )
        return summary["succeeded"]

    report(answers.output)
