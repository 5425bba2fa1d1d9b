"""The Dify emulator's chat side and Human Input pauses, as a real Dify 1.14.1 serves them.

Follows ``shared/recordings/dify-1.14.1-chatflow-knowledge-human-input.md``:

* **chatflow** (``advanced-chat``) messages run as workflow runs: the streaming answer carries
  ``workflow_run_id`` on its workflow events, the answer streams as ``message`` events (one per template
  segment), ``message_end`` comes *before* ``workflow_finished``; a blocking answer has no run id; the
  answer of a message is read back from ``GET /messages``.
* **chat, agent-chat and completion** messages run inside the API process: their stream is the only
  way to follow them (``message`` / ``agent_message`` chunks up to ``message_end``); a stop through
  ``/chat-messages/{task_id}/stop`` (``/completion-messages/...``) ends the stream early. Agent apps
  refuse blocking mode.
* a wrong endpoint for the app's mode answers 400 ``not_workflow_app`` / ``not_chat_app`` /
  ``not_completion_app``; ``GET /info`` names the mode.
* **Human Input** pauses (workflow and chatflow runs): ``testing/dify_human_input.py``. A chatflow
  paused before its Answer node streams the answer (``message`` events) after the resumption's
  ``human_input_form_filled``, then ``message_end`` before ``workflow_finished``, as an unpaused one does.
  In blocking mode (not recorded for a pause) it answers at the pause, with an empty answer.

Default apps (key -> app): ``app-chatflow`` (``airflow-chatflow``: ``topic`` required; answer
``echo: {query} / {topic}``), ``app-approval`` (``airflow-approval``: ``query`` -> Human Input node
``approval`` [approve | reject, ``comment``] -> outputs ``result``, ``decision``, ``decision_title``,
``comment``), ``app-chatflow-approval`` (``airflow-chatflow-approval``: ``topic`` -> the same Human Input
node -> answer ``echo: {query} / {topic} / {action title}``), ``app-chat`` (chat), ``app-agent``
(agent-chat) and ``app-completion`` (completion), each answering ``echo: {query}`` in ``answer_seconds``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_workflow_providers.testing._runs import AppDef, InputDef, OutputDef, Run
from airflow_workflow_providers.testing._server import event_stream, read_json
from airflow_workflow_providers.testing.dify_human_input import (
    APPROVAL_NODE,
    HumanForm,
    find_form,
    forms_of,
    plan_human_input,
    submit,
)

if TYPE_CHECKING:
    from airflow_workflow_providers.testing.dify import DifyEmulator

CHATFLOW_KEY = "app-chatflow"
APPROVAL_KEY = "app-approval"
CHATFLOW_APPROVAL_KEY = "app-chatflow-approval"
CHAT_KEY = "app-chat"
AGENT_KEY = "app-agent"
COMPLETION_KEY = "app-completion"
APP_KEYS = {
    "chatflow": CHATFLOW_KEY,
    "approval": APPROVAL_KEY,
    "chatflow_approval": CHATFLOW_APPROVAL_KEY,
    "chat": CHAT_KEY,
    "agent": AGENT_KEY,
    "completion": COMPLETION_KEY,
}
CHAT_MODES = frozenset({"advanced-chat", "chat", "agent-chat"})
_NIL = "00000000-0000-0000-0000-000000000000"
_WRONG_MODE = "Please check if your app mode matches the right API route."
_SSE = "text/event-stream; charset=utf-8"
_PING = b"event: ping\n\n"
_NS = uuid.UUID("0f1b5a1e-3c55-4c8e-9d0e-2f9f1d4a7b21")

SETTINGS: Mapping[str, Any] = {
    "answer_seconds": 0.2,  # how long a chat/agent/completion message takes to answer
    "resume_seconds": 0.3,  # a run resumed by its form runs this long before it succeeds
    "form_timeout_seconds": 3600.0,  # a Human Input form expires this long after its pause
    "events_idle_timeout": 300.0,  # the events endpoint closes a stream that carried nothing new
}

_USAGE = {
    "prompt_tokens": 0,
    "prompt_unit_price": "0.0",
    "prompt_price_unit": "0.0",
    "prompt_price": "0.0",
    "completion_tokens": 0,
    "completion_unit_price": "0.0",
    "completion_price_unit": "0.0",
    "completion_price": "0.0",
    "total_tokens": 0,
    "total_price": "0.0",
    "currency": "USD",
    "latency": 0.0,
    "time_to_first_token": 0.023,
    "time_to_generate": 0.0,
}


def default_apps() -> list[AppDef]:
    query = InputDef("query", "text-input", max_length=256)
    echo = dict(outputs=(OutputDef("answer", "echo: {query}"),))
    chatflow = {
        "inputs": (InputDef("topic", "text-input", max_length=256),),
        "run_seconds": 0.1,
        "options": {
            "mode": "advanced-chat",
            "work_node": {"node_id": "answer", "node_type": "answer", "title": "Answer"},
        },
    }
    approve_topic = {
        **APPROVAL_NODE,
        "form_content": "Please review the topic: **{{#start.topic#}}**\n\nReviewer comment: {{#$output.comment#}}",
    }
    return [
        AppDef(CHATFLOW_KEY, "airflow-chatflow", "Airflow provider test chatflow", **chatflow),
        AppDef(
            APPROVAL_KEY,
            "airflow-approval",
            "Airflow provider test app (Human Input)",
            inputs=(query,),
            outputs=(OutputDef("result", "{query}"),),
            run_seconds=0.1,
            options={"human_input": [APPROVAL_NODE]},
        ),
        AppDef.from_json(
            {
                "id": CHATFLOW_APPROVAL_KEY,
                "name": "airflow-chatflow-approval",
                "description": "Airflow provider test chatflow (Human Input)",
                "options": {"human_input": [approve_topic]},
            },
            AppDef(CHATFLOW_APPROVAL_KEY, "", **chatflow),
        ),
        AppDef(
            CHAT_KEY,
            "airflow-chat",
            "Airflow provider test chat app",
            inputs=(InputDef("topic", "text-input", required=False),),
            options={"mode": "chat"},
            **echo,
        ),
        AppDef(
            AGENT_KEY, "airflow-agent", "Airflow provider test agent", options={"mode": "agent-chat"}, **echo
        ),
        AppDef(
            COMPLETION_KEY,
            "airflow-completion",
            "Airflow provider test text generator",
            inputs=(query,),
            options={"mode": "completion"},
            **echo,
        ),
    ]


def app_mode(app: AppDef) -> str:
    return str(app.options.get("mode", "workflow"))


def wrong_mode(
    emulator: DifyEmulator, app: AppDef, allowed: frozenset[str], code: str
) -> web.Response | None:
    return None if app_mode(app) in allowed else emulator.error(400, _WRONG_MODE, code)


def not_found(emulator: DifyEmulator, message: str, path: str, suggestions: str) -> web.Response:
    """Dify's 404 with Flask's "did you mean" suffix."""
    return emulator.error(
        404, f"{message} You have requested this URI [{path}] but did you mean {suggestions} ?"
    )


# -- conversations ------------------------------------------------------------------------------------
@dataclass
class Message:
    id: str
    conversation_id: str
    query: str
    inputs: dict[str, Any]
    created_at: float
    #: the chatflow run that answers it, or the planned answer of a chat-mode message
    run: Run
    task_id: str


@dataclass
class Conversation:
    id: str
    app_id: str
    user: str
    name: str
    inputs: dict[str, Any]
    created_at: float
    messages: list[Message] = field(default_factory=list)


class ChatStore:
    """Conversations and messages of every chat app, and the chat-mode messages still answering."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}

    def conversation(
        self, app: AppDef, user: str, conversation_id: str | None, query: str, inputs: dict[str, Any]
    ) -> Conversation | None:
        """The conversation to add to (a new one without an id); ``None`` when the id is not this user's."""
        if not conversation_id:
            conversation = Conversation(str(uuid.uuid4()), app.id, user, query, dict(inputs), time.time())
            self.conversations[conversation.id] = conversation
            return conversation
        found = self.conversations.get(conversation_id)
        return found if found is not None and found.app_id == app.id and found.user == user else None

    def messages_of_task(self, app: AppDef, task_id: str) -> Iterator[Message]:
        for conversation in self.conversations.values():
            if conversation.app_id == app.id:
                yield from (m for m in conversation.messages if m.task_id == task_id)


