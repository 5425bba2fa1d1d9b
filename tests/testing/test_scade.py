"""The Scade emulator: flows started as tasks and polled until their integer status is terminal."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest

from airflow_workflow_providers.testing import RunningEmulator

Api = Any  # the conftest's client


def start_body(text: Any = "hi", start: str = "SYnn-start", end: str = "y5iI-end", **inputs: Any) -> dict:
    return {
        "start_node_id": start,
        "end_node_id": end,
        "result_node_id": end,
        "node_settings": {start: {"data": {"text": text, **inputs}}},
    }


SLOW_NODES = {"start": "Qk3a-start", "end": "Zp9w-end"}


def test_task_is_queued_then_running_then_succeeds(scade: Api, scade_emulator: RunningEmulator) -> None:
    scade_emulator.control.settings(queued_seconds=0.15)
    task = scade.post("/scade/flow/1608/execute", json=start_body(delay=0.2, **SLOW_NODES)).json()
    assert (task["status"], task["ref_id"], task["result"], task["finished"]) == (1, "flow:1608;", None, None)
    assert task["data"]["node_settings"]["Qk3a-start"]["data"] == {"text": "hi", "delay": 0.2}
    assert task["data"]["node_id"] is None and isinstance(task["id"], int)
    time.sleep(0.2)
    assert scade.get(f"/task/{task['id']}").json()["status"] == 2
    time.sleep(0.25)
    done = scade.get(f"/task/{task['id']}").json()
    assert (done["status"], done["result"]) == (3, {"result": "hi", "slept": 0.2})
    assert isinstance(done["execution_cost"], float) and done["execution_time"] >= 0.2
    assert datetime.datetime.fromisoformat(done["finished"]).tzinfo is None
    assert scade_emulator.control.count("starts") == 1 and scade_emulator.control.count("polls") == 2


def test_failed_task_reports_its_error(scade: Api) -> None:
    task = scade.post("/scade/flow/1608/execute", json=start_body(delay=-1, **SLOW_NODES)).json()
    time.sleep(0.15)
    done = scade.get(f"/task/{task['id']}").json()
    assert (done["status"], done["result"]) == (4, {"error": "Node Zp9w-end failed: upstream timeout"})


@pytest.mark.parametrize(
    ("shape", "result"),
    [("output", {"output": {"result": "hi"}}), ("success.output", {"success": {"output": {"result": "hi"}}})],
)
def test_result_shapes(scade: Api, scade_emulator: RunningEmulator, shape: str, result: dict) -> None:
    scade_emulator.control.add_app(id="1607", options={"result_shape": shape})
    task = scade.post("/scade/flow/1607/execute", json=start_body()).json()
    time.sleep(0.35)
    assert scade.get(f"/task/{task['id']}").json()["result"] == result


@pytest.mark.parametrize(
    ("changes", "status"), [({"outcome": "cancelled"}, 5), ({"options": {"terminal_status": 7}}, 7)]
)
def test_cancelled_and_unknown_statuses(
    scade: Api, scade_emulator: RunningEmulator, changes: dict, status: int
) -> None:
    scade_emulator.control.add_app(id="1607", **changes)
    task = scade.post("/scade/flow/1607/execute", json=start_body()).json()
    time.sleep(0.35)
    assert scade.get(f"/task/{task['id']}").json()["status"] == status


def test_bad_requests(scade: Api) -> None:
    foreign = scade.post("/scade/flow/1607/execute", json=start_body(start="Qk3a-start"))
    assert foreign.status_code == 400 and "does not belong to flow 1607" in foreign.json()["detail"]
    malformed = scade.post(
        "/scade/flow/1607/execute", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and "detail" in malformed.json()
    assert scade.post("/scade/flow/9999/execute", json=start_body()).json() == {"detail": "Flow not found."}
    assert scade.get("/task/1").status_code == 404


def test_key_is_sent_verbatim_after_basic(scade: Api, scade_emulator: RunningEmulator) -> None:
    bearer = scade.get("/task/1", headers={"Authorization": f"Bearer {scade_emulator.api_key}"})
    assert (bearer.status_code, bearer.json()) == (401, {"detail": "Invalid token."})
