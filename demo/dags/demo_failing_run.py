"""A run that fails on purpose, so the demo shows how a remote failure reads in Airflow."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator

with DAG(
    "demo_failing_run",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    tags=["demo", "scade"],
    doc_md="""
### A remote run that fails (on purpose)

The Scade emulator's slow flow fails when its `delay` input is negative. The task defers like any other,
then fails with Scade's own error text, the run id and the raw status as the first lines of the
failure in its log, and spends no Airflow retries on a run that has already failed remotely.
""",
) as dag:
    ScadeRunFlowOperator(
        task_id="fail",
        flow_id="1608",
        start_node_id="Qk3a-start",
        end_node_id="Zp9w-end",
        inputs={"text": "this flow fails", "delay": -1},
        deferrable=True,
        poll_interval=1,
        timeout=600,
        retries=0,
    )
