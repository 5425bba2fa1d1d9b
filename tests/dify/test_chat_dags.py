"""Dify chatflow and chat-message operators through Airflow's dag.test()."""

from __future__ import annotations

import pytest

MODES = ["deferred", "blocking"]


@pytest.mark.parametrize("mode", MODES)
def test_a_chatflow_answers_and_a_follow_up_continues_the_conversation(dify, run_dag, mode):
    result = run_dag(f"dify_chatflow_{mode}", query="hello chatflow")
    assert result.state == "success", result.tasks
    first, second = result.value("ask"), result.value("follow_up")
    assert first["answer"] == "echo: hello chatflow / airflow"
    assert (first["status"], first["outputs"]["answer"]) == ("succeeded", first["answer"])
    assert {"run_id", "message_id", "conversation_id", "raw_status", "error", "total_tokens"} <= set(first)
    assert second["conversation_id"] == first["conversation_id"]
    assert second["answer"] == "echo: and then? / turn 2"  # the inputs of the later turn are used
    assert result.value("answers") == [first["answer"], second["answer"]]
    # started as chat messages, waited on as workflow runs
    requests = dify.control.state()["requests"]
    starts = [r for r in requests if r["method"] == "POST" and r["path"] == "/chat-messages"]
    assert [s["json"]["response_mode"] for s in starts] == ["streaming", "streaming"]
    assert starts[1]["json"]["conversation_id"] == first["conversation_id"]
    assert any(r["path"] == f"/workflows/run/{first['run_id']}" for r in requests)
    assert sum(r["path"] == "/messages" for r in requests) == 2


@pytest.mark.parametrize("mode", MODES)
def test_the_wrong_operator_for_the_app_mode_fails_before_starting(dify, run_dag, mode, capfd):
    result = run_dag(f"dify_wrong_mode_{mode}")
    assert result.tasks["run"] == "failed"
    assert dify.control.count("starts") == 0
    assert "use DifyRunChatflowOperator" in capfd.readouterr().out


@pytest.mark.parametrize("app", ["chat", "agent", "completion"])
def test_a_chat_message_is_read_to_its_end(dify, run_dag, app):
    result = run_dag(f"dify_message_{app}", query="hello there")
    assert result.state == "success", result.tasks
    answer = result.value("ask")
    assert set(answer) == {"message_id", "conversation_id", "answer", "usage", "retriever_resources"}
    assert answer["answer"] == "echo: hello there"
    assert answer["usage"]["currency"] == "USD" and answer["retriever_resources"] == []


def test_a_chat_message_operator_refuses_a_chatflow(dify, run_dag, capfd):
    result = run_dag("dify_message_wrong_mode")
    assert result.tasks["ask"] == "failed"
    assert dify.control.count("starts") == 0
    assert "use DifyRunChatflowOperator" in capfd.readouterr().out
