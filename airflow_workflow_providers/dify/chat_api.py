"""Dify's chat side as data (no I/O): app modes, chat/completion messages and their answers.

Ground truth is a real Dify 1.14.1 server (``dify-1.14.1-chatflow-knowledge-human-input.md``):

* a **chatflow** (``advanced-chat``) message is a workflow run: its streaming answer carries
  ``workflow_run_id`` (a blocking one does not), ``GET /workflows/run/{id}`` follows it, and the answer
  is read back from ``GET /messages`` once it ended.
* **chat, agent-chat and completion** messages run inside Dify's API process: nothing can follow
  them after their stream closes, so the stream is read to ``message_end``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_workflow_providers.core.errors import PermanentAPIError, ResponseFormatError, RunTimedOut
from airflow_workflow_providers.core.model import Request, Response
from airflow_workflow_providers.core.platform import json_body, require
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.core.sse import SSEDecoder

NAME = "Dify"

#: which operator runs an app of each mode
OPERATOR_FOR_MODE: Mapping[str, str] = {
    "workflow": "DifyRunWorkflowOperator",
    "advanced-chat": "DifyRunChatflowOperator",
    "chat": "DifyChatMessageOperator",
    "agent-chat": "DifyChatMessageOperator",
    "completion": "DifyChatMessageOperator",
}
MESSAGE_MODES = frozenset({"chat", "agent-chat", "completion"})
#: stream events that carry a piece of the answer; ``message_replace`` replaces it all
ANSWER_EVENTS = frozenset({"message", "agent_message"})


def mode_problem(info: Any, operator: str) -> str | None:
    """Why ``operator`` cannot run the app ``GET /info`` describes, naming the operator that can; else None."""
    mode = info.get("mode") if isinstance(info, Mapping) else None
    right = OPERATOR_FOR_MODE.get(str(mode))
    if right == operator:
        return None
    name = info.get("name") if isinstance(info, Mapping) else None
    advice = f"use {right}" if right else f"this provider runs the modes {sorted(OPERATOR_FOR_MODE)}"
    return f"the Dify app {name!r} is a {mode!r} app, which {operator} cannot run: {advice}"


def message_body(
    *,
    query: str,
    inputs: Mapping[str, Any],
    user: str,
    conversation_id: str | None = None,
    files: list[Mapping[str, Any]] | None = None,
    workflow_id: str | None = None,
) -> dict[str, Any]:
    """The JSON of a streaming ``POST /chat-messages`` (or ``/completion-messages``)."""
    body: dict[str, Any] = {
        "query": query,
        "inputs": dict(inputs),
        "user": user,
        "response_mode": "streaming",
    }
    if conversation_id:
        body["conversation_id"] = conversation_id
    if files:
        body["files"] = list(files)
    if workflow_id:
        body["workflow_id"] = workflow_id
    return body


def message_path(mode: str) -> str:
    return "/completion-messages" if mode == "completion" else "/chat-messages"


def stop_message(mode: str, task_id: str, user: str) -> Call[Any]:
    """Stop a message still answering (``/chat-messages/{task_id}/stop`` or the completion one)."""
    return Call(
        Request("POST", f"{message_path(mode)}/{task_id}/stop", json={"user": user}),
        lambda r: json_body(r, NAME),
    )


class MessageReader:
    """Reads a streamed message answer to ``message_end``; knows the task id (to stop it) from the first event."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.decoder = SSEDecoder()
        self.task_id: str | None = None
        self.message_id: str | None = None
        self.conversation_id: str | None = None
        self.answer = ""

    def feed(self, chunk: bytes) -> dict[str, Any] | None:
        for event in self.decoder.feed(chunk):
            if event.event == "ping" or not event.data:
                continue
            payload = _event_object(event.data)
            kind = payload.get("event")
            if kind == "error":
                raise PermanentAPIError(
                    f"{NAME} message {self.message_id or ''} failed: {payload.get('code')}: {payload.get('message')}",
                    platform=NAME,
                    status_code=payload.get("status"),
                    code=payload.get("code"),
                )
            self.task_id = self.task_id or _text(payload.get("task_id"))
            self.message_id = self.message_id or _text(payload.get("message_id") or payload.get("id"))
            self.conversation_id = self.conversation_id or _text(payload.get("conversation_id"))
            if kind in ANSWER_EVENTS:
                self.answer += str(payload.get("answer") or "")
            elif kind == "message_replace":
                self.answer = str(payload.get("answer") or "")
            elif kind == "message_end":
                return self.result(payload.get("metadata"))
        return None

    def result(self, metadata: Any) -> dict[str, Any]:
        metadata = metadata if isinstance(metadata, Mapping) else {}
        return {
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "answer": self.answer,
            "usage": dict(metadata.get("usage") or {}),
            "retriever_resources": list(metadata.get("retriever_resources") or []),
        }

    def end(self, *, timed_out: bool) -> dict[str, Any]:
        if timed_out:
            raise RunTimedOut(
                f"{NAME} message {self.message_id or '(no id yet)'} did not finish within {self.timeout:.0f} s."
            )
        raise ResponseFormatError(f"{NAME} closed the message stream before message_end")

    def read_whole(self, response: Response) -> dict[str, Any]:
        return self.feed(response.body + b"\n\n") or self.end(timed_out=False)


def send_message(mode: str, body: Mapping[str, Any], timeout: float) -> Call[dict[str, Any]]:
    """A streaming message whose answer is read to ``message_end`` (the reader keeps the task id)."""
    reader = MessageReader(timeout)
    request = Request("POST", message_path(mode), json=dict(body), stream=True)
    return Call(request, reader.read_whole, idempotent=False, reader=reader)  # type: ignore[arg-type]


def messages(conversation_id: str, user: str) -> Call[list[Any]]:
    """``GET /messages`` of one conversation (its latest page)."""
    request = Request("GET", "/messages", query={"conversation_id": conversation_id, "user": user})
    return Call(request, lambda response: _message_list(json_body(response, NAME)))


def answer_of(page: list[Any], message_id: str) -> str | None:
    """The answer of ``message_id`` in a ``GET /messages`` page, or None when it is not there."""
    for message in page:
        if isinstance(message, Mapping) and message.get("id") == message_id:
            return str(message.get("answer") or "")
    return None


def _message_list(payload: Any) -> list[Any]:
    data = require(payload, "data", NAME, "messages")
    if not isinstance(data, list):
        raise ResponseFormatError(f"{NAME} messages: 'data' should be a list")
    return data


def _event_object(data: str) -> dict[str, Any]:
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise ResponseFormatError(f"{NAME} stream sent a data line that is not JSON: {data[:200]}") from exc
    if not isinstance(payload, dict):
        raise ResponseFormatError(f"{NAME} stream sent {payload!r} instead of an event object")
    return payload


def _text(value: Any) -> str | None:
    return str(value) if value else None
