"""DAGs of the run-contract tests (``tests/e2e/test_contract.py``, the table in ``docs/reliability.md``).

Each Dify run lasts ``first`` seconds on a task's first try and ``later`` seconds on any later try (a
clear or a retry), so a test can act on a long first run and still finish fast. Short intervals and
timeouts keep the e2e layer quick.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator

DELAY = "{{ params.first if ti.try_number == 1 else params.later }}"
RETRY = {"retries": 1, "retry_delay": datetime.timedelta(seconds=1)}


def _dag(dag_id: str, first: float = 120, later: float = 10) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=16,
        params={"first": first, "later": later},
        render_template_as_native_obj=True,
        tags=["e2e", "contract"],
    )


def _run(**kwargs) -> DifyRunWorkflowOperator:
    return DifyRunWorkflowOperator(
        task_id="run",
        conn_id="dify_slow",
        poll_interval=0.5,
        inputs={"query": "{{ run_id }} try {{ ti.try_number }}", "delay": DELAY},
        **kwargs,
    )


# cleared or marked while deferred; cleared after success
with _dag("e2e_contract_deferred"):
    _run(deferrable=True, timeout=90)

# SIGTERM of the task process (a deploy), a clear while it runs on the worker
with _dag("e2e_contract_blocking"):
    _run(deferrable=False, timeout=90, **RETRY)

# execution_timeout on the worker: the first run is stopped, the retry's run (2 s) fits
with _dag("e2e_contract_execution_timeout", first=300, later=2):
    _run(deferrable=False, timeout=90, execution_timeout=datetime.timedelta(seconds=8), **RETRY)

# a permanent answer to a poll (a rotated key): no retry may be spent, deferred or not
with _dag("e2e_contract_permanent_poll", first=30, later=30):
    for deferrable in (True, False):
        DifyRunWorkflowOperator(
            task_id="deferred" if deferrable else "blocking",
            conn_id="dify_slow",
            poll_interval=0.5,
            timeout=90,
            deferrable=deferrable,
            retries=2,
            retry_delay=datetime.timedelta(seconds=1),
            inputs={"query": "{{ run_id }} {{ ti.task_id }}", "delay": DELAY},
        )
