"""Scade DAGs through Airflow's dag.test(), deferrable and blocking."""

from __future__ import annotations

import re

import pytest

MODES = ["deferred", "blocking"]


@pytest.mark.parametrize("mode", MODES)
def test_a_flow_succeeds_and_its_outputs_flow_downstream(scade, run_dag, mode):
    result = run_dag(f"scade_echo_{mode}", text="hello airflow")
    assert result.state == "success", result.tasks
    run = result.value("run")
    assert run["status"] == "succeeded" and run["outputs"] == {"result": "hello airflow"}
    assert run["run_id"] == "22311" and run["raw_status"] == 3
    assert run["execution_cost"] == 0.25 and run["execution_time"] is not None
    # run_dag reads XComs back through json.loads, which turns the stored "22311" into 22311; a task
    # pulling it gets the string
    assert result.value("pulled_run_id") == "'22311'"
    assert result.value("use") == "HELLO AIRFLOW"
    assert len(scade.control.runs()) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_status_map_turns_a_custom_status_into_success(scade, run_dag, mode):
    scade.control.add_app(id="1607", options={"terminal_status": 7})
    result = run_dag(f"scade_status_map_{mode}")
    assert result.state == "success", result.tasks
    assert result.value("run")["raw_status"] == 7 and result.value("run")["outputs"] == {"result": "mapped"}


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_status_fails_the_task_naming_it(scade, run_dag, mode, capsys):
    scade.control.add_app(id="1607", options={"terminal_status": 7})
    result = run_dag(f"scade_echo_{mode}", text="x")
    assert result.tasks["run"] == "failed"
    assert ("run", "return_value") not in result.xcom
    assert "Scade reported task status 7" in "".join(capsys.readouterr())


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_flow_fails_the_task(scade, run_dag, mode, capsys):
    result = run_dag(f"scade_failure_{mode}")
    assert result.tasks["run"] == "failed"
    assert ("run", "return_value") not in result.xcom
    assert ("run", "run_id") in result.xcom
    assert "Node Zp9w-end failed: upstream timeout" in "".join(capsys.readouterr())


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_fails_the_task_and_logs_that_the_flow_keeps_running(scade, run_dag, mode, capsys):
    result = run_dag(f"scade_timeout_{mode}")
    assert result.tasks["run"] == "failed"
    logged = "".join(capsys.readouterr())
    assert "Scade run 22311 did not finish within 2 s." in logged
    assert (
        "Cannot stop run 22311 (Scade has no endpoint to stop a flow run): it keeps running remotely"
        in logged
    )
    assert len(scade.control.runs()) == 1 and scade.control.count("stops") == 0


@pytest.mark.parametrize("mode", MODES)
def test_invalid_arguments_fail_before_submitting(scade, run_dag, mode, capfd):
    result = run_dag(f"scade_invalid_{mode}")
    assert result.tasks["run"] == "failed"
    assert scade.control.state()["requests"] == []
    # Airflow 3.0's dag.test() prints the task's error to the real stdout, coloured and wrapped
    logged = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", "".join(capfd.readouterr())).split())
    assert "inputs must be a dict" in logged and "node_settings['y5iI-end'] must be a dict" in logged


@pytest.mark.parametrize("mode", MODES)
def test_the_sensor_waits_for_a_run_started_elsewhere(scade, run_dag, mode):
    result = run_dag(f"scade_sensor_{mode}")
    assert result.state == "success", result.tasks
    assert result.value("wait")["status"] == "succeeded"
    assert result.value("wait")["outputs"] == {"result": "elsewhere", "slept": 1}
    assert (
        result.value("wait")["run_id"] == "22311" and result.value("start", "run_id") == 22311
    )  # (see above)
    assert len(scade.control.runs()) == 1


def test_the_example_dag_succeeds(scade, run_dag):
    result = run_dag("example_scade")
    assert result.state == "success", result.tasks
    assert result.value("publish").startswith("Summarize quarterly sales for run manual__")
    assert result.value("summarize")["execution_cost"] == 0.25
