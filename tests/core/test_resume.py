"""Whether a new try may wait on the run of an earlier one: the pure decision of ``core/resume.py``."""

from __future__ import annotations

import pytest

from airflow_workflow_providers.core.model import Run, RunRef, RunState
from airflow_workflow_providers.core.resume import Resume, StoredRun, resume

REF = RunRef("r1", {"task_id": "t1"})


def run(state: RunState, unknown: bool = False) -> Run:
    return Run("r1", state, state.value, unknown_status=unknown)


@pytest.mark.parametrize(
    ("waiter", "state", "stoppable", "decision"),
    [
        ("worker", RunState.RUNNING, True, Resume.REATTACH),  # the try crashed (SIGKILL): nobody stopped it
        (
            "trigger",
            RunState.RUNNING,
            True,
            Resume.STOP_AND_RESTART,
        ),  # the trigger's on_kill may have stopped it
        ("trigger", RunState.RUNNING, False, Resume.REATTACH),  # the platform cannot stop runs
        ("stopped", RunState.RUNNING, True, Resume.STOP_AND_RESTART),  # a stopped Dify run polls as running
        ("stopped", RunState.SUCCEEDED, True, Resume.REATTACH),  # it finished before the stop: take it
        ("worker", RunState.FAILED, True, Resume.RESTART),
        ("worker", RunState.CANCELLED, False, Resume.RESTART),
    ],
)
def test_the_decision_table(waiter, state, stoppable, decision):
    assert resume(StoredRun(REF, waiter), run(state), stoppable=stoppable) is decision


def test_an_unknown_terminal_status_is_not_a_final_failure():
    assert resume(StoredRun(REF), run(RunState.FAILED, unknown=True), stoppable=False) is Resume.REATTACH


def test_the_stored_value_round_trips_and_the_bare_reference_of_earlier_versions_is_read():
    stored = StoredRun(REF, "trigger")
    assert StoredRun.from_json(stored.to_json()) == stored
    assert StoredRun.from_json({"run_id": "r1", "task_id": "t1"}) == StoredRun(REF, "worker")


@pytest.mark.parametrize(
    "value", [{"run": {"run_id": "r"}, "waiter": "nobody"}, {"run": None, "waiter": "worker"}, 7, [1]]
)
def test_an_unreadable_stored_value_is_a_value_error(value):
    with pytest.raises(ValueError):
        StoredRun.from_json(value)
