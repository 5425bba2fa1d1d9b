"""Arcee Orchestra DAGs through Airflow's dag.test(), deferrable and blocking."""

from __future__ import annotations

import pytest

from tests.arcee.conftest import ECHO_WORKFLOW

MODES = ["deferred", "blocking"]
STEPS = "GET /workflows/{workflow_id}/runs/{run_id}/steps"


class TaskLogs:
    """What the tasks logged: dag.test() runs them in-process and their log lines reach file descriptor 1."""

    def __init__(self, capfd):
        self.capfd = capfd

    @property
    def text(self) -> str:
        out, err = self.capfd.readouterr()
        return out + err


@pytest.fixture
def logs(capfd):
    return TaskLogs(capfd)


@pytest.mark.parametrize("mode", MODES)
def test_a_run_succeeds_and_its_outputs_and_steps_flow_downstream(arcee, run_dag, logs, mode):
    result = run_dag(f"arcee_echo_{mode}", workflow=ECHO_WORKFLOW, query="hello airflow")
    assert result.state == "success", result.tasks
    run = result.value("run")
    # outputs are a dict on every platform: the end node's text is kept under "output"
    assert (run["status"], run["raw_status"], run["outputs"], run["error"]) == (
        "succeeded",
        "completed",
        {"output": "hello airflow"},
        None,
    )
    assert [(s["node"], s["status"]) for s in run["steps"]] == [
        ("input", "completed"),
        ("agent", "completed"),
        ("output", "completed"),
    ]
    assert all(isinstance(s["seconds"], (int, float)) for s in run["steps"])
    # Arcee reports whole seconds (0 for this 0.2 s run); the result carries the steps' true total
    assert run["elapsed_time"] == round(sum(s["seconds"] for s in run["steps"]), 3) > 0
    assert result.value("run", "run_id") == run["run_id"]
    assert result.value("use") == "HELLO AIRFLOW"
    assert len(arcee.control.runs()) == 1
    text = logs.text
    assert f"Arcee Orchestra run {run['run_id']} steps (3):" in text and "step agent: completed in" in text


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_run_fails_the_task_after_logging_its_steps(arcee, run_dag, logs, mode):
    result = run_dag(f"arcee_failure_{mode}")
    assert result.tasks["run"] == "failed"
    assert ("run", "return_value") not in result.xcom
    assert ("run", "run_id") in result.xcom
    assert arcee.control.count(STEPS) == 1
    text = logs.text
    assert "step agent: failed in" in text and "error: Agent node failed: model timeout" in text


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_fails_the_task_and_says_the_run_keeps_going(arcee, run_dag, logs, mode):
    result = run_dag(f"arcee_timeout_{mode}")
    assert result.tasks["run"] == "failed"
    assert len(arcee.control.runs()) == 1
    assert not any(r["stop_requested"] for r in arcee.control.runs().values())
    assert arcee.control.count(STEPS) == 1  # shows where the run was when time ran out
    assert "it keeps running remotely" in logs.text


@pytest.mark.parametrize("mode", MODES)
def test_invalid_inputs_fail_before_submitting(arcee, run_dag, logs, mode):
    result = run_dag(f"arcee_invalid_{mode}")
    assert result.tasks["run"] == "failed"
    assert arcee.control.runs() == {} and arcee.control.count("starts") == 0
    assert "input 'when' must be a JSON value" in logs.text


@pytest.mark.parametrize("mode", MODES)
def test_the_sensor_waits_for_a_run_started_elsewhere(arcee, run_dag, mode):
    result = run_dag(f"arcee_sensor_{mode}")
    assert result.state == "success", result.tasks
    wait = result.value("wait")
    assert (wait["status"], wait["outputs"]) == ("succeeded", {"answer": "elsewhere", "slept": 1})
    assert wait["run_id"] == result.value("start", "run_id")
    assert [s["node"] for s in wait["steps"]] == ["input", "agent", "output"]
    assert len(arcee.control.runs()) == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_sensor_fails_for_a_failed_run_after_logging_its_steps(arcee, run_dag, logs, mode):
    result = run_dag(f"arcee_sensor_failure_{mode}")
    assert (result.tasks["start"], result.tasks["wait"]) == ("success", "failed")
    assert arcee.control.count(STEPS) == 1
    assert "step agent: failed in" in logs.text
