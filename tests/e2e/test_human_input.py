"""The Human Input bridge on the real deployment: a Dify run pauses, the task asks in Airflow, a person
answers the required action through Airflow's REST API, and the emulator sees the form submitted."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e
DAG_ID = "example_dify_human_input"


def wait_for(what, check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_required_action_answered_over_rest_resumes_the_dify_run(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DAG_ID)
    path = f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approval/-1/hitlDetails"

    def asked():
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run_id)}
        return api.get(path) if states.get("approval") == "awaiting_input" else None

    detail = wait_for("the required action", asked)
    # Airflow 3.3 fails a task resumed before the executor reported the try that parked it (the report
    # lags by up to [workers] min_heartbeat_interval, 1 s here; the same race as apache/airflow#66374
    # for deferrals). A person takes longer than that; the test waits it out like one.
    time.sleep(3 * float(airflow.env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"]))
    assert detail["subject"] == "Approval" and detail["options"] == ["Approve", "Reject"]
    assert detail["body"].startswith("Please review the request: **deploy release 2.0**")
    api.request("PATCH", path, json={"chosen_options": ["Approve"], "params_input": {"comment": "ship it"}})
    run = api.wait_for_run(DAG_ID, run_id, timeout=180)
    assert run["state"] == "success", api.describe_run(DAG_ID, run_id)
    forms = [
        r
        for r in dify.control.state()["requests"]
        if r["method"] == "POST" and r["path"].startswith("/form/")
    ]
    assert [f["json"]["action"] for f in forms] == ["approve"]
    assert forms[0]["json"]["inputs"] == {"comment": "ship it"} and forms[0]["json"]["user"].startswith(
        "airflow:"
    )
    assert api.xcom(DAG_ID, run_id, "act") == "approve"
