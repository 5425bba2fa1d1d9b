"""Dify DAGs through Airflow's dag.test(), deferrable and blocking."""

from __future__ import annotations

import pytest
import requests

MODES = ["deferred", "blocking"]


@pytest.mark.parametrize("mode", MODES)
def test_a_run_succeeds_and_its_outputs_flow_downstream(dify, run_dag, mode):
    result = run_dag(f"dify_echo_{mode}", query="hello airflow")
    assert result.state == "success", result.tasks
    run = result.value("run")
    assert run["status"] == "succeeded" and run["outputs"]["result"] == "hello airflow"
    assert {"total_tokens", "elapsed_time", "total_steps", "error"} <= set(run)
    assert result.value("run", "run_id") == run["run_id"]
    assert result.value("use") == "HELLO AIRFLOW"
    # the task's "Remote run" link: the app's run logs in the Dify console beside the API, kept in
    # XCom by Airflow (no second copy of it under another key)
    app_id = dify.control.state()["apps"]["app-echo"]["options"]["app_uuid"]
    page = f"{dify.root_url}/app/{app_id}/logs"
    assert result.value("run", "_link_RemoteRunLink") == page
    assert ("run", "run_url") not in result.xcom
    answer = requests.get(page, timeout=10)  # the emulator serves the console's run list there
    assert answer.status_code == 200 and run["run_id"] in answer.text
    assert len(dify.control.runs()) == 1
    # the default end user names the task instance and is stable across tries
    user = next(iter(dify.control.runs().values()))["user"]
    assert user.startswith(f"airflow:dify_echo_{mode}:run:")


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_run_fails_the_task(dify, run_dag, mode):
    result = run_dag(f"dify_failure_{mode}")
    assert result.tasks["run"] == "failed"
    assert ("run", "return_value") not in result.xcom
    assert ("run", "run_id") in result.xcom


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_stops_the_remote_run(dify, run_dag, mode):
    result = run_dag(f"dify_timeout_{mode}")
    assert result.tasks["run"] == "failed"
    assert len(dify.control.runs()) == 1
    assert dify.control.count("stops") == 1


@pytest.mark.parametrize("mode", MODES)
def test_invalid_inputs_fail_before_submitting(dify, run_dag, mode):
    result = run_dag(f"dify_invalid_{mode}")
    assert result.tasks["run"] == "failed"
    assert dify.control.runs() == {}


@pytest.mark.parametrize("mode", MODES)
def test_the_sensor_waits_for_a_run_started_elsewhere(dify, run_dag, mode):
    result = run_dag(f"dify_sensor_{mode}")
    assert result.state == "success", result.tasks
    assert result.value("wait")["status"] == "succeeded"
    assert result.value("wait")["run_id"] == result.value("start", "run_id")
    assert len(dify.control.runs()) == 1


def test_a_deferred_wait_survives_a_storm_of_transient_faults(dify, run_dag, capfd):
    polls = r"/workflows/run/[^/]+"
    dify.control.inject("status", polls, method="GET", times=5, status=503)
    dify.control.inject("status", polls, method="GET", status=429, retry_after=2, code="too_many_requests")
    dify.control.inject("drop", polls, method="GET")
    dify.control.inject("html", polls, method="GET", status=502)
    result = run_dag("dify_faults_deferred")
    assert result.state == "success", result.tasks
    assert len(dify.control.runs()) == 1
    faults = [r["fault"] for r in dify.control.state()["requests"] if r["fault"]]
    assert len(faults) == 8  # every injected fault was met
    log = capfd.readouterr().out
    assert log.count("HTTP 503") >= 4 and "retrying in 2.0 s" in log and "HTTP 502" in log
    assert "still waiting" in log  # five 503s in a row outlast one request's retries, not the wait