def answer_of(message: Message, now: float | None = None) -> str:
    """What the message has answered so far: the whole answer once its run ended."""
    run = message.run
    answer = str(run.outputs.get("answer", ""))
    if run.stopped_at is not None:
        return answer[: int(len(answer) * run.elapsed(now) / max(run.run_seconds, 1e-9))]
    return answer if not run.is_active(now) else ""


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "parent_message_id": _NIL,
        "inputs": message.inputs,
        "query": message.query,
        "answer": answer_of(message),
        "feedback": None,
        "retriever_resources": [],
        "created_at": int(message.created_at),
        "agent_thoughts": [],
        "message_files": [],
        "status": "normal",
        "error": None,
        "extra_contents": [],
    }


def metadata() -> dict[str, Any]:
    return {"annotation_reply": None, "retriever_resources": [], "usage": dict(_USAGE)}


def chat_fields(run: Run) -> dict[str, Any]:
    """What every event of a chatflow run carries besides its own fields."""
    chat = run.extra.get("chat")
    if not chat:
        return {}
    return {
        "conversation_id": chat["conversation_id"],
        "message_id": chat["message_id"],
        "created_at": int(run.created_at),
    }


def chat_event(run: Run, name: str, body: Mapping[str, Any], task_id: str | None = None) -> bytes:
    """A chatflow ``message``/``message_end`` event: ``id`` = message id, no workflow_run_id."""
    payload = {
        "event": name,
        **chat_fields(run),
        "task_id": task_id or run.extra["task_id"],
        "id": run.extra["chat"]["message_id"],
        **body,
    }
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def answer_segments(run: Run) -> list[str]:
    """The Answer node's template segments: ``"echo: "``, query, ``" / "``, topic, then ``" / "`` and the
    action title of each answered Human Input form."""
    segments = ["echo: ", run.extra["chat"]["query"], " / ", str(run.inputs.get("topic") or "")]
    for form in forms_of(run):
        segments += [" / ", str(form.action_title())] if form.submitted else []
    return segments


