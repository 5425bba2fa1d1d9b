"""The Dify emulator's chat apps, Human Input pauses and events endpoint against the second recording
of a real Dify 1.14.1 server (its "Findings", one test or more each)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests

from airflow_workflow_providers.testing import RunningEmulator
from tests.recorded import CHAT_RECORDING, find
from tests.testing.test_dify import data_events, sse_frames

CHATFLOW = {"Authorization": "Bearer app-chatflow"}
APPROVAL = {"Authorization": "Bearer app-approval"}
Api = Any


def recorded(title: str, status: int | None = None):
    return find(title, status, recording=CHAT_RECORDING)[0]


def recorded_events(title: str) -> list[str]:
    """The event names of a recorded stream, verbatim and summarised lines alike."""
    return re.findall(r'^data: \{"event": ?"(\w+)"', recorded(title).sse.decode(), flags=re.M)


def recorded_verbatim(title: str) -> dict[str, dict]:
    """The first verbatim event of each name in a recorded stream."""
    found: dict[str, dict] = {}
    for line in recorded(title).sse.decode().splitlines():
        try:
            event = json.loads(line.removeprefix("data: "))
        except ValueError:
            continue
        found.setdefault(event["event"], event)
    return found


@pytest.fixture(autouse=True)
def quick_streams(dify_emulator: RunningEmulator) -> None:
    dify_emulator.control.settings(
        ping_interval=0.1, stream_close_delay=0.1, stream_hang_seconds=0.3, resume_seconds=0.2
    )


def chat(dify: Api, mode: str = "streaming", headers: dict | None = None, **body: Any) -> requests.Response:
    body = {
        "query": "hello chatflow",
        "inputs": {"topic": "airflow"},
        "response_mode": mode,
        "user": "airflow-chat",
        **body,
    }
    return dify.post("/chat-messages", json=body, headers=headers or CHATFLOW, stream=mode == "streaming")


def pause(dify: Api, query: str = "deploy release 2.0", user: str = "airflow-hitl") -> list[dict]:
    """Start an approval run in streaming mode and read the stream until the server closes it."""
    response = dify.post(
        "/workflows/run",
        headers=APPROVAL,
        stream=True,
        json={"inputs": {"query": query}, "response_mode": "streaming", "user": user},
    )
    return data_events(list(sse_frames(response)))


def events(dify: Api, run_id: str, user: str = "airflow-hitl", headers: dict | None = None, **flags: str):
    return dify.get(
        f"/workflow/{run_id}/events", params={"user": user, **flags}, headers=headers or APPROVAL, stream=True
    )


def wait_for_status(dify: Api, run_id: str, status: str, headers: dict = APPROVAL) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        detail = dify.get(f"/workflows/run/{run_id}", headers=headers).json()
        if detail["status"] == status:
            return detail
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {status}: {detail}")


def paused_as_recorded(got: list[dict]) -> tuple[dict, dict]:
    """Check a stream that paused against the recorded one; its ``human_input_required`` and
    ``workflow_paused`` data."""
    title = "POST /workflows/run — streaming until the server closes it"
    assert [e["event"] for e in got] == recorded_events(title)
    verbatim = recorded_verbatim(title)
    required, paused = got[-2]["data"], got[-1]["data"]
    assert set(required) == set(verbatim["human_input_required"]["data"])
    assert set(paused) == set(verbatim["workflow_paused"]["data"])
    assert paused["reasons"][0]["form_token"] == required["form_token"]
    return required, paused


def polls_paused(dify: Api, run_id: str, headers: dict) -> None:
    """The poll of a paused run: as recorded, ``paused`` with no form token."""
    detail = dify.get(f"/workflows/run/{run_id}", headers=headers)
    assert set(detail.json()) == set(recorded("(while paused)", 200).body)
    assert (detail.json()["status"], detail.json()["elapsed_time"], detail.json()["outputs"]) == (
        "paused",
        0.0,
        {},
    )
    assert "form_token" not in detail.text


class TestChatflow:
    TITLE = "POST /chat-messages — streaming, new conversation"

    def test_stream_has_the_recorded_events_in_the_recorded_order(self, dify: Api) -> None:
        got = data_events(list(sse_frames(chat(dify))))
        assert [e["event"] for e in got] == recorded_events(self.TITLE)
        names = [e["event"] for e in got]
        assert names.index("message_end") < names.index("workflow_finished")
        assert (
            "".join(e["answer"] for e in got if e["event"] == "message") == "echo: hello chatflow / airflow"
        )
        verbatim = recorded_verbatim(self.TITLE)
        for event in got:
            if event["event"] in verbatim:
                assert set(event) == set(verbatim[event["event"]]), event["event"]
        assert all("workflow_run_id" not in e for e in got if e["event"] in ("message", "message_end"))

    def test_blocking_answer_has_no_run_id_but_the_run_polls(self, dify: Api) -> None:
        body = chat(dify, "blocking").json()
        assert set(body) == set(recorded("POST /chat-messages — blocking, new conversation").body)
        assert "workflow_run_id" not in body and body["answer"] == "echo: hello chatflow / airflow"
        started = data_events(list(sse_frames(chat(dify))))[0]
        detail = dify.get(f"/workflows/run/{started['workflow_run_id']}", headers=CHATFLOW).json()
        assert set(detail) == set(recorded("GET /workflows/run/70e39f90").body)
        assert detail["outputs"] == {"answer": "echo: hello chatflow / airflow", "files": []}

    def test_messages_keep_each_turns_inputs_and_hide_other_users(self, dify: Api) -> None:
        first = data_events(list(sse_frames(chat(dify))))[0]
        conversation = first["conversation_id"]
        chat(
            dify,
            "blocking",
            query="second turn",
            inputs={"topic": "changed on turn 2"},
            conversation_id=conversation,
        )
        listed = dify.get(
            "/messages", headers=CHATFLOW, params={"conversation_id": conversation, "user": "airflow-chat"}
        ).json()
        assert set(listed) == set(recorded("GET /messages ?conversation_id").body)
        assert set(listed["data"][0]) == set(recorded("GET /messages ?conversation_id").body["data"][0])
        by_query = {m["query"]: m for m in listed["data"]}
        assert by_query["second turn"]["answer"] == "echo: second turn / changed on turn 2"
        assert by_query["hello chatflow"]["inputs"] == {"topic": "airflow"}
        assert by_query["second turn"]["parent_message_id"] == "00000000-0000-0000-0000-000000000000"
        foreign = dify.get(
            "/messages", headers=CHATFLOW, params={"conversation_id": conversation, "user": "x"}
        )
        assert foreign.json() == recorded("GET /messages (conversation of another user)").body

    @pytest.mark.parametrize("mode", ["blocking", "streaming"])
    def test_a_missing_query_is_a_pydantic_dump(self, dify: Api, mode: str) -> None:
        body = {"inputs": {"topic": "airflow"}, "response_mode": mode, "user": "airflow-chat"}
        answer = dify.post("/chat-messages", headers=CHATFLOW, json=body)
        assert answer.json() == recorded(f"POST /chat-messages (missing query, {mode})").body

    def test_a_missing_input_is_refused_when_blocking_and_silent_when_streaming(self, dify: Api) -> None:
        refused = chat(dify, "blocking", query="q", inputs={})
        assert (
            refused.json() == recorded("POST /chat-messages (missing required input `topic`, blocking)").body
        )
        assert list(sse_frames(chat(dify, query="q", inputs={}))) == [["event: ping"]]

    def test_unknown_and_foreign_conversations_and_wrong_modes(self, dify: Api) -> None:
        unknown = chat(dify, "blocking", conversation_id="00000000-0000-0000-0000-000000000000")
        assert unknown.json() == recorded("POST /chat-messages (unknown conversation_id)").body
        mine = chat(dify, "blocking").json()["conversation_id"]
        foreign = chat(dify, "blocking", conversation_id=mine, user="someone-else")
        assert foreign.json() == recorded("POST /chat-messages (conversation_id of another user)").body
        workflow = dify.post("/workflows/run", headers=CHATFLOW, json={"inputs": {"topic": "t"}, "user": "u"})
        assert workflow.json() == recorded("POST /workflows/run (chatflow key on the workflow endpoint)").body
        assert (
            chat(dify, "blocking", headers={"Authorization": "Bearer app-echo"}).json()
            == recorded("POST /chat-messages (workflow app key on the chat endpoint)").body
        )

    def test_stop_answers_success_for_any_task(self, dify: Api) -> None:
        stop = dify.post(
            "/chat-messages/00000000-0000-0000-0000-000000000000/stop",
            headers=CHATFLOW,
            json={"user": "airflow-chat"},
        )
        assert stop.json() == recorded("(unknown task id)").body

    def test_info_names_the_mode(self, dify: Api) -> None:
        modes = {
            key: dify.get("/info", headers={"Authorization": f"Bearer {key}"}).json()["mode"]
            for key in ("app-echo", "app-chatflow", "app-chat", "app-agent", "app-completion")
        }
        assert modes == {
            "app-echo": "workflow",
            "app-chatflow": "advanced-chat",
            "app-chat": "chat",
            "app-agent": "agent-chat",
            "app-completion": "completion",
        }


class TestChatModes:
    @pytest.mark.parametrize(
        ("key", "path", "chunk"),
        [
            ("app-chat", "/chat-messages", "message"),
            ("app-agent", "/chat-messages", "agent_message"),
            ("app-completion", "/completion-messages", "message"),
        ],
    )
    def test_the_answer_streams_to_message_end(self, dify: Api, key: str, path: str, chunk: str) -> None:
        response = dify.post(
            path,
            headers={"Authorization": f"Bearer {key}"},
            stream=True,
            json={
                "query": "hello there",
                "inputs": {"query": "hello there"},
                "response_mode": "streaming",
                "user": "u",
            },
        )
        got = data_events(list(sse_frames(response)))
        assert got[-1]["event"] == "message_end" and "usage" in got[-1]["metadata"]
        assert "".join(e["answer"] for e in got if e["event"] == chunk) == "echo: hello there"
        assert all("workflow_run_id" not in e for e in got)

    def test_a_stop_ends_the_answer_early(self, dify: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.settings(answer_seconds=5)
        response = dify.post(
            "/chat-messages",
            headers={"Authorization": "Bearer app-chat"},
            stream=True,
            json={
                "query": "a long answer of many words",
                "inputs": {},
                "response_mode": "streaming",
                "user": "u",
            },
        )
        frames = sse_frames(response)
        assert next(frames) == ["event: ping"]
        first = data_events([next(frames)])[0]
        stop = dify.post(
            f"/chat-messages/{first['task_id']}/stop",
            headers={"Authorization": "Bearer app-chat"},
            json={"user": "u"},
        )
        assert stop.json() == {"result": "success"}
        rest = data_events(list(frames))
        assert rest[-1]["event"] == "message_end"
        assert (
            "".join(e["answer"] for e in [first, *rest] if e["event"] == "message")
            != "echo: a long answer of many words"
        )

    def test_agents_refuse_blocking_and_completion_needs_its_endpoint(self, dify: Api) -> None:
        body = {"query": "q", "inputs": {"query": "q"}, "response_mode": "blocking", "user": "u"}
        assert (
            dify.post("/chat-messages", headers={"Authorization": "Bearer app-agent"}, json=body).status_code
            == 400
        )
        wrong = dify.post("/chat-messages", headers={"Authorization": "Bearer app-completion"}, json=body)
        assert (wrong.status_code, wrong.json()["code"]) == (400, "not_chat_app")
        answer = dify.post(
            "/completion-messages", headers={"Authorization": "Bearer app-completion"}, json=body
        )
        assert answer.json()["answer"] == "echo: q"


class TestHumanInput:
    def test_the_stream_pauses_with_the_form_token_then_closes(self, dify: Api) -> None:
        required, _ = paused_as_recorded(pause(dify))
        assert required["form_content"].startswith("Please review the request: **deploy release 2.0**")

    def test_the_poll_says_paused_without_a_form_token(self, dify: Api) -> None:
        polls_paused(dify, pause(dify)[0]["workflow_run_id"], APPROVAL)

    def test_blocking_returns_at_once_paused_with_reasons(self, dify: Api) -> None:
        body = dify.post(
            "/workflows/run",
            headers=APPROVAL,
            json={"inputs": {"query": "blocking please"}, "response_mode": "blocking", "user": "u"},
        ).json()
        expected = recorded("POST /workflows/run (blocking, app pauses").body
        assert set(body) == set(expected) and set(body["data"]) == set(expected["data"])
        assert (body["data"]["status"], body["data"]["finished_at"]) == ("paused", None)
        assert set(body["data"]["reasons"][0]) == set(expected["data"]["reasons"][0])

    def test_the_form_refuses_bad_answers_then_resumes_the_run(self, dify: Api) -> None:
        started = pause(dify)
        run_id, token = started[0]["workflow_run_id"], started[-1]["data"]["reasons"][0]["form_token"]
        form = dify.get(f"/form/human_input/{token}", headers=APPROVAL).json()
        assert set(form) == set(recorded("(the form_token of human_input_required)").body)
        assert "form_token" not in json.dumps(form)
        other_key = dify.get(f"/form/human_input/{token}", headers=CHATFLOW).json()
        assert other_key["message"].startswith("Form not found. You have requested this URI")
        post = f"/form/human_input/{token}"
        for body, title in (
            ({"action": "maybe", "inputs": {"comment": "x"}, "user": "u"}, "(unknown action)"),
            ({"action": "approve", "inputs": {}, "user": "u"}, "(missing the `comment` input)"),
            ({"action": "approve", "inputs": {"comment": "x"}}, "(no user)"),
        ):
            assert dify.post(post, headers=APPROVAL, json=body).json() == recorded(title).body
        approved = dify.post(
            post,
            headers=APPROVAL,
            json={"action": "approve", "inputs": {"comment": "looks good"}, "user": "another-reviewer"},
        )
        assert (approved.status_code, approved.json()) == (200, {})
        detail = wait_for_status(dify, run_id, "succeeded")
        assert detail["outputs"] == {
            "result": "deploy release 2.0",
            "decision": "approve",
            "decision_title": "Approve",
            "comment": "looks good",
        }
        again = dify.post(
            post, headers=APPROVAL, json={"action": "reject", "inputs": {"comment": "again"}, "user": "u"}
        )
        assert again.status_code == 412 and again.json()["code"] == "human_input_form_submitted"
        assert dify.get(post, headers=APPROVAL).status_code == 412

    def test_a_stop_on_a_paused_run_is_lost_and_its_resume_runs_forever(self, dify: Api) -> None:
        started = pause(dify, "to be stopped")
        run_id, task_id = started[0]["workflow_run_id"], started[0]["task_id"]
        token = started[-1]["data"]["reasons"][0]["form_token"]
        stop = dify.post(f"/workflows/tasks/{task_id}/stop", headers=APPROVAL, json={"user": "airflow-hitl"})
        assert stop.json() == {"result": "success"}
        assert dify.get(f"/workflows/run/{run_id}", headers=APPROVAL).json()["status"] == "paused"
        assert dify.get(f"/form/human_input/{token}", headers=APPROVAL).status_code == 200
        dify.post(
            f"/form/human_input/{token}",
            headers=APPROVAL,
            json={"action": "approve", "inputs": {"comment": "after stop"}, "user": "airflow-hitl"},
        )
        time.sleep(0.5)  # twice the resume time: a real resume would have succeeded by now
        detail = dify.get(f"/workflows/run/{run_id}", headers=APPROVAL).json()
        assert (detail["status"], detail["finished_at"]) == ("running", None)


class TestEvents:
    PAUSED = "GET /workflow/{run_id}/events?user=U&include_state_snapshot=true (while paused)"

    def test_a_paused_snapshot_replays_state_with_null_inputs_then_closes(self, dify: Api) -> None:
        run_id = pause(dify)[0]["workflow_run_id"]
        response = events(dify, run_id, include_state_snapshot="true")
        assert response.headers["Cache-Control"] == "no-cache"
        frames = list(sse_frames(response))
        assert frames[0] == ["event: ping"]
        got = data_events(frames)
        assert [e["event"] for e in got] == recorded_events(self.PAUSED)
        for event in got:
            assert (
                set(event["data"]) == set(recorded_verbatim(self.PAUSED)[event["event"]]["data"])
                or event["event"] == "node_finished"
            )
        finished = [e["data"] for e in got if e["event"] == "node_finished"]
        assert all(
            d["inputs"] is None and d["outputs"] is None and d["process_data"] is None for d in finished
        )
        assert [d["status"] for d in finished] == ["succeeded", "paused"]
        assert [d["index"] for d in finished] == [1, 2]
        assert "{{#start.query#}}" in got[-2]["data"]["form_content"]
        assert got[-1]["data"]["elapsed_time"] == 0.0

    def test_without_the_snapshot_a_paused_run_sends_only_pings(self, dify: Api, dify_emulator) -> None:
        dify_emulator.control.settings(events_idle_timeout=0.35)
        run_id = pause(dify)[0]["workflow_run_id"]
        frames = list(sse_frames(events(dify, run_id)))
        assert frames and all(frame == ["event: ping"] for frame in frames)

    def test_continue_on_pause_follows_the_resume_to_the_end(self, dify: Api) -> None:
        started = pause(dify, "drop the prod database")
        run_id, token = started[0]["workflow_run_id"], started[-1]["data"]["reasons"][0]["form_token"]
        response = events(dify, run_id, include_state_snapshot="true", continue_on_pause="true")
        frames = sse_frames(response)
        replayed = [next(frames) for _ in range(8)]  # ping + the seven replayed events
        dify.post(
            f"/form/human_input/{token}",
            headers=APPROVAL,
            json={"action": "reject", "inputs": {"comment": "no way"}, "user": "airflow-hitl"},
        )
        live = data_events(list(frames))
        names = [e["event"] for e in live]
        assert names[0] == "workflow_started" and live[0]["data"]["reason"] == "resumption"
        assert {"human_input_form_filled", "node_finished"} <= set(names) and names[-1] == "workflow_finished"
        assert live[0]["task_id"] != started[0]["task_id"]
        filled = next(e["data"] for e in live if e["event"] == "human_input_form_filled")
        assert (filled["action_id"], filled["action_text"]) == ("reject", "Reject")
        assert filled["rendered_content"].endswith("Reviewer comment: no way")
        assert data_events(replayed)[-1]["event"] == "workflow_paused"

    def test_a_finished_run_is_one_spaced_line_without_ping(self, dify: Api) -> None:
        started = data_events(list(sse_frames(chat(dify))))[0]
        raw = dify.get(
            f"/workflow/{started['workflow_run_id']}/events",
            params={"user": "airflow-chat"},
            headers=CHATFLOW,
        ).text
        assert raw.startswith(
            'data: {"event": "workflow_finished", "task_id": "' + started["workflow_run_id"]
        )
        assert raw.count("data:") == 1 and "ping" not in raw

    def test_a_running_snapshot_replays_with_the_run_id_then_goes_live(self, dify: Api) -> None:
        slow = {"Authorization": "Bearer app-slow"}
        response = dify.post(
            "/workflows/run",
            headers=slow,
            stream=True,
            json={
                "inputs": {"query": "events", "delay": 0.6},
                "response_mode": "streaming",
                "user": "airflow-events",
            },
        )
        frames = sse_frames(response)
        next(frames)
        started = data_events([next(frames)])[0]
        response.close()
        got = data_events(
            list(
                sse_frames(
                    events(
                        dify,
                        started["workflow_run_id"],
                        "airflow-events",
                        slow,
                        include_state_snapshot="true",
                    )
                )
            )
        )
        replayed = [e for e in got if e["task_id"] == started["workflow_run_id"]]
        live = [e for e in got if e["task_id"] == started["task_id"]]
        assert [e["event"] for e in replayed] == ["workflow_started", "node_started", "node_finished"]
        assert live[-1]["event"] == "workflow_finished" and live[-1]["data"]["status"] == "succeeded"

    def test_user_is_required_and_must_be_the_runs(self, dify: Api) -> None:
        run_id = pause(dify)[0]["workflow_run_id"]
        assert events(dify, run_id, user="").json() == recorded("/events (no user)").body
        assert events(dify, run_id, user="someone-else").json() == recorded("/events (wrong user)").body
        unknown = events(dify, "00000000-0000-0000-0000-000000000000").json()
        assert unknown == recorded("/events (unknown run id)").body
        assert events(dify, run_id, headers=CHATFLOW).status_code == 404
