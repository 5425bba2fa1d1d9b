"""The Dify emulator against the behaviour recorded on a real Dify 1.14.1 server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_workflow_providers.testing import RunningEmulator

SLOW = {"Authorization": "Bearer app-slow"}
Api = Any  # the conftest's client (a fixture: conftest modules are not importable)


@pytest.fixture(autouse=True)
def quick_streams(dify_emulator: RunningEmulator) -> None:
    dify_emulator.control.settings(ping_interval=0.1, stream_close_delay=0.1, stream_hang_seconds=0.3)


def start_streaming(
    dify: Api, inputs: dict, headers: dict | None = None, user: str = "u"
) -> requests.Response:
    body = {"inputs": inputs, "response_mode": "streaming", "user": user}
    return dify.post("/workflows/run", json=body, headers=headers or {}, stream=True)


def sse_frames(response: requests.Response) -> Iterator[list[str]]:
    """The frames of an SSE answer as they arrive, each a list of its lines."""
    frame: list[str] = []
    for line in response.iter_lines(decode_unicode=True):
        if line:
            frame.append(line)
        elif frame:
            yield frame
            frame = []


def data_events(frames: list[list[str]]) -> list[dict]:
    return [json.loads(frame[0].removeprefix("data: ")) for frame in frames if frame[0].startswith("data: ")]


class TestBlocking:
    def test_echo_run_succeeds_and_polls_as_recorded(self, dify: Api) -> None:
        started = dify.post(
            "/workflows/run", json={"inputs": {"query": "hello airflow"}, "user": "airflow-test"}
        )
        assert started.status_code == 200
        data = started.json()["data"]
        assert (data["status"], data["outputs"], data["error"]) == (
            "succeeded",
            {"result": "hello airflow", "attachment": None},
            None,
        )
        detail = dify.get(f"/workflows/run/{started.json()['workflow_run_id']}").json()
        inputs = json.loads(detail["inputs"])
        assert inputs["query"] == "hello airflow" and inputs["sys.user_id"] == "airflow-test"
        assert {"sys.app_id", "sys.timestamp", "sys.workflow_id", "sys.workflow_run_id"} <= set(inputs)
        assert isinstance(detail["created_at"], int) and isinstance(detail["finished_at"], int)

    def test_failed_node_is_http_200_with_status_failed(self, dify: Api) -> None:
        response = dify.post(
            "/workflows/run", headers=SLOW, json={"inputs": {"query": "fail", "delay": -1}, "user": "u"}
        )
        assert response.status_code == 200
        data = response.json()["data"]
        assert (data["status"], data["outputs"]) == ("failed", {})
        assert data["error"] == "Server disconnected without sending a response."

    @pytest.mark.parametrize(
        ("inputs", "message"),
        [
            ({}, "query is required in input form"),
            ({"query": "x" * 257}, "query in input form must be less than 256 characters"),
            ({"query": "x", "delay": "abc"}, "delay in input form must be a valid number"),
        ],
    )
    def test_invalid_inputs_answer_invalid_param(self, dify: Api, inputs: dict, message: str) -> None:
        response = dify.post("/workflows/run", headers=SLOW, json={"inputs": inputs, "user": "u"})
        assert (response.status_code, response.json()) == (
            400,
            {"code": "invalid_param", "message": message, "status": 400},
        )

    def test_user_is_required(self, dify: Api) -> None:
        response = dify.post("/workflows/run", json={"inputs": {"query": "x"}})
        assert response.json() == {
            "code": "invalid_param",
            "message": "Arg user must be provided.",
            "status": 400,
        }

    def test_number_default_applies_when_omitted(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.settings(run_seconds_multiplier=0.01)
        data = dify.post("/workflows/run", headers=SLOW, json={"inputs": {"query": "q"}, "user": "u"}).json()[
            "data"
        ]
        assert data["outputs"]["body"] == '{"slept": 8, "path": "/sleep?s=8"}'

    def test_select_options_are_enforced(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.add_app(
            id="app-form",
            name="form",
            inputs=[{"name": "tone", "type": "select", "options": ["dry", "warm"]}],
        )
        response = dify.post(
            "/workflows/run",
            headers={"Authorization": "Bearer app-form"},
            json={"inputs": {"tone": "loud"}, "user": "u"},
        )
        assert (
            response.json()["message"] == "tone in input form must be one of the following: ['dry', 'warm']"
        )

    def test_proxy_times_out_while_the_run_goes_on(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.settings(blocking_timeout=0.1)
        response = dify.post(
            "/workflows/run", headers=SLOW, json={"inputs": {"query": "q", "delay": 0.4}, "user": "u"}
        )
        assert response.status_code == 504 and "<html>" in response.text
        (run_id,) = dify_emulator.control.runs()
        time.sleep(0.5)
        assert dify.get(f"/workflows/run/{run_id}", headers=SLOW).json()["status"] == "succeeded"

    def test_pinned_workflow_id_is_checked(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        workflow_id = dify_emulator.control.state()["apps"]["app-echo"]["options"]["workflow_id"]
        body = {"inputs": {"query": "by id"}, "user": "u"}
        assert dify.post(f"/workflows/{workflow_id}/run", json=body).json()["data"]["status"] == "succeeded"
        unknown = dify.post("/workflows/00000000-0000-0000-0000-000000000000/run", json=body)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
        malformed = dify.post("/workflows/nope/run", json=body)
        assert malformed.json() == {
            "code": "bad_request",
            "message": "Invalid workflow_id format: 'nope'. ",
            "status": 400,
        }


class TestStreaming:
    def test_frames_are_framed_as_the_real_server_frames_them(self, dify: Api) -> None:
        response = start_streaming(dify, {"query": "hello stream"})
        assert response.headers["Content-Type"].startswith("text/event-stream")
        frames = list(sse_frames(response))  # ends only when the server closes the stream
        assert frames[0] == ["event: ping"]
        assert all(len(frame) == 1 for frame in frames)
        events = [event["event"] for event in data_events(frames)]
        assert events[0] == "workflow_started" and events[-1] == "workflow_finished"
        assert {"node_started", "text_chunk", "node_finished"} <= set(events)
        finished = data_events(frames)[-1]
        assert finished["data"]["created_by"]["user"] == "u"
        assert finished["data"]["outputs"] == {"result": "hello stream", "attachment": None}

    def test_pings_keep_a_long_run_alive(self, dify: Api) -> None:
        frames = list(sse_frames(start_streaming(dify, {"query": "q", "delay": 0.5}, SLOW)))
        pings = [index for index, frame in enumerate(frames) if frame == ["event: ping"]]
        assert len(pings) >= 4 and pings[0] == 0

    def test_failure_is_reported_by_the_failing_node(self, dify: Api) -> None:
        events = data_events(list(sse_frames(start_streaming(dify, {"query": "q", "delay": -1}, SLOW))))
        failed = [e for e in events if e["event"] == "node_finished" and e["data"]["status"] == "failed"]
        assert failed[0]["data"]["node_id"] == "http"
        assert events[-1]["data"]["status"] == "failed"

    def test_invalid_inputs_hang_after_one_ping(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        began = time.monotonic()
        frames = list(sse_frames(start_streaming(dify, {})))
        assert frames == [["event: ping"]]
        assert time.monotonic() - began >= 0.3
        assert dify_emulator.control.runs() == {}

    def test_closing_the_stream_does_not_stop_the_run(self, dify: Api) -> None:
        response = start_streaming(dify, {"query": "q", "delay": 0.3}, SLOW)
        frames = sse_frames(response)
        next(frames)
        run_id = data_events([next(frames)])[0]["workflow_run_id"]
        response.close()
        time.sleep(0.45)
        assert dify.get(f"/workflows/run/{run_id}", headers=SLOW).json()["status"] == "succeeded"

    def test_stop_ends_the_stream_but_polling_still_says_running(self, dify: Api) -> None:
        response = start_streaming(dify, {"query": "to be stopped", "delay": 5}, SLOW)
        frames = sse_frames(response)
        assert next(frames) == ["event: ping"]
        started = data_events([next(frames)])[0]
        stop = dify.post(f"/workflows/tasks/{started['task_id']}/stop", headers=SLOW, json={"user": "u"})
        assert stop.json() == {"result": "success"}
        finished = data_events(list(frames))[-1]
        assert (finished["data"]["status"], finished["data"]["error"]) == ("stopped", "Stopped by user.")
        detail = dify.get(f"/workflows/run/{started['workflow_run_id']}", headers=SLOW).json()
        assert (detail["status"], detail["finished_at"], detail["elapsed_time"], detail["total_steps"]) == (
            "running",
            None,
            0.0,
            0,
        )

    def test_persist_stop_setting_fixes_the_upstream_bug(
        self, dify: Api, dify_emulator: RunningEmulator
    ) -> None:
        dify_emulator.control.settings(persist_stop=True)
        response = start_streaming(dify, {"query": "q", "delay": 5}, SLOW)
        frames = sse_frames(response)
        next(frames)
        started = data_events([next(frames)])[0]
        dify.post(f"/workflows/tasks/{started['task_id']}/stop", headers=SLOW, json={"user": "u"})
        response.close()
        assert (
            dify.get(f"/workflows/run/{started['workflow_run_id']}", headers=SLOW).json()["status"]
            == "stopped"
        )

    def test_paused_outcome_emits_workflow_paused(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.add_app(id="app-echo", outcome="paused")
        events = data_events(list(sse_frames(start_streaming(dify, {"query": "q"}))))
        assert events[-1]["event"] == "workflow_paused"
        assert dify.get(f"/workflows/run/{events[-1]['workflow_run_id']}").json()["status"] == "paused"

    def test_resume_needs_the_same_user_and_replays_the_end(self, dify: Api) -> None:
        events = data_events(list(sse_frames(start_streaming(dify, {"query": "q"}, user="alice"))))
        run_id = events[0]["workflow_run_id"]
        assert dify.get(f"/workflow/{run_id}/events", params={"user": "bob"}).status_code == 404
        resumed = dify.get(f"/workflow/{run_id}/events", params={"user": "alice"}, stream=True)
        assert [event["event"] for event in data_events(list(sse_frames(resumed)))] == ["workflow_finished"]


class TestRunsAndStops:
    def test_stop_answers_success_for_any_task_but_needs_a_user(self, dify: Api) -> None:
        assert dify.post("/workflows/tasks/whatever/stop", json={"user": "u"}).json() == {"result": "success"}
        assert (
            dify.post("/workflows/tasks/whatever/stop", json={}).json()["message"]
            == "Arg user must be provided."
        )

    def test_unknown_malformed_and_foreign_run_ids(self, dify: Api) -> None:
        run_id = dify.post("/workflows/run", json={"inputs": {"query": "q"}, "user": "u"}).json()[
            "workflow_run_id"
        ]
        assert dify.get(f"/workflows/run/{run_id}", headers=SLOW).json() == {
            "code": "not_found",
            "message": "Workflow run not found.",
            "status": 404,
        }
        assert dify.get("/workflows/run/00000000-0000-0000-0000-000000000000").status_code == 404
        malformed = dify.get("/workflows/run/not-a-uuid")
        assert (malformed.status_code, malformed.json()["code"]) == (500, "unknown")

    def test_poll_shows_running_then_the_outcome(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.settings(blocking_timeout=0.0)
        dify.post("/workflows/run", headers=SLOW, json={"inputs": {"query": "q", "delay": 0.3}, "user": "u"})
        (run_id,) = dify_emulator.control.runs()
        running = dify.get(f"/workflows/run/{run_id}", headers=SLOW).json()
        assert (running["status"], running["outputs"], running["elapsed_time"]) == ("running", {}, 0.0)
        time.sleep(0.45)
        assert dify.get(f"/workflows/run/{run_id}", headers=SLOW).json()["status"] == "succeeded"
        assert dify_emulator.control.count("polls") == 2

    def test_logs_filter_by_end_user(self, dify: Api) -> None:
        for user in ("alice", "bob", "alice"):
            dify.post("/workflows/run", json={"inputs": {"query": user}, "user": user})
        logs = dify.get(
            "/workflows/logs", params={"created_by_end_user_session_id": "alice", "limit": 1}
        ).json()
        assert (logs["total"], logs["has_more"], logs["limit"], len(logs["data"])) == (2, True, 1, 1)
        assert logs["data"][0]["created_by_end_user"]["session_id"] == "alice"
        assert logs["data"][0]["workflow_run"]["status"] == "succeeded"
        assert dify.get("/workflows/logs", params={"status": "failed"}).json()["total"] == 0


class TestFilesAndAuth:
    def test_upload_then_run_with_the_file(self, dify: Api) -> None:
        uploaded = dify.post(
            "/files/upload",
            files={"file": ("hello.txt", b"hello from airflow", "text/plain")},
            data={"user": "u"},
        )
        assert uploaded.status_code == 201
        assert (uploaded.json()["extension"], uploaded.json()["size"]) == ("txt", 18)
        attachment = {
            "type": "document",
            "transfer_method": "local_file",
            "upload_file_id": uploaded.json()["id"],
        }
        outputs = dify.post(
            "/workflows/run", json={"inputs": {"query": "f", "attachment": attachment}, "user": "u"}
        ).json()["data"]["outputs"]
        assert outputs["attachment"]["filename"] == "hello.txt"
        assert requests.get(outputs["attachment"]["url"], timeout=5).content == b"hello from airflow"

    def test_upload_errors(self, dify: Api) -> None:
        assert dify.post("/files/upload", data={"user": "u"}).json()["code"] == "no_file_uploaded"
        too_big = dify.post(
            "/files/upload", files={"file": ("a.png", b"\0" * (10 * 1024 * 1024 + 1), "image/png")}
        )
        assert (too_big.status_code, too_big.json()["code"]) == (413, "file_too_large")

    def test_wrong_key_is_rejected_and_recorded(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        response = dify.get("/parameters", headers={"Authorization": "Bearer app-invalid"})
        assert (response.status_code, response.json()) == (
            401,
            {"code": "unauthorized", "message": "Access token is invalid", "status": 401},
        )
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        (entry,) = dify_emulator.control.state()["requests"]
        assert (entry["path"], entry["auth_valid"], entry["status"]) == ("/parameters", False, 401)
        assert "app-invalid" not in json.dumps(entry)

    def test_parameters_describe_the_form(self, dify: Api) -> None:
        form = dify.get("/parameters", headers=SLOW).json()["user_input_form"]
        assert form[1] == {
            "number": {
                "variable": "delay",
                "label": "delay",
                "type": "number",
                "required": False,
                "default": 8,
                "options": [],
            }
        }
