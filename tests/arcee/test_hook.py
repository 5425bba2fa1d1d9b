"""ArceeOrchestraHook over real HTTP against the Arcee Orchestra emulator."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_workflow_providers.arcee.hooks import ArceeOrchestraHook
from airflow_workflow_providers.core.errors import PermanentAPIError, PlatformAPIError, StartNotConfirmedError
from airflow_workflow_providers.core.model import RunState
from airflow_workflow_providers.core.retry import RetryPolicy
from tests.arcee.conftest import ECHO_WORKFLOW, SLOW_WORKFLOW

QUICK = RetryPolicy(attempts=4, initial_delay=0.05, max_delay=0.2)


def hook(conn_id: str = "arcee_orchestra_default") -> ArceeOrchestraHook:
    return ArceeOrchestraHook(conn_id, retry_policy=QUICK)


def wait(ref, seconds: float = 20):
    return hook().wait_for_run(ref, end_time=time.time() + seconds, poll_interval=0.1)


def test_start_poll_and_complete_with_string_outputs(arcee):
    ref = hook().start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "hi"})
    assert ref.extras == {"workflow_id": ECHO_WORKFLOW}
    run = wait(ref)
    assert (run.run_id, run.state, run.raw_status, run.outputs) == (
        ref.run_id,
        RunState.SUCCEEDED,
        "completed",
        "hi",
    )
    assert run.to_result()["elapsed_time"] == 0
    assert arcee.control.runs()[ref.run_id]["inputs"] == {"query": "hi"}
    assert arcee.control.count("polls") >= 1


def test_object_outputs_and_object_shaped_runs(arcee):
    arcee.control.add_app(id=SLOW_WORKFLOW, options={"run_shape": "object"})
    run = wait(hook().start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "x", "delay": 1}))
    assert run.state is RunState.SUCCEEDED and run.outputs == {"answer": "x", "slept": 1}
    assert run.usage == {"elapsed_time": 1}


def test_a_failed_run_carries_its_error(arcee):
    ref = hook().start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "x", "delay": -1})
    with pytest.raises(Exception, match="failed: Agent node failed: model timeout \\(status='failed'\\)"):
        wait(ref)
    assert hook().get_workflow_run(SLOW_WORKFLOW, ref.run_id).state is RunState.FAILED


def test_list_workflows_steps_history_and_diagram(arcee):
    h = hook()
    assert {w["workflow_id"] for w in h.list_workflows()} == {ECHO_WORKFLOW, SLOW_WORKFLOW}
    first = h.start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "one"})
    second = h.start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "two"})
    wait(second)
    steps = h.get_run_steps(second)
    assert [(s["node_id"], s["status"]) for s in steps] == [
        ("input", "completed"),
        ("agent", "completed"),
        ("output", "completed"),
    ]
    assert [r["id"] for r in h.list_runs(ECHO_WORKFLOW)] == [second.run_id, first.run_id]
    assert [r["id"] for r in h.list_runs(ECHO_WORKFLOW, limit=1, offset=1)] == [first.run_id]
    assert h.get_diagram(ECHO_WORKFLOW).startswith("graph TD")


def test_test_connection_spends_no_credits(arcee):
    assert hook().test_connection() == (True, "Connected to Arcee Orchestra: 2 workflows visible (2 active).")
    assert arcee.control.runs() == {}
    assert arcee.control.count("starts") == 0


def test_a_bad_key_fails_fast_and_never_shows_the_key(arcee, monkeypatch):
    conn = {"conn_type": "arcee_orchestra", "host": arcee.base_url, "password": "arcee-SECRET"}
    monkeypatch.setenv("AIRFLOW_CONN_ARCEE_BAD", json.dumps(conn))
    with pytest.raises(PermanentAPIError) as raised:
        hook("arcee_bad").start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "x"})
    assert raised.value.status_code == 401 and "arcee-SECRET" not in str(raised.value)
    assert arcee.control.count("starts") == 1  # not retried
    ok, message = hook("arcee_bad").test_connection()
    assert (
        not ok
        and "401" in message
        and "Invalid or missing API key" in message
        and "arcee-SECRET" not in message
    )


def test_an_unknown_workflow_is_a_permanent_error(arcee):
    with pytest.raises(PermanentAPIError, match="HTTP 404: Workflow not found") as raised:
        hook().start_run(workflow_id="no-such-workflow", inputs={"query": "x"})
    assert raised.value.status_code == 404 and arcee.control.count("starts") == 1


def test_a_missing_input_variable_is_a_permanent_400(arcee):
    with pytest.raises(PermanentAPIError, match="HTTP 400: Missing required input variable: query"):
        hook().start_run(workflow_id=ECHO_WORKFLOW, inputs={})
    assert arcee.control.runs() == {}


def test_an_unknown_run_is_a_permanent_error_naming_the_run(arcee):
    with pytest.raises(PermanentAPIError, match="run 00000000.*Run not found"):
        hook().get_workflow_run(ECHO_WORKFLOW, "00000000-0000-0000-0000-000000000000")


def test_transient_poll_faults_are_retried(arcee):
    ref = hook().start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "hi"})
    arcee.control.inject("status", r"/workflows/.*/runs/[^/]+", method="GET", times=2, status=503)
    arcee.control.inject("malformed", r"/workflows/.*/runs/[^/]+", method="GET")
    assert hook().get_run(ref).run_id == ref.run_id
    assert arcee.control.count("polls") == 4


def test_retries_run_out_with_a_clear_error(arcee):
    arcee.control.inject("status", r"/workflows", method="GET", times=10, status=500)
    with pytest.raises(PlatformAPIError, match="gave up after 4 attempts"):
        hook().list_workflows()


def test_a_start_refused_with_503_is_retried_and_runs_once(arcee):
    arcee.control.inject("status", r"/workflows/.*/execute", method="POST", status=503)
    hook().start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "x"})
    assert (arcee.control.count("starts"), len(arcee.control.runs())) == (2, 1)


def test_a_start_whose_answer_is_lost_is_found_in_the_run_history(arcee, quick_find):
    arcee.control.inject("drop", r"/workflows/.*/execute", method="POST", after_processing=True)
    ref = hook().start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "lost", "delay": 2})
    assert (arcee.control.count("starts"), list(arcee.control.runs())) == (1, [ref.run_id])
    assert ref.extras == {"workflow_id": SLOW_WORKFLOW}


def test_a_lost_start_is_not_guessed_among_runs_with_the_same_inputs(arcee, quick_find):
    hook().start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "same", "delay": 5})
    arcee.control.inject("drop", r"/workflows/.*/execute", method="POST", after_processing=True)
    with pytest.raises(StartNotConfirmedError, match="no second run"):
        hook().start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "same", "delay": 5})
    assert (arcee.control.count("starts"), len(arcee.control.runs())) == (2, 2)


def test_the_run_cannot_be_stopped_and_keeps_running(arcee):
    h = hook()
    ref = h.start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "x", "delay": 30})
    assert h.cancel_run(ref) is False and asyncio.run(h.acancel_run(ref)) is False
    assert not h.get_run(ref).state.is_terminal


def test_async_polls_see_the_same_run(arcee):
    h = hook()
    ref = h.start_run(workflow_id=ECHO_WORKFLOW, inputs={"query": "x"})
    assert asyncio.run(h.aget_run(ref)).run_id == ref.run_id
