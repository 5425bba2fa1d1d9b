"""Dify emulator: the workflow part of the Service API (``/v1``) as a real Dify 1.14.1 serves it.

It follows ``shared/recordings/dify-1.14.1-service-api.md`` where that differs from the docs: SSE frames
are ``event: ping`` (no data) then ``data: {json}`` (no ``event:`` line), pings every ``ping_interval``
seconds, the server closes ``stream_close_delay`` seconds after ``workflow_finished``; invalid inputs
in streaming mode answer 200, one ping, then silence for ``stream_hang_seconds``; a stop answers
success for any task id, ends the live stream ``stopped``, but the run still polls ``running``
forever unless the ``persist_stop`` setting is on; blocking calls answer the proxy's HTML 504 after
``blocking_timeout`` seconds while the run goes on.

Dify has one API key per app. Default apps (key -> app):

- ``app-echo`` (``airflow-echo``): ``query`` (text-input, required, max 256) and ``attachment``
  (file, optional) -> outputs ``result`` = query, ``attachment``; lasts 0.2 s.
- ``app-slow`` (``airflow-slow``): ``query`` and ``delay`` (number, default 8) -> ``result``,
  ``body``, ``status_code``; lasts ``delay`` seconds, and ``delay`` -1 fails with
  "Server disconnected without sending a response.".

The console's run list of an app, ``/app/<app uuid>/logs`` (where the provider's "Remote run" link
points), is served as a small HTML page.

Outcomes: ``succeeded``, ``failed``, ``partial-succeeded``, ``paused``. App options: ``workflow_id``
(derived from the key), ``work_node`` (``{"node_id", "node_type", "title"}`` of a middle node).

Chat apps and chatflows are ``testing/dify_chat.py``, Human Input pauses (of workflows and chatflows)
``testing/dify_human_input.py``, and the knowledge-base (dataset) API, with its own key and settings,
``testing/dify_knowledge.py``.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import mimetypes
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from airflow_workflow_providers.testing import _signing, dify_chat, dify_knowledge
from airflow_workflow_providers.testing._faults import html_page, request_key
from airflow_workflow_providers.testing._runs import FAILED, AppDef, InputDef, OutputDef, Phase, Run
from airflow_workflow_providers.testing._server import Emulator, EventStream, Route, event_stream, read_json
from airflow_workflow_providers.testing.dify_chat import (
    ChatRoutes,
    ChatStore,
    answer_messages,
    app_mode,
    chat_event,
    chat_fields,
    wrong_mode,
)
from airflow_workflow_providers.testing.dify_human_input import (
    PAUSED,
    HumanForm,
    awaiting_form,
    filled_event,
    form_of,
    node_outputs,
    plan_human_input,
    resumed_by,
)

ECHO_KEY = "app-echo"
SLOW_KEY = "app-slow"
_NS = uuid.UUID("5b1e0c2a-6f43-4f1e-9a57-0d1f2c3b4a59")
_TENANT_ID = str(uuid.uuid5(_NS, "tenant"))
_SSE = "text/event-stream; charset=utf-8"
_PING = b"event: ping\n\n"
_STOPPED_ERROR = "Stopped by user."
_MB = 1024 * 1024
_UPLOAD_LIMITS_MB = {"image": 10, "video": 100, "audio": 50}
_FILE_LIMIT_MB = 15
_PREVIEW_SECONDS = 300
_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "file_too_large",
    415: "unsupported_file_type",
    429: "too_many_requests",
    500: "internal_server_error",
}
_LOG_STATUSES = frozenset({"succeeded", "failed", "stopped", "partial-succeeded", "running", PAUSED})
_APP = request_key("dify_app", AppDef)
"""The app whose key authenticated the request."""
_QUERY = InputDef("query", "text-input", max_length=256)
_FILE_CONTROL = {
    "allowed_file_types": ["document", "image"],
    "allowed_file_extensions": [],
    "allowed_file_upload_methods": ["local_file", "remote_url"],
}
_PARAMETERS = {
    "opening_statement": "",
    "suggested_questions": [],
    "suggested_questions_after_answer": {"enabled": False},
    "speech_to_text": {"enabled": False},
    "text_to_speech": {"enabled": False, "voice": "", "language": ""},
    "retriever_resource": {"enabled": False},
    "annotation_reply": {"enabled": False},
    "more_like_this": {"enabled": False},
    "sensitive_word_avoidance": {"enabled": False},
    "file_upload": {"enabled": True, "number_limits": 3, **_FILE_CONTROL},
    "system_parameters": {
        "image_file_size_limit": 10,
        "video_file_size_limit": 100,
        "audio_file_size_limit": 50,
        "file_size_limit": _FILE_LIMIT_MB,
        "workflow_file_upload_limit": 10,
    },
}


class InvalidInput(ValueError):
    """An input that Dify's form validation rejects; the message is Dify's own."""


@dataclass(frozen=True)
class _Upload:
    id: str
    name: str
    mime_type: str
    content: bytes
    created_by: str
    created_at: int


class DifyEmulator(Emulator):
    platform_key = "dify"
    base_path = "/v1"
    outcomes = frozenset({"succeeded", FAILED, "partial-succeeded", PAUSED})
    default_app_ids: ClassVar[Mapping[str, str]] = {"echo": ECHO_KEY, "slow": SLOW_KEY, **dify_chat.APP_KEYS}
    default_settings: ClassVar[Mapping[str, Any]] = {
        **dify_chat.SETTINGS,
        "ping_interval": 10.0,
        "stream_close_delay": 1.0,
        "stream_hang_seconds": 300.0,
        "blocking_timeout": 100.0,
        "persist_stop": False,
        **dify_knowledge.SETTINGS,
    }

    api_key = ECHO_KEY

    def app_keys(self) -> dict[str, str]:
        return dict(self.default_app_ids)

    def default_apps(self) -> list[AppDef]:
        return [
            AppDef(
                ECHO_KEY,
                "airflow-echo",
                "Airflow provider test app",
                inputs=(_QUERY, InputDef("attachment", "file", required=False)),
                outputs=(OutputDef("result", "{query}"), OutputDef("attachment", "{attachment}")),
            ),
            AppDef(
                SLOW_KEY,
                "airflow-slow",
                "Airflow provider test app (slow HTTP node)",
                inputs=(_QUERY, InputDef("delay", "number", required=False, default=8)),
                outputs=(
                    OutputDef("result", "{query}"),
                    OutputDef("body", '{{"slept": {delay}, "path": "/sleep?s={delay}"}}'),
                    OutputDef("status_code", 200),
                ),
                duration_input="delay",
                error="Server disconnected without sending a response.",
                options={"work_node": {"node_id": "http", "node_type": "http-request", "title": "Slow HTTP"}},
            ),
            *dify_chat.default_apps(),
        ]

    def normalize_app(self, app: AppDef) -> AppDef:
        options = {
            "workflow_id": str(uuid.uuid5(_NS, "workflow:" + app.id)),
            "app_uuid": str(uuid.uuid5(_NS, "app:" + app.id)),
            "version": "2026-11-22 15:23:54.151976",
            **app.options,
        }
        return AppDef.from_json({"options": options}, app)

    def on_reset(self) -> None:
        self.uploads: dict[str, _Upload] = {}
        self.knowledge.reset()
        self.chats = ChatStore()

    @functools.cached_property
    def knowledge(self) -> dify_knowledge.Knowledge:
        """The dataset API (``testing/dify_knowledge.py``), served beside the apps' API."""
        return dify_knowledge.Knowledge(self)

    def app_of(self, request: web.Request) -> AppDef:
        """The app whose key authenticated the request."""
        return request[_APP]

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/parameters", self._parameters),
            Route("GET", "/info", self._info),
            Route("POST", "/workflows/run", self._run_workflow, "starts"),
            Route("POST", "/workflows/{workflow_id}/run", self._run_workflow, "starts"),
            Route("GET", "/workflows/run/{workflow_run_id}", self._run_detail, "polls"),
            Route("POST", "/workflows/tasks/{task_id}/stop", self._stop, "stops"),
            Route("GET", "/workflows/logs", self._logs),
            Route("GET", "/workflow/{workflow_run_id}/events", self._events),
            Route("POST", "/files/upload", self._upload),
            *self.knowledge.api_routes(),
            *self._chat_routes(),
        ]

    def _chat_routes(self) -> list[Route]:
        chat = ChatRoutes(self)
        return [
            Route("POST", "/chat-messages", chat.chat_messages, "starts"),
            Route("POST", "/chat-messages/{task_id}/stop", chat.stop_message, "stops"),
            Route("POST", "/completion-messages", chat.completion_messages, "starts"),
            Route("POST", "/completion-messages/{task_id}/stop", chat.stop_message, "stops"),
            Route("GET", "/messages", chat.messages),
            Route("GET", "/form/human_input/{form_token}", chat.form),
            Route("POST", "/form/human_input/{form_token}", chat.form),
        ]

    def root_routes(self) -> list[Route]:
        return [
            Route("GET", "/files/{file_id}/file-preview", self._file_preview),
            Route("GET", "/app/{app_uuid}/logs", self._console_logs),
            *self.knowledge.root_routes(),
        ]

    def authenticate(self, request: web.Request) -> bool:
        if self.knowledge.owns(request):
            return self.knowledge.authenticate(request)
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        app = self.apps.get(key) if scheme == "Bearer" else None
        if app is not None:
            request[_APP] = app
        return app is not None

    def error(self, status: int, message: str, code: str | None = None) -> web.Response:
        body = {"code": code or _DEFAULT_CODES.get(status, "unknown"), "message": message, "status": status}
        return web.json_response(body, status=status)

    def unauthorized(self) -> web.Response:
        response = self.error(401, "Access token is invalid", "unauthorized")
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    def response_headers(self) -> Mapping[str, str]:
        return {"Access-Control-Allow-Origin": "*", "X-Version": "1.14.1", "X-Env": "PRODUCTION"}

    def too_many_runs(self, request: web.Request, limit: int, retry_after: float) -> web.Response:
        # Recorded (1.14.1, the app's max_active_requests): 400 invalid_param, no Retry-After. The real limiter
        # counts requests (blocking runs hold a slot, streams only while being set up); this one counts runs.
        return self.error(
            400,
            "Too many requests. Please try again later. The current maximum concurrent "
            f"requests allowed for {request[_APP].options['app_uuid']} is {limit}.",
            "invalid_param",
        )

    def run_state(self, run: Run) -> str:
        return self._view(run, persisted=False)["status"]

    # -- app description ------------------------------------------------------------------------
    async def _parameters(self, request: web.Request) -> web.Response:
        form = [{spec.type: _form_control(spec)} for spec in request[_APP].inputs]
        return web.json_response({**_PARAMETERS, "user_input_form": form})

    async def _info(self, request: web.Request) -> web.Response:
        app: AppDef = request[_APP]
        return web.json_response(
            {
                "name": app.name,
                "description": app.description,
                "tags": [],
                "mode": app_mode(app),
                "author_name": "admin",
            }
        )

    # -- runs -----------------------------------------------------------------------------------
    async def _run_workflow(self, request: web.Request) -> web.StreamResponse:
        app: AppDef = request[_APP]
        wrong = wrong_mode(self, app, frozenset({"workflow"}), "not_workflow_app")
        if wrong:
            return wrong
        refusal = _check_workflow_id(request.match_info.get("workflow_id"), app)
        if refusal:
            return self.error(*refusal)
        body = await _json_object(request)
        if body is None:
            return self.error(400, "Invalid JSON body.", "bad_request")
        user = body.get("user")
        if not isinstance(user, str) or not user:
            return self.error(400, "Arg user must be provided.", "invalid_param")
        mode = body.get("response_mode") or "blocking"
        if mode not in ("blocking", "streaming"):
            return self.error(
                400, f"response_mode must be 'blocking' or 'streaming', not {mode!r}", "invalid_param"
            )
        try:
            inputs = _validated(app, body.get("inputs") or {})
        except InvalidInput as exc:
            if mode == "streaming":
                return await self._hang(request)
            return self.error(400, str(exc), "invalid_param")
        run = self.start_run(app, inputs, user=user)
        run.extra["task_id"] = str(uuid.uuid4())
        run.outputs = {name: self._file_output(request, value) for name, value in run.outputs.items()}
        plan_human_input(run, self.settings["form_timeout_seconds"])
        if mode == "streaming":
            return await self._stream(request, run, opening=True)
        return await self._block(run)

    async def _block(self, run: Run) -> web.Response:
        deadline = time.time() + self.settings["blocking_timeout"]
        await run.sleep_until(min(run.ends_at, deadline))
        if run.is_active():
            return html_page(504)  # the proxy gives up; the run goes on
        return web.json_response(
            {
                "task_id": run.extra["task_id"],
                "workflow_run_id": run.id,
                "data": self._finished_data(run, streaming=False),
            }
        )

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """Streaming with invalid inputs: the worker dies, the client only ever sees one ping."""
        async with event_stream(request, _SSE) as stream:
            await stream.send(_PING)
            await asyncio.sleep(self.settings["stream_hang_seconds"])
        return stream.response

    async def _stream(self, request: web.Request, run: Run, opening: bool) -> web.StreamResponse:
        async with event_stream(request, _SSE) as stream:
            if opening:
                await stream.send(_PING)
            if opening or run.is_active():
                await self._follow(stream, run, opening)
            else:
                await stream.send(self._final_event(run))
            await asyncio.sleep(self.settings["stream_close_delay"])
        return stream.response

    async def _follow(self, stream: EventStream, run: Run, opening: bool) -> None:
        """Send the run's events as they happen, with keep-alive pings in between."""
        next_ping = time.time() + self.settings["ping_interval"]
        if opening:
            stopped, next_ping = await self._wait(stream, run, run.started_at, next_ping)
            for chunk in [] if stopped else self._opening_events(run):
                await stream.send(chunk)
        await self._wait(stream, run, run.ends_at, next_ping)
        for chunk in self._closing_events(run):
            await stream.send(chunk)

    async def _wait(
        self, stream: EventStream, run: Run, until: float, next_ping: float
    ) -> tuple[bool, float]:
        """Wait until ``until`` (or a stop), pinging on schedule; returns (stopped, next ping time)."""
        while True:
            if await run.sleep_until(min(until, next_ping)):
                return True, next_ping
            if time.time() >= until:
                return False, next_ping
            await stream.send(_PING)
            next_ping += self.settings["ping_interval"]

    async def _run_detail(self, request: web.Request) -> web.Response:
        run_id = request.match_info["workflow_run_id"]
        if not _is_uuid(run_id):
            return web.json_response(
                {"message": "Internal Server Error", "code": "unknown", "status": 500}, status=500
            )
        run = self._own_run(request, run_id)
        if run is None:
            return self.error(404, "Workflow run not found.")
        view = self._view(run, persisted=True)
        return web.json_response(
            {
                "id": run.id,
                "workflow_id": run.app.options["workflow_id"],
                "status": view["status"],
                "inputs": json.dumps(self._sys_inputs(run, with_timestamp=True)),
                "outputs": view["outputs"],
                "error": view["error"],
                "total_steps": view["total_steps"],
                "total_tokens": 0,
                "created_at": int(run.created_at),
                "finished_at": view["finished_at"],
                "elapsed_time": view["elapsed_time"],
            }
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """``GET /workflow/{run_id}/events``: a finished run's end as one line; else a ping, the persisted
        state (``include_state_snapshot``), then what the run publishes from now on. A snapshot of a
        paused run ends after ``workflow_paused`` unless ``continue_on_pause``."""
        user = request.query.get("user")
        if not user:
            return self.error(400, "Arg user must be provided.", "invalid_param")
        run = self._own_run(request, request.match_info["workflow_run_id"])
        if run is None or run.user != user:
            return self.error(404, "Workflow run not found")
        snapshot, follow_pause = (
            request.query.get(flag, "").lower() == "true"
            for flag in ("include_state_snapshot", "continue_on_pause")
        )
        async with event_stream(
            request, _SSE, {"Cache-Control": "no-cache", "Connection": "keep-alive"}
        ) as stream:
            if not run.is_active() and not awaiting_form(run):
                await stream.send(self._final_event(run, spaced=True))
                return stream.response
            await stream.send(_PING)
            for chunk in self._snapshot(run) if snapshot else ():
                await stream.send(chunk)
            if not (snapshot and awaiting_form(run) and not follow_pause):
                await self._publish(stream, run, follow_pause)
            await asyncio.sleep(self.settings["stream_close_delay"])
        return stream.response

    async def _publish(self, stream: EventStream, run: Run, follow_pause: bool) -> None:
        """Relay the run's events as they happen: to its end, its pause, or the idle timeout."""
        next_ping = time.time() + self.settings["ping_interval"]
        idle_until = time.time() + self.settings["events_idle_timeout"]
        while True:
            if run.is_active():
                stopped, next_ping = await self._wait(stream, run, run.ends_at, next_ping)
                for chunk in [] if stopped and run.is_active() else self._closing_events(run):
                    await stream.send(chunk)
                if not awaiting_form(run) or not follow_pause:
                    return
            elif awaiting_form(run):
                await asyncio.sleep(min(0.05, max(0.0, next_ping - time.time())))
                if time.time() >= idle_until:
                    return
                if time.time() >= next_ping:
                    await stream.send(_PING)
                    next_ping += self.settings["ping_interval"]
            else:
                return

    async def _stop(self, request: web.Request) -> web.Response:
        body = await _json_object(request) or {}
        if not isinstance(body.get("user"), str) or not body["user"]:
            return self.error(400, "Arg user must be provided.", "invalid_param")
        task_id = request.match_info["task_id"]
        for run in self.runs.values():
            if run.extra.get("task_id") == task_id and run.app.id == request[_APP].id:
                run.stop()
        return web.json_response({"result": "success"})

    async def _logs(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            page, limit = _bounded(query, "page", 1, 99999), _bounded(query, "limit", 20, 100)
        except InvalidInput as exc:
            return self.error(400, str(exc), "invalid_param")
        status = query.get("status")
        if status is not None and status not in _LOG_STATUSES:
            return self.error(400, f"status must be one of {sorted(_LOG_STATUSES)}", "invalid_param")
        user = query.get("created_by_end_user_session_id")
        runs = [
            run
            for run in reversed(self.runs.values())
            if run.app.id == request[_APP].id
            and (user is None or run.user == user)
            and (status is None or self._view(run, persisted=True)["status"] == status)
        ]
        items = [self._log_item(run) for run in runs[(page - 1) * limit : page * limit]]
        return web.json_response(
            {
                "page": page,
                "limit": limit,
                "total": len(runs),
                "has_more": page * limit < len(runs),
                "data": items,
            }
        )

    # -- files ----------------------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                fields[part.name or ""] = (
                    (part, await part.read()) if part.filename is not None else await part.text()
                )
        if "file" not in fields or not isinstance(fields["file"], tuple):
            return self.error(400, "Please upload your file.", "no_file_uploaded")
        part, content = fields["file"]
        mime_type = part.headers.get("Content-Type")
        if not part.filename:
            return self.error(400, "The specified filename does not exist.", "filename_not_exists_error")
        if not mime_type:
            return self.error(415, "File type not allowed.", "unsupported_file_type")
        if len(content) > _UPLOAD_LIMITS_MB.get(mime_type.split("/")[0], _FILE_LIMIT_MB) * _MB:
            return self.error(413, "", "file_too_large")
        user = fields.get("user") or "DEFAULT-USER"
        upload = _Upload(
            str(uuid.uuid4()),
            part.filename,
            mime_type,
            bytes(content),
            _end_user_id(request[_APP], user),
            int(time.time()),
        )
        self.uploads[upload.id] = upload
        return web.json_response(
            {
                "id": upload.id,
                "name": upload.name,
                "size": len(upload.content),
                "extension": _extension(upload.name),
                "mime_type": upload.mime_type,
                "created_by": upload.created_by,
                "created_at": upload.created_at,
                "preview_url": None,
                "source_url": _preview_url(request, upload.id),
                "original_url": None,
                "user_id": None,
                "tenant_id": _TENANT_ID,
                "conversation_id": None,
                "file_key": None,
            },
            status=201,
        )

    async def _console_logs(self, request: web.Request) -> web.Response:
        """The console's run list of one app (what the provider's "Remote run" link opens): a small page."""
        app = next(
            (a for a in self.apps.values() if a.options["app_uuid"] == request.match_info["app_uuid"]), None
        )
        if app is None:
            return web.Response(status=404, text="No such app", content_type="text/plain")
        rows = "".join(
            f"<tr><td>{html.escape(run.id)}</td><td>{html.escape(view['status'])}</td>"
            f"<td>{view['elapsed_time']:.1f} s</td><td>{html.escape(run.user or '')}</td></tr>"
            for run in reversed(self.runs.values())
            if run.app.id == app.id
            for view in [self._view(run, persisted=True)]
        )
        page = (
            f"<!doctype html><title>{html.escape(app.name)} - Logs (Dify emulator)</title>"
            f"<h1>{html.escape(app.name)}: run logs</h1><table><tr><th>run</th><th>status</th>"
            f"<th>elapsed</th><th>end user</th></tr>{rows}</table>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _file_preview(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        query = request.query
        timestamp = query.get("timestamp", "")
        if (
            upload is None
            or not timestamp.isdigit()
            or time.time() - int(timestamp) > _PREVIEW_SECONDS
            or not _signing.verify(query.get("sign", ""), upload.id, timestamp, query.get("nonce", ""))
        ):
            return self.error(403, "Invalid request.", "forbidden")
        return web.Response(body=upload.content, content_type=upload.mime_type)

    def _file_output(self, request: web.Request, value: Any) -> Any:
        """A file input echoed as an output becomes Dify's file object with a signed URL."""
        if not isinstance(value, dict) or "transfer_method" not in value:
            return value
        upload = self.uploads.get(value.get("upload_file_id", ""))
        name = upload.name if upload else str(value.get("url", "")).rsplit("/", 1)[-1]
        return {
            "dify_model_identity": "__dify__file__",
            "id": None,
            "type": value.get("type", "document"),
            "transfer_method": value["transfer_method"],
            "remote_url": value.get("url", ""),
            "related_id": upload.id if upload else None,
            "filename": name,
            "extension": "." + _extension(name),
            "mime_type": upload.mime_type if upload else mimetypes.guess_type(name)[0],
            "size": len(upload.content) if upload else -1,
            "url": _preview_url(request, upload.id) if upload else value.get("url"),
        }

    # -- views and events -----------------------------------------------------------------------
    def _own_run(self, request: web.Request, run_id: str) -> Run | None:
        run = self.runs.get(run_id)
        return run if run is not None and run.app.id == request[_APP].id else None

    def _view(self, run: Run, persisted: bool) -> dict[str, Any]:
        """The run's status fields now; ``persisted`` is what polling shows (the stop bug applies)."""
        phase = run.phase()
        steps = len(_nodes(run.app))
        if phase is Phase.STOPPED and (not persisted or self.settings["persist_stop"]):
            return _fields("stopped", {}, _STOPPED_ERROR, run.elapsed(), steps - 1, int(run.finished_at))
        if phase is Phase.FINISHED and run.outcome == PAUSED:
            elapsed = 0.0 if persisted else run.elapsed()
            return _fields(
                PAUSED, {}, None, elapsed, _paused_at(run) + 1 if form_of(run) else steps - 1, None
            )
        if phase is Phase.FINISHED and (resumed := resumed_by(run)) is not None:
            # a resumed run's elapsed time counts its execution only
            elapsed = run.ends_at - resumed.submitted["at"]  # type: ignore[index]
            return _fields(run.outcome, run.outputs, None, elapsed, steps + 1, int(run.finished_at))
        if phase is Phase.FINISHED:
            outputs = {} if run.outcome == FAILED else run.outputs
            return _fields(run.outcome, outputs, run.error, run.elapsed(), steps, int(run.finished_at))
        return _fields("running", {}, None, 0.0, 0, None)

    def _finished_data(self, run: Run, streaming: bool) -> dict[str, Any]:
        view = self._view(run, persisted=False)
        data = {
            "id": run.id,
            "workflow_id": run.app.options["workflow_id"],
            **view,
            "total_tokens": 0,
            "created_at": int(run.created_at),
        }
        if streaming:
            data |= {
                "created_by": {"id": _end_user_id(run.app, run.user), "user": run.user},
                "exceptions_count": int(view["status"] in (FAILED, "partial-succeeded")),
                "files": [],
            }
        elif (form := form_of(run)) is not None and view["status"] == PAUSED:
            data |= {"paused_nodes": [form.node["node_id"]], "reasons": [form.paused_reason()]}
        return data

    def _log_item(self, run: Run) -> dict[str, Any]:
        view = self._view(run, persisted=True)
        return {
            "id": str(uuid.uuid5(_NS, "log:" + run.id)),
            "workflow_run": {
                "id": run.id,
                "version": run.app.options["version"],
                "status": view["status"],
                "triggered_from": "app-run",
                "error": view["error"],
                "elapsed_time": view["elapsed_time"],
                "total_tokens": 0,
                "total_steps": view["total_steps"],
                "created_at": int(run.created_at),
                "finished_at": view["finished_at"],
                "exceptions_count": int(view["status"] in (FAILED, "partial-succeeded")),
            },
            "details": None,
            "created_from": "service-api",
            "created_by_role": "end_user",
            "created_by_account": None,
            "created_by_end_user": {
                "id": _end_user_id(run.app, run.user),
                "type": "service-api",
                "is_anonymous": False,
                "session_id": run.user,
            },
            "created_at": int(run.created_at),
        }

    def _sys_inputs(self, run: Run, with_timestamp: bool) -> dict[str, Any]:
        system = {"sys.files": [], "sys.user_id": run.user, "sys.app_id": run.app.options["app_uuid"]}
        if with_timestamp:
            system["sys.timestamp"] = int(run.created_at)
        return {
            **run.inputs,
            **system,
            "sys.workflow_id": run.app.options["workflow_id"],
            "sys.workflow_run_id": run.id,
        }

    def _started_data(self, run: Run, with_timestamp: bool = False) -> dict[str, Any]:
        inputs = self._sys_inputs(run, with_timestamp=with_timestamp)
        if chat := run.extra.get("chat"):
            inputs = {
                **run.inputs,
                "sys.query": chat["query"],
                **{k: v for k, v in inputs.items() if k.startswith("sys.")},
                "sys.dialogue_count": 1,
            }
        return {
            "id": run.id,
            "workflow_id": run.app.options["workflow_id"],
            "inputs": inputs,
            "created_at": int(run.created_at),
            "reason": "initial",
        }

    def _opening_events(self, run: Run) -> Iterator[bytes]:
        nodes = _nodes(run.app)
        yield _event(run, "workflow_started", self._started_data(run))
        yield _event(run, "node_started", _node_data(run, nodes[0], 1))
        if run.extra.get("chat") and not form_of(run):
            yield from answer_messages(run)  # the Answer template's values are known once Start ran
        for name, value in {} if run.extra.get("chat") or form_of(run) else run.inputs.items():
            if isinstance(value, str):
                yield _event(run, "text_chunk", {"text": value, "from_variable_selector": ["start", name]})
        yield _event(run, "node_finished", _node_result(run, nodes[0], 1, "succeeded", None, run.inputs))
        for node in nodes[1:-1][:1]:
            yield _event(run, "node_started", _node_data(run, node, 2))

    def _closing_events(self, run: Run) -> Iterator[bytes]:
        nodes, form = _nodes(run.app), form_of(run)
        if run.phase() is not Phase.FINISHED:
            pass  # stopped: the final event says so
        elif run.outcome == FAILED:
            failing = nodes[1]  # the work node, or the end node when there is none
            if failing is nodes[-1]:
                yield _event(run, "node_started", _node_data(run, failing, 2))
            yield _event(run, "node_finished", _node_result(run, failing, 2, FAILED, run.error, {}))
        elif resumed_by(run) is not None:
            yield from self._resumption_events(run)
            return
        elif run.outcome == PAUSED:
            yield from [_event(run, "human_input_required", form.reason())] if form else []
        else:
            for name, value in {} if run.extra.get("chat") else run.outputs.items():
                if isinstance(value, str):
                    yield _event(run, "text_chunk", {"text": value, "from_variable_selector": ["end", name]})
            yield from self._end_events(run, nodes[1:], 2)
        yield self._final_event(run)

    def _end_events(
        self, run: Run, nodes: list[dict[str, str]], index: int, task_id: str | None = None
    ) -> Iterator[bytes]:
        """The last nodes of a run that succeeded, the first at ``index`` (only the End or Answer node is
        started here), then a chatflow's ``message_end``."""
        for number, node in enumerate(nodes, start=index):
            if node is nodes[-1]:
                yield _event(run, "node_started", _node_data(run, node, number), task_id=task_id)
            result = _node_result(run, node, number, "succeeded", None, run.outputs)
            yield _event(run, "node_finished", result, task_id=task_id)
        if run.extra.get("chat"):
            yield chat_event(run, "message_end", {"metadata": dify_chat.metadata(), "files": []}, task_id)

    def _resumption_events(self, run: Run) -> Iterator[bytes]:
        """What a run resumed by a form publishes: a second ``workflow_started`` (reason ``resumption``,
        the resume time as ``created_at``) and a new task id, the answered node, then the run's end or
        its pause at the next Human Input node."""
        form = resumed_by(run)
        assert form is not None and form.submitted is not None
        task_id, resumed = form.submitted["task_id"], int(form.submitted["at"])
        node, now = _node_of(run, form), form_of(run)
        yield _event(
            run,
            "workflow_started",
            {**self._started_data(run), "created_at": resumed, "reason": "resumption"},
            task_id=task_id,
        )
        yield _event(run, "node_started", _node_data(run, node, 1), task_id=task_id)
        yield _event(run, "human_input_form_filled", filled_event(form), task_id=task_id)
        if run.extra.get("chat") and run.outcome != PAUSED:
            yield from answer_messages(run, task_id)  # the answer's last value is known now
        result = _node_result(run, node, 1, "succeeded", None, node_outputs(form))
        yield _event(run, "node_finished", result, task_id=task_id)
        if run.outcome == PAUSED and now is not None:
            yield _event(run, "node_started", _node_data(run, _node_of(run, now), 2), task_id=task_id)
            yield _event(run, "human_input_required", now.reason(), task_id=task_id)
            yield self._final_event(run, task_id=task_id)
            return
        yield from self._end_events(run, [_nodes(run.app)[-1]], 1, task_id)
        yield _event(
            run,
            "workflow_finished",
            {**self._finished_data(run, streaming=True), "created_at": resumed},
            task_id=task_id,
        )

    def _snapshot(self, run: Run) -> Iterator[bytes]:
        """The persisted state the events endpoint replays: ``inputs``/``outputs``/``process_data`` null,
        a running ``index``, the human input node finished ``paused`` and its form content unrendered."""
        replay = {"task_id": run.id}
        nodes, form = _nodes(run.app), form_of(run)
        yield _event(run, "workflow_started", self._started_data(run, with_timestamp=True), **replay)
        done = nodes[:1] if run.is_active() or form is None else nodes[: _paused_at(run) + 1]
        for index, node in enumerate(done, start=1):
            status = "paused" if index > 1 and node is done[-1] else "succeeded"
            started = _node_data(run, node, index)
            del started["inputs_truncated"], started["agent_strategy"]
            yield _event(run, "node_started", started, **replay)
            result = _node_result(run, node, index, status, None, {})
            del result["inputs_truncated"], result["process_data_truncated"], result["outputs_truncated"]
            yield _event(
                run,
                "node_finished",
                {**result, "inputs": None, "process_data": None, "outputs": None},
                **replay,
            )
        if awaiting_form(run) and form is not None:
            yield _event(run, "human_input_required", form.reason(rendered=False), **replay)
            yield self._final_event(run, persisted=True, **replay)

    def _final_event(
        self, run: Run, persisted: bool = False, task_id: str | None = None, spaced: bool = False
    ) -> bytes:
        data = self._finished_data(run, streaming=True)
        if data["status"] != PAUSED:
            return _event(run, "workflow_finished", data, task_id=task_id, spaced=spaced)
        form = form_of(run)
        reasons = [form.paused_reason(rendered=not persisted)] if form else [{"type": "human_input_required"}]
        return _event(
            run,
            "workflow_paused",
            {
                "workflow_run_id": run.id,
                "paused_nodes": [form.node["node_id"] if form else _nodes(run.app)[1]["node_id"]],
                "outputs": {},
                "reasons": reasons,
                "status": PAUSED,
                "created_at": data["created_at"],
                "elapsed_time": 0.0 if persisted else data["elapsed_time"],
                "total_tokens": 0,
                "total_steps": data["total_steps"],
            },
            task_id=task_id,
        )


def _fields(
    status: str,
    outputs: dict[str, Any],
    error: str | None,
    elapsed: float,
    steps: int,
    finished_at: int | None,
) -> dict[str, Any]:
    return {
        "status": status,
        "outputs": outputs,
        "error": error,
        "elapsed_time": round(elapsed, 6),
        "total_steps": steps,
        "finished_at": finished_at,
    }


def _nodes(app: AppDef) -> list[dict[str, str]]:
    """The nodes a run goes through: Start, a workflow's work node, the Human Input nodes, then End (a
    chatflow's work node is its Answer node, which comes last)."""
    work = [app.options["work_node"]] if app.options.get("work_node") else []
    human = [
        {k: node[k] for k in ("node_id", "node_type", "title")}
        for node in app.options.get("human_input") or []
    ]
    start = {"node_id": "start", "node_type": "start", "title": "Start"}
    if app_mode(app) == "advanced-chat":
        return [start, *human, *work]
    return [start, *work, *human, {"node_id": "end", "node_type": "end", "title": "End"}]


def _node_of(run: Run, form: HumanForm) -> dict[str, str]:
    return next(node for node in _nodes(run.app) if node["node_id"] == form.node["node_id"])


def _paused_at(run: Run) -> int:
    """The position among the run's nodes of the Human Input node of its latest pause."""
    form = form_of(run)
    assert form is not None
    return _nodes(run.app).index(_node_of(run, form))


def _node_data(run: Run, node: Mapping[str, str], index: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(_NS, f"{run.id}:{node['node_id']}")),
        **node,
        "index": index,
        "predecessor_node_id": None,
        "inputs": None,
        "inputs_truncated": False,
        "created_at": int(run.started_at),
        "extras": {},
        "iteration_id": None,
        "loop_id": None,
        "agent_strategy": None,
    }


def _node_result(
    run: Run, node: Mapping[str, str], index: int, status: str, error: str | None, values: Mapping[str, Any]
) -> dict[str, Any]:
    data = _node_data(run, node, index)
    del data["extras"], data["agent_strategy"]
    return {
        **data,
        "inputs": dict(values),
        "process_data": {},
        "process_data_truncated": False,
        "outputs": dict(values),
        "outputs_truncated": False,
        "status": status,
        "error": error,
        "elapsed_time": round(run.elapsed(), 6),
        "execution_metadata": None,
        "finished_at": int(run.finished_at),
        "files": [],
    }


def _event(
    run: Run, name: str, data: Mapping[str, Any], task_id: str | None = None, spaced: bool = False
) -> bytes:
    """One data frame; ``spaced``: the JSON with spaces that the events endpoint sends for a finished run."""
    payload = {
        "event": name,
        **chat_fields(run),
        "workflow_run_id": run.id,
        "task_id": task_id or run.extra["task_id"],
        "data": data,
    }
    if spaced:
        payload = {"event": name, "task_id": run.id, "workflow_run_id": run.id, "data": data}
    return (
        b"data: " + json.dumps(payload, separators=(", ", ": ") if spaced else (",", ":")).encode() + b"\n\n"
    )


def _form_control(spec: InputDef) -> dict[str, Any]:
    control: dict[str, Any] = {
        "variable": spec.name,
        "label": spec.label or spec.name,
        "type": spec.type,
        "required": spec.required,
        "options": list(spec.options),
    }
    if spec.max_length is not None:
        control["max_length"] = spec.max_length
    if spec.default is not None:
        control["default"] = spec.default
    if spec.type in ("file", "file-list"):
        control.update(_FILE_CONTROL)
    return control


def _validated(app: AppDef, given: Any) -> dict[str, Any]:
    """The app's inputs checked as Dify checks them (defaults fill omitted optional inputs)."""
    if not isinstance(given, dict):
        raise InvalidInput("inputs must be a dict")
    values: dict[str, Any] = {}
    for spec in app.inputs:
        value = given.get(spec.name)
        if value is None or value == "":
            if spec.required:
                raise InvalidInput(f"{spec.name} is required in input form")
            values[spec.name] = spec.default
        else:
            values[spec.name] = _checked(spec, value)
    return values


def _checked(spec: InputDef, value: Any) -> Any:
    name = spec.name
    if spec.type == "number":
        return _number(name, value)
    if spec.type == "file":
        if not isinstance(value, dict):
            raise InvalidInput(f"{name} in input form must be a file")
        return value
    if spec.type == "file-list":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise InvalidInput(f"{name} in input form must be a list of files")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{name} in input form must be a string")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise InvalidInput(f"{name} in input form must be less than {spec.max_length} characters")
    if spec.type == "select" and value not in spec.options:
        raise InvalidInput(f"{name} in input form must be one of the following: {list(spec.options)}")
    return value


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return int(value) if str(value).lstrip("-").isdigit() else float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} in input form must be a valid number") from None


def _check_workflow_id(workflow_id: str | None, app: AppDef) -> tuple[int, str, str] | None:
    if workflow_id is None:
        return None
    if not _is_uuid(workflow_id):
        return 400, f"Invalid workflow_id format: '{workflow_id}'. ", "bad_request"
    if workflow_id != app.options["workflow_id"]:
        return 404, f"Workflow not found with id: {workflow_id}", "not_found"
    return None


def _bounded(query: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"{name} must be an integer between 1 and {maximum}")
    return int(raw)


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    body = await read_json(request)
    return body if isinstance(body, dict) else None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _end_user_id(app: AppDef, user: str | None) -> str:
    return str(uuid.uuid5(_NS, f"end-user:{app.id}:{user}"))


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1] if "." in name else ""


def _preview_url(request: web.Request, file_id: str) -> str:
    timestamp, nonce = int(time.time()), uuid.uuid4().hex
    signature = _signing.sign(file_id, timestamp, nonce)
    return f"{request.url.origin()}/files/{file_id}/file-preview?timestamp={timestamp}&nonce={nonce}&sign={signature}"
