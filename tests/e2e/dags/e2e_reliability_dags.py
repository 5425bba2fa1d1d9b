"""DAGs of the reliability tests (``tests/e2e/test_reliability*.py``, ``docs/reliability.md``).

Connections: ``<platform>_default`` and ``dify_slow`` (the harness), ``e2e_<platform>_bad_key`` (created
by the permanent-fault test through the REST API, with a key the emulator refuses). Remote runs last
at least 10 s: a trigger that fires sooner can lose Airflow 3.3's defer/resume race (docs/e2e.md).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_workflow_providers.arcee.operators import ArceeOrchestraRunWorkflowOperator
from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator
from airflow_workflow_providers.flowy.operators import FlowyRunAppOperator
from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator

#: the emulators' slow app/flow/workflow of each platform (their default ids)
SCADE_SLOW = {"flow_id": "1608", "start_node_id": "Qk3a-start", "end_node_id": "Zp9w-end"}
ARCEE_SLOW = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002"
FLOWY_SLOW = "65f1a2b3c4d5e6f708090a02"
NO_SUCH_UUID = "00000000-0000-4000-8000-000000000000"
#: what every Airflow retry of these tasks would cost: none is expected where the fault is permanent
RETRIES = {"retries": 2, "retry_delay": datetime.timedelta(seconds=1)}


def _dag(dag_id: str, **kwargs) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=64,
        tags=["e2e", "reliability"],
        **kwargs,
    )


# One deferred Dify run of ``delay`` seconds (conf ``{"delay": n}``); or, with conf ``{"ends_at": epoch}``,
# a run that ends at that instant, so that runs started over a minute all end together.
# Native rendering: ``"{{ params.delay }}"`` stays a number, as the Dify input form wants.
with _dag("e2e_rel_deferred", params={"delay": 12, "ends_at": 0}, render_template_as_native_obj=True) as dag:
    DifyRunWorkflowOperator(
        task_id="run",
        conn_id="dify_slow",
        deferrable=True,
        poll_interval=0.5,
        timeout=600,
        retries=0,
        inputs={
            "query": "{{ run_id }}",
            "delay": "{{ [params.ends_at - macros.time.time(), 10] | max | round(1) "
            "if params.ends_at else params.delay }}",
        },
    )

# The trigger's deadline passes long before the run's end.
with _dag("e2e_rel_timeout") as dag:
    DifyRunWorkflowOperator(
        task_id="run",
        conn_id="dify_slow",
        deferrable=True,
        poll_interval=0.5,
        timeout=12,
        retries=0,
        inputs={"query": "{{ run_id }}", "delay": 300},
    )

# A blocking wait on every platform with one Airflow retry: the test kills the task's process mid-run.
with _dag("e2e_rel_worker_crash") as dag:
    crash = {
        "deferrable": False,
        "poll_interval": 0.5,
        "timeout": 300,
        "retries": 1,
        "retry_delay": datetime.timedelta(seconds=1),
    }
    DifyRunWorkflowOperator(
        task_id="dify", conn_id="dify_slow", inputs={"query": "{{ run_id }}", "delay": 25}, **crash
    )
    ScadeRunFlowOperator(task_id="scade", **SCADE_SLOW, inputs={"text": "{{ run_id }}", "delay": 25}, **crash)
    ArceeOrchestraRunWorkflowOperator(
        task_id="arcee", workflow_id=ARCEE_SLOW, inputs={"query": "{{ run_id }}", "delay": 25}, **crash
    )
    FlowyRunAppOperator(
        task_id="flowy", app_id=FLOWY_SLOW, inputs={"prompt": "{{ run_id }}", "seconds": "25"}, **crash
    )

# Faults no retry can fix, one per task; each task allows two Airflow retries that must not be spent.
with _dag("e2e_rel_permanent") as dag:
    fast = {"deferrable": True, "poll_interval": 0.5, **RETRIES}
    DifyRunWorkflowOperator(task_id="dify_bad_key", conn_id="e2e_dify_bad_key", inputs={"query": "x"}, **fast)
    ScadeRunFlowOperator(
        task_id="scade_bad_key", conn_id="e2e_scade_bad_key", **SCADE_SLOW, inputs={"text": "x"}, **fast
    )
    ArceeOrchestraRunWorkflowOperator(
        task_id="arcee_bad_key",
        conn_id="e2e_arcee_orchestra_bad_key",
        workflow_id=ARCEE_SLOW,
        inputs={"query": "x"},
        **fast,
    )
    FlowyRunAppOperator(
        task_id="flowy_bad_key",
        conn_id="e2e_flowy_bad_key",
        app_id=FLOWY_SLOW,
        inputs={"prompt": "x"},
        **fast,
    )
    DifyRunWorkflowOperator(
        task_id="dify_unknown_workflow",
        conn_id="dify_slow",
        workflow_id=NO_SUCH_UUID,
        inputs={"query": "x", "delay": 10},
        **fast,
    )
    ScadeRunFlowOperator(
        task_id="scade_unknown_flow",
        flow_id="999999",
        start_node_id="a-start",
        end_node_id="b-end",
        inputs={"text": "x"},
        **fast,
    )
    ArceeOrchestraRunWorkflowOperator(
        task_id="arcee_unknown_workflow", workflow_id=NO_SUCH_UUID, inputs={"query": "x"}, **fast
    )
    FlowyRunAppOperator(
        task_id="flowy_unknown_app", app_id="65f1a2b3c4d5e6f7080909ff", inputs={"prompt": "x"}, **fast
    )
    FlowyRunAppOperator(task_id="flowy_no_credits", app_id=FLOWY_SLOW, inputs={"prompt": "x"}, **fast)
    DifyRunWorkflowOperator(
        task_id="dify_rate_limited", conn_id="dify_slow", inputs={"query": "x", "delay": 10}, **fast
    )
    DifyRunWorkflowOperator(
        task_id="dify_bad_input", conn_id="dify_slow", inputs={"query": "x", "delay": "soon"}, **fast
    )
    FlowyRunAppOperator(task_id="flowy_bad_input", app_id=FLOWY_SLOW, inputs={"promt": "x"}, **fast)
    ArceeOrchestraRunWorkflowOperator(
        task_id="arcee_bad_input", workflow_id=ARCEE_SLOW, inputs="{{ run_id }}", **fast
    )
