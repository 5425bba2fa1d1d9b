"""Dify's chat description against the recording, and the chat operators' own decisions on the emulator."""

from __future__ import annotations

import json
import threading
import time

import pytest

from airflow_workflow_providers.core.errors import ConfigurationError, PermanentAPIError, RunTimedOut
from airflow_workflow_providers.core.model import Response
from airflow_workflow_providers.dify import chat_api
from airflow_workflow_providers.dify.api import DifyAPI, StreamedStart
from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.operators import DifyChatMessageOperator, DifyRunChatflowOperator
from tests.dify.test_operator import context
from tests.recorded import CHAT_RECORDING, find

STREAMED = "POST /chat-messages — streaming, new conversation"


def recorded(title):
    return find(title, recording=CHAT_RECORDING)[0]


class TestDescription:
    def test_a_chatflow_start_yields_the_run_with_its_message_and_conversation(self):
        first = json.loads(
            next(line for line in recorded(STREAMED).sse.decode().splitlines() if "workflow_started" in line)[
                6:
            ]
        )
        ref = StreamedStart("airflow-chat").feed(recorded(STREAMED).sse)
        assert ref.run_id == first["workflow_run_id"] == "70e39f90-f1d4-4e32-a2a9-0c27edf67e98"
        assert (ref.extras["message_id"], ref.extras["conversation_id"]) == (
            first["message_id"],
            first["conversation_id"],
        )
        # such a run is stopped as a chat message
        assert DifyAPI().cancel(ref).request.path == f"/chat-messages/{first['task_id']}/stop"

    def test_a_chatflow_start_is_a_streaming_chat_message(self):
        call = DifyAPI().start(
            inputs={"topic": "t"}, user="u", query="q", conversation_id="c", workflow_id="w"
        )
        assert call.request.path == "/chat-messages" and not call.idempotent
        assert call.request.json == {
            "query": "q",
            "inputs": {"topic": "t"},
            "user": "u",
            "response_mode": "streaming",
            "conversation_id": "c",
            "workflow_id": "w",
        }

    def test_the_answer_is_read_from_the_recorded_messages(self):
        page = chat_api.messages("c", "u").parse(
            Response(200, json.dumps(recorded("GET /messages ?conversation_id").body).encode())
        )
        assert (
            chat_api.answer_of(page, "ea8b0d9d-cbde-4457-8ff5-ae9e2b699293")
            == "echo: second turn / changed on turn 2"
        )
        assert chat_api.answer_of(page, "unknown") is None

    def test_a_recorded_chatflow_stream_reads_to_message_end(self):
        reader = chat_api.MessageReader(timeout=10)
        verbatim = [line for line in recorded(STREAMED).sse.decode().splitlines() if "…" not in line]
        result = reader.feed("\n".join(verbatim).encode() + b"\n")
        assert result["answer"] == "echo: "  # the other message events are summarised in the recording
        assert result["message_id"] == "5da0687c-954e-40bb-91d9-19216d59b357"
        assert reader.task_id == "fa75b2ee-69da-4f29-b7a9-2c0719bdb282"
        assert result["usage"]["currency"] == "USD" and result["retriever_resources"] == []

    def test_replace_error_and_early_end(self):
        reader = chat_api.MessageReader(timeout=10)
        reader.feed(b'data: {"event": "message", "task_id": "t", "id": "m", "answer": "bad"}\n\n')
        reader.feed(b'data: {"event": "message_replace", "answer": "moderated"}\n\n')
        assert reader.feed(b'data: {"event": "message_end", "metadata": {}}\n\n')["answer"] == "moderated"
        with pytest.raises(PermanentAPIError, match="quota"):
            chat_api.MessageReader(10).feed(
                b'data: {"event": "error", "status": 400, "code": "quota", "message": "no"}\n\n'
            )
        with pytest.raises(RunTimedOut):
            chat_api.MessageReader(10).end(timed_out=True)

    @pytest.mark.parametrize(
        ("mode", "operator", "right"),
        [
            ("advanced-chat", "DifyRunWorkflowOperator", "DifyRunChatflowOperator"),
            ("workflow", "DifyChatMessageOperator", "DifyRunWorkflowOperator"),
            ("agent-chat", "DifyRunChatflowOperator", "DifyChatMessageOperator"),
        ],
    )
    def test_a_wrong_mode_names_the_right_operator(self, mode, operator, right):
        assert f"use {right}" in chat_api.mode_problem({"mode": mode, "name": "app"}, operator)
        assert chat_api.mode_problem({"mode": mode}, right) is None


def message_operator(**kwargs) -> DifyChatMessageOperator:
    return DifyChatMessageOperator(
        task_id="ask", conn_id=kwargs.pop("conn_id", "dify_chat"), query="a long answer", **kwargs
    )


class TestChatMessageOperator:
    def test_a_late_answer_is_stopped_and_fails_the_task(self, dify):
        dify.control.settings(answer_seconds=20)  # four words: the first comes after 5 s
        with pytest.raises(RunTimedOut):
            message_operator(timeout=8).execute(context())
        stops = [r for r in dify.control.state()["requests"] if r["path"].endswith("/stop")]
        assert len(stops) == 1 and stops[0]["path"].startswith("/chat-messages/")
        assert stops[0]["json"] == {"user": "airflow:dag:manual__1"}

    def test_killing_the_task_stops_the_message(self, dify):
        dify.control.settings(answer_seconds=3)
        operator = message_operator()
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.setdefault("result", operator.execute(context())))
        worker.start()
        while operator._reader is None or operator._reader.task_id is None:
            time.sleep(0.02)
        operator.on_kill()
        worker.join(10)
        assert dify.control.count("stops") == 1
        assert outcome["result"]["answer"] != "echo: a long answer"  # the stream ended early

    def test_a_completion_message_is_stopped_on_its_own_endpoint(self, dify):
        # six words, one every 5 s: the first (with the task id to stop) comes well before the timeout
        dify.control.settings(answer_seconds=30)
        with pytest.raises(RunTimedOut):
            message_operator(
                conn_id="dify_completion", inputs={"query": "many words answered here slowly"}, timeout=8
            ).execute(context())
        assert [r["path"] for r in dify.control.state()["requests"] if r["path"].endswith("/stop")][
            0
        ].startswith("/completion-messages/")

    def test_bad_inputs_fail_before_sending(self, dify):
        with pytest.raises(Exception, match="unknown input 'nope'"):
            message_operator(inputs={"nope": 1}).execute(context())
        assert dify.control.count("starts") == 0


def test_a_chatflow_operator_stops_its_run_as_a_chat_message(dify):
    ref = DifyHook("dify_chatflow").start_run(inputs={"topic": "t"}, user="u", query="q")
    assert set(ref.extras) == {"task_id", "user", "app_id", "message_id", "conversation_id"}
    operator = DifyRunChatflowOperator(
        task_id="ask", conn_id="dify_chatflow", query="q", inputs={"topic": "t"}
    )
    operator._run_ref = ref
    operator.on_kill()
    assert [r["path"] for r in dify.control.state()["requests"] if r["path"].endswith("/stop")] == [
        f"/chat-messages/{ref.extras['task_id']}/stop"
    ]


def test_the_mode_check_is_a_configuration_error(dify):
    with pytest.raises(ConfigurationError, match="use DifyChatMessageOperator"):
        DifyHook("dify_agent").check_app_mode("DifyRunChatflowOperator")
