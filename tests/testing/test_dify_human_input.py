"""Human Input pauses of chatflow runs, and runs that pause twice, on the Dify emulator.

Real Dify 1.14.1 was recorded pausing a workflow (section 2 of the second recording) and running a
chatflow (section 1), not a chatflow pausing: these tests hold a paused chatflow to the recorded pause
(events, poll, snapshot, form) with the recorded chatflow fields on every event, and its resumed answer
to the recorded chatflow answer (``message`` events, ``message_end`` before ``workflow_finished``).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_workflow_providers.testing import RunningEmulator
from airflow_workflow_providers.testing.dify_human_input import APPROVAL_NODE
from tests.testing.test_dify import data_events, sse_frames
from tests.testing.test_dify_chat import (
    APPROVAL,
    chat,
    events,
    pause,
    paused_as_recorded,
    polls_paused,
    recorded,
    recorded_events,
    recorded_verbatim,
    wait_for_status,
)

CHATFLOW_APPROVAL = {"Authorization": "Bearer app-chatflow-approval"}
STREAMED_CHAT = "POST /chat-messages — streaming, new conversation"
PAUSED_SNAPSHOT = "GET /workflow/{run_id}/events?user=U&include_state_snapshot=true (while paused)"
CHAT_FIELDS = {"conversation_id", "message_id", "created_at"}
SECOND_LOOK = {**APPROVAL_NODE, "node_id": "second_look", "title": "Second look"}
Api = Any


@pytest.fixture(autouse=True)
def quick_streams(dify_emulator: RunningEmulator) -> None:
    dify_emulator.control.settings(
        ping_interval=0.1, stream_close_delay=0.1, stream_hang_seconds=0.3, resume_seconds=0.2
    )


def ask(dify: Api) -> list[dict]:
    """Send a message to the chatflow with a Human Input node; read its stream until the server closes it."""
    return data_events(list(sse_frames(chat(dify, headers=CHATFLOW_APPROVAL))))


def answer(dify: Api, token: str, action: str, comment: str, headers: dict = CHATFLOW_APPROVAL) -> None:
    body = {"action": action, "inputs": {"comment": comment}, "user": "airflow-chat"}
    assert dify.post(f"/form/human_input/{token}", headers=headers, json=body).json() == {}


class TestChatflow:
    def test_the_stream_pauses_as_a_workflows_with_the_chatflow_fields_and_no_answer(self, dify: Api) -> None:
        got = ask(dify)
        required, paused = paused_as_recorded(got)
        chat_started = recorded_verbatim(STREAMED_CHAT)["workflow_started"]
        for event in got:
            assert set(event) == set(chat_started), event["event"]
            assert {event[k] for k in ("conversation_id", "message_id")} == {
                got[0]["conversation_id"],
                got[0]["message_id"],
            }
        assert required["form_content"].startswith("Please review the topic: **airflow**")
        assert paused["paused_nodes"] == ["approval"]

    def test_the_poll_and_the_snapshot_show_the_pause_as_a_workflows(self, dify: Api) -> None:
        run_id = ask(dify)[0]["workflow_run_id"]
        polls_paused(dify, run_id, CHATFLOW_APPROVAL)
        snapshot = data_events(
            list(
                sse_frames(
                    events(dify, run_id, "airflow-chat", CHATFLOW_APPROVAL, include_state_snapshot="true")
                )
            )
        )
        assert [e["event"] for e in snapshot] == recorded_events(PAUSED_SNAPSHOT)
        assert all(CHAT_FIELDS <= set(e) for e in snapshot)
        assert [e["data"]["status"] for e in snapshot if e["event"] == "node_finished"] == [
            "succeeded",
            "paused",
        ]
        assert "{{#start.topic#}}" in snapshot[-2]["data"]["form_content"]

    def test_the_answer_streams_after_the_resumption_then_message_end_then_the_end(self, dify: Api) -> None:
        started = ask(dify)
        run_id, token = started[0]["workflow_run_id"], started[-1]["data"]["reasons"][0]["form_token"]
        form = dify.get(f"/form/human_input/{token}", headers=CHATFLOW_APPROVAL).json()
        assert set(form) == set(recorded("(the form_token of human_input_required)").body)
        response = events(
            dify,
            run_id,
            "airflow-chat",
            CHATFLOW_APPROVAL,
            include_state_snapshot="true",
            continue_on_pause="true",
        )
        frames = sse_frames(response)
        replayed = [next(frames) for _ in range(8)]  # ping + the seven replayed events
        assert data_events(replayed)[-1]["event"] == "workflow_paused"
        answer(dify, token, "approve", "fine")
        live = data_events(list(frames))
        names = [e["event"] for e in live]
        assert names[:3] == ["workflow_started", "node_started", "human_input_form_filled"]
        assert live[0]["data"]["reason"] == "resumption" and live[0]["task_id"] != started[0]["task_id"]
        assert names[-2:] == ["message_end", "workflow_finished"]  # as recorded for a chatflow
        text = "".join(e["answer"] for e in live if e["event"] == "message")
        assert text == "echo: hello chatflow / airflow / Approve"
        assert names.index("message") < names.index("node_finished")  # streamed once its values are known
        assert all(
            set(e) == set(recorded_verbatim(STREAMED_CHAT)["message"])
            for e in live
            if e["event"] == "message"
        )
        detail = wait_for_status(dify, run_id, "succeeded", CHATFLOW_APPROVAL)
        assert detail["outputs"] == {"answer": text, "files": []}
        listed = dify.get(
            "/messages",
            headers=CHATFLOW_APPROVAL,
            params={"conversation_id": started[0]["conversation_id"], "user": "airflow-chat"},
        ).json()
        assert [m["answer"] for m in listed["data"]] == [text]
        assert dify.get(f"/form/human_input/{token}", headers=CHATFLOW_APPROVAL).status_code == 412


class TestTwoPauses:
    @pytest.fixture(autouse=True)
    def two_nodes(self, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.add_app(
            id="app-approval", options={"human_input": [APPROVAL_NODE, SECOND_LOOK]}
        )

    def test_a_run_pauses_at_each_node_in_turn_then_succeeds(self, dify: Api) -> None:
        started = pause(dify)
        run_id, first = started[0]["workflow_run_id"], started[-1]["data"]["reasons"][0]["form_token"]
        assert started[-1]["data"]["paused_nodes"] == ["approval"]
        response = events(dify, run_id, include_state_snapshot="true", continue_on_pause="true")
        frames = sse_frames(response)
        [next(frames) for _ in range(8)]  # ping + the replayed state of the first pause
        answer(dify, first, "approve", "first", APPROVAL)
        resumed = []
        for frame in frames:  # the resumption, up to the second pause (the stream goes on)
            resumed += data_events([frame])
            if resumed and resumed[-1]["event"] == "workflow_paused":
                break
        response.close()
        assert [e["event"] for e in resumed] == [
            "workflow_started",
            "node_started",
            "human_input_form_filled",
            "node_finished",
            "node_started",
            "human_input_required",
            "workflow_paused",
        ]
        second = resumed[-1]["data"]["reasons"][0]["form_token"]
        assert second != first and resumed[-1]["data"]["paused_nodes"] == ["second_look"]
        assert resumed[-2]["data"]["node_title"] == "Second look"
        assert wait_for_status(dify, run_id, "paused")["outputs"] == {}
        snapshot = data_events(list(sse_frames(events(dify, run_id, include_state_snapshot="true"))))
        assert [e["data"]["node_id"] for e in snapshot if e["event"] == "node_finished"] == [
            "start",
            "approval",
            "second_look",
        ]
        assert [e["data"]["status"] for e in snapshot if e["event"] == "node_finished"] == [
            "succeeded",
            "succeeded",
            "paused",
        ]
        assert snapshot[-1]["data"]["reasons"][0]["form_token"] == second
        assert dify.get(f"/form/human_input/{first}", headers=APPROVAL).status_code == 412
        answer(dify, second, "reject", "second", APPROVAL)
        outputs = wait_for_status(dify, run_id, "succeeded")["outputs"]
        assert (outputs["decision"], outputs["comment"]) == ("reject", "second")  # the last answer's