def chatflow_outputs(run: Run) -> dict[str, Any]:
    return {"answer": "".join(answer_segments(run)), "files": []}


def answer_messages(run: Run, task_id: str | None = None) -> Iterator[bytes]:
    """The answer as ``message`` events, one per template segment."""
    for segment in answer_segments(run):
        yield chat_event(
            run, "message", {"answer": segment, "from_variable_selector": ["answer", "answer"]}, task_id
        )


# -- handlers -------------------------------------------------------------------------------------------
class ChatRoutes:
    """Handlers of the chat endpoints and the Human Input forms, bound to one Dify emulator."""

    def __init__(self, emulator: DifyEmulator) -> None:
        self.emulator = emulator

    @property
    def store(self) -> ChatStore:
        return self.emulator.chats

    async def chat_messages(self, request: web.Request) -> web.StreamResponse:
        return await self._message(request, CHAT_MODES, "not_chat_app")

    async def completion_messages(self, request: web.Request) -> web.StreamResponse:
        return await self._message(request, frozenset({"completion"}), "not_completion_app")

    async def _message(self, request: web.Request, modes: frozenset[str], code: str) -> web.StreamResponse:
        emulator, app = self.emulator, self.emulator.app_of(request)
        refusal = wrong_mode(emulator, app, modes, code)
        if refusal:
            return refusal
        body = await read_json(request)
        if not isinstance(body, dict):
            return emulator.error(400, "Invalid JSON body.", "bad_request")
        query = body.get("query")
        chat = app_mode(app) != "completion"
        if chat and not isinstance(query, str):
            return emulator.error(
                400, _pydantic_missing("ChatRequestPayload", "query", body), "invalid_param"
            )
        user = body.get("user")
        if not isinstance(user, str) or not user:
            return emulator.error(400, "Arg user must be provided.", "invalid_param")
        mode = body.get("response_mode") or "blocking"
        if mode == "blocking" and app_mode(app) == "agent-chat":
            return emulator.error(400, "Agent Chat App does not support blocking mode", "invalid_param")
        from airflow_workflow_providers.testing.dify import InvalidInput, _validated

        try:
            inputs = _validated(app, body.get("inputs") or {})
        except InvalidInput as exc:
            if mode == "streaming" and app_mode(app) == "advanced-chat":
                return await emulator._hang(request)
            return emulator.error(400, str(exc), "invalid_param")
        query = str(query or "")
        conversation = self.store.conversation(app, user, body.get("conversation_id"), query, inputs)
        if conversation is None:
            return not_found(
                emulator,
                "Conversation Not Exists.",
                request.path,
                "/v1/chat-messages or /api/chat-messages or /v1/chat-messages/<string:task_id>/stop",
            )
        message = self._new_message(request, app, conversation, query, inputs, user)
        if app_mode(app) == "advanced-chat":
            if mode == "streaming":
                return await emulator._stream(request, message.run, opening=True)
            await message.run.sleep_until(message.run.ends_at)
            return self._blocking_answer(app, message)
        if mode == "streaming":
            return await self._answer_stream(request, app, message)
        await message.run.sleep_until(message.run.ends_at)
        return self._blocking_answer(app, message)

    def _new_message(
        self,
        request: web.Request,
        app: AppDef,
        conversation: Conversation,
        query: str,
        inputs: dict[str, Any],
        user: str,
    ) -> Message:
        emulator = self.emulator
        message_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
        if app_mode(app) == "advanced-chat":
            run = emulator.start_run(app, inputs, user=user)
            run.extra |= {
                "task_id": task_id,
                "chat": {"conversation_id": conversation.id, "message_id": message_id, "query": query},
            }
            run.outputs = chatflow_outputs(run)
            plan_human_input(run, emulator.settings["form_timeout_seconds"])
        else:
            from airflow_workflow_providers.testing._runs import plan_run

            run = plan_run(
                message_id,
                app,
                inputs,
                queued_seconds=0.0,
                multiplier=emulator.settings["run_seconds_multiplier"],
                user=user,
            )
            run.run_seconds = (
                emulator.settings["answer_seconds"] * emulator.settings["run_seconds_multiplier"]
            )
            run.outputs = {"answer": str(app.render_outputs({**inputs, "query": query}).get("answer", ""))}
        message = Message(message_id, conversation.id, query, inputs, time.time(), run, task_id)
        conversation.messages.append(message)
        return message

    def _blocking_answer(self, app: AppDef, message: Message) -> web.Response:
        return web.json_response(
            {
                "event": "message",
                "task_id": message.task_id,
                "id": message.id,
                "message_id": message.id,
                "conversation_id": message.conversation_id,
                "mode": app_mode(app),
                "answer": answer_of(message),
                "metadata": metadata(),
                "created_at": int(message.created_at),
            }
        )

    async def _answer_stream(self, request: web.Request, app: AppDef, message: Message) -> web.StreamResponse:
        """A chat/agent/completion answer: chunks spread over the answer time, then ``message_end``."""
        run = message.run
        answer = str(run.outputs["answer"])
        words = re.findall(r"\S+\s*", answer) or [""]
        kind = "agent_message" if app_mode(app) == "agent-chat" else "message"
        base = {
            "conversation_id": message.conversation_id,
            "message_id": message.id,
            "created_at": int(message.created_at),
            "task_id": message.task_id,
            "id": message.id,
        }

        def frame(name: str, **fields: Any) -> bytes:
            return (
                b"data: "
                + json.dumps({"event": name, **base, **fields}, separators=(",", ":")).encode()
                + b"\n\n"
            )

        async with event_stream(request, _SSE) as stream:
            await stream.send(_PING)
            if kind == "agent_message":
                await stream.send(
                    frame(
                        "agent_thought",
                        position=1,
                        thought="",
                        observation="",
                        tool="",
                        tool_input="",
                        message_files=[],
                    )
                )
            for index, word in enumerate(words, start=1):
                if await run.sleep_until(run.started_at + run.run_seconds * index / len(words)):
                    break
                await stream.send(frame(kind, answer=word))
            await stream.send(frame("message_end", metadata=metadata(), files=[]))
        return stream.response

    async def stop_message(self, request: web.Request) -> web.Response:
        emulator, app = self.emulator, self.emulator.app_of(request)
        completion = request.path.rstrip("/").split("/")[-3] == "completion-messages"
        refusal = wrong_mode(
            emulator,
            app,
            frozenset({"completion"}) if completion else CHAT_MODES,
            "not_completion_app" if completion else "not_chat_app",
        )
        if refusal:
            return refusal
        body = await read_json(request) or {}
        if not isinstance(body, dict) or not body.get("user"):
            return emulator.error(400, "Arg user must be provided.", "invalid_param")
        for message in self.store.messages_of_task(app, request.match_info["task_id"]):
            message.run.stop()
        return web.json_response({"result": "success"})

    async def messages(self, request: web.Request) -> web.Response:
        emulator, app = self.emulator, self.emulator.app_of(request)
        refusal = wrong_mode(emulator, app, CHAT_MODES, "not_chat_app")
        if refusal:
            return refusal
        query = request.query
        if not query.get("user"):
            return emulator.error(400, "Arg user must be provided.", "invalid_param")
        conversation = self.store.conversation(
            app, query["user"], query.get("conversation_id") or _NIL, "", {}
        )
        if conversation is None:
            return not_found(
                emulator,
                "Conversation Not Exists.",
                request.path,
                "/v1/messages or /v1/chat-messages or /api/messages",
            )
        limit = int(query.get("limit") or 20)
        # whole-second ordering, as Dify's: same-second messages keep their insertion order here
        ordered = sorted(conversation.messages, key=lambda m: int(m.created_at))
        page = ordered[-limit:]
        return web.json_response(
            {"limit": limit, "has_more": len(ordered) > limit, "data": [message_json(m) for m in page]}
        )

    async def form(self, request: web.Request) -> web.Response:
        emulator = self.emulator
        found = find_form(emulator.runs, emulator.app_of(request).id, request.match_info["form_token"])
        if found is None:
            return not_found(
                emulator, "Form not found.", request.path, "/v1/form/human_input/<string:form_token>"
            )
        run, form = found
        if form.submitted is not None:
            return _submitted(emulator, form)
        if request.method == "GET":
            return web.json_response(form.definition())
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("user"), str) or not body["user"]:
            return emulator.error(400, "Arg user must be provided.", "invalid_param")
        problem = form.problems(body)
        if problem:
            return emulator.error(400, problem, "invalid_form_data")
        settings = emulator.settings
        resume = settings["resume_seconds"] * settings["run_seconds_multiplier"]
        submit(run, form, body, resume, settings["form_timeout_seconds"])
        if run.extra.get("chat") and run.outcome == "succeeded":
            run.outputs = chatflow_outputs(run)
        return web.json_response({})


def _submitted(emulator: DifyEmulator, form: HumanForm) -> web.Response:
    return emulator.error(
        412,
        f"This form has already been submitted by another user, form_id={form.form_id}",
        "human_input_form_submitted",
    )


def _pydantic_missing(model: str, name: str, body: Mapping[str, Any]) -> str:
    shown = repr(dict(body))
    shown = shown if len(shown) <= 50 else shown[:25] + "..." + shown[-24:]
    return (
        f"1 validation error for {model}\n{name}\n  Field required [type=missing, input_value={shown}, "
        "input_type=dict]\n    For further information visit https://errors.pydantic.dev/2.12/v/missing"
    )
