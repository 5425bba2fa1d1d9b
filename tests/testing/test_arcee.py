"""The Arcee Orchestra emulator: workflows executed by id, runs polled as one-element lists."""

from __future__ import annotations

import time
from typing import Any

from airflow_workflow_providers.testing import RunningEmulator

Api = Any  # the conftest's client
ECHO = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0001"
SLOW = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002"


def test_run_goes_pending_running_completed(arcee: Api, arcee_orchestra_emulator: RunningEmulator) -> None:
    arcee_orchestra_emulator.control.settings(queued_seconds=0.15)
    started = arcee.post(f"/workflows/{SLOW}/execute", json={"query": "hi", "delay": 0.2}).json()
    assert started["message"] == "Workflow execution started"
    run_path = f"/workflows/{SLOW}/runs/{started['run_id']}"
    assert arcee.get(run_path).json()[0]["status"] == "pending"
    time.sleep(0.2)
    (running,) = arcee.get(run_path).json()
    assert (running["status"], running["outputs"], running["end_time"]) == ("running", None, None)
    time.sleep(0.25)
    (done,) = arcee.get(run_path).json()
    assert (done["status"], done["outputs"], done["error"]) == (
        "completed",
        {"answer": "hi", "slept": 0.2},
        None,
    )
    assert isinstance(done["elapsed_time"], int) and done["inputs"] == {"query": "hi", "delay": 0.2}
    assert arcee_orchestra_emulator.control.count("polls") == 3


def test_single_output_is_a_string_and_object_shape_is_steerable(
    arcee: Api, arcee_orchestra_emulator: RunningEmulator
) -> None:
    arcee_orchestra_emulator.control.add_app(id=ECHO, options={"run_shape": "object"})
    run_id = arcee.post(f"/workflows/{ECHO}/execute", json={"query": "hello"}).json()["run_id"]
    time.sleep(0.35)
    run = arcee.get(f"/workflows/{ECHO}/runs/{run_id}").json()
    assert (run["status"], run["outputs"], run["all_outputs"]["output"]) == ("completed", "hello", "hello")


def test_failed_run_and_its_steps(arcee: Api) -> None:
    run_id = arcee.post(f"/workflows/{SLOW}/execute", json={"query": "q", "delay": -1}).json()["run_id"]
    time.sleep(0.15)
    (run,) = arcee.get(f"/workflows/{SLOW}/runs/{run_id}").json()
    assert (run["status"], run["error"]) == ("failed", "Agent node failed: model timeout")
    steps = arcee.get(f"/workflows/{SLOW}/runs/{run_id}/steps").json()
    assert [(s["node_id"], s["status"]) for s in steps] == [
        ("input", "completed"),
        ("agent", "failed"),
        ("output", "cancelled"),
    ]
    assert all(step["tokens"] == 0 for step in steps)


def test_runs_list_is_most_recent_first(arcee: Api) -> None:
    ids = [
        arcee.post(f"/workflows/{ECHO}/execute", json={"query": str(n)}).json()["run_id"] for n in range(3)
    ]
    listed = arcee.get(f"/workflows/{ECHO}/runs", params={"limit": 2, "offset": 0}).json()
    assert [run["id"] for run in listed] == ids[::-1][:2]


def test_workflows_diagram_and_errors(arcee: Api) -> None:
    workflows = arcee.get("/workflows").json()
    assert {w["workflow_id"] for w in workflows} == {ECHO, SLOW}
    assert workflows[0]["graph"]["entry_point"] == "input" and workflows[0]["status"] == "active"
    assert arcee.get(f"/workflows/{ECHO}/diagram").json()["diagram"].startswith("graph TD")
    missing = arcee.post(f"/workflows/{ECHO}/execute", json={})
    assert (missing.status_code, missing.json()) == (
        400,
        {"detail": "Missing required input variable: query"},
    )
    assert arcee.get(f"/workflows/{ECHO}/runs/nope").status_code == 404


def test_documented_authentication_header_is_accepted(
    arcee: Api, arcee_orchestra_emulator: RunningEmulator
) -> None:
    key = arcee_orchestra_emulator.api_key
    assert arcee.get("/workflows", headers={"Authorization": "", "Authentication": f"Bearer {key}"}).ok
    wrong = arcee.get("/workflows", headers={"Authorization": "Bearer wrong"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid or missing API key"})
