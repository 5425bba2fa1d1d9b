"""Dify's Service API for workflow apps, as data (no I/O).

Ground truth is a real Dify 1.14.1 server where it differs from the docs:

* a run is started in **streaming** mode and the stream is read only until the first data event,
  which carries ``task_id`` (needed to stop the run) and ``workflow_run_id``; blocking mode dies at
  Dify's proxy after 60-100 s while the run goes on.
* invalid inputs in streaming mode produce no error, only silence, so inputs are checked against
  ``GET /parameters`` before starting (:func:`input_problems`) and the wait for the first event is bounded.
* a stopped run keeps polling as ``running``: after a stop the provider never waits for ``stopped``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    ResponseFormatError,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import OutputFile, Request, Response, Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI, json_body, require, segment
from airflow_workflow_providers.core.progress import Progress
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.core.sse import SSEDecoder
from airflow_workflow_providers.dify import PLATFORM
from airflow_workflow_providers.dify.chat_api import message_body
from airflow_workflow_providers.dify.events import RunEvents

NAME = PLATFORM.name

STATES: Mapping[str, RunState] = {
    "running": RunState.RUNNING,
    "paused": RunState.PAUSED,
    "succeeded": RunState.SUCCEEDED,
    "partial-succeeded": RunState.SUCCEEDED,
    "failed": RunState.FAILED,
    "stopped": RunState.CANCELLED,
}

USAGE_FIELDS = ("total_tokens", "elapsed_time", "total_steps")
#: marks a file object among a run's outputs
FILE_IDENTITY = "__dify__file__"
#: what a chatflow run's reference carries besides a workflow run's
CHAT_EXTRAS = ("message_id", "conversation_id")
#: the statuses ``GET /workflows/logs`` can filter on
LOG_STATUSES = ("succeeded", "failed", "stopped")


def parse_run(payload: Any) -> Run:
    """A run detail (``GET /workflows/run/{id}``) or a ``workflow_finished`` event's data.

    A status this table does not know keeps the run waiting (bounded by the task's timeout): Dify
    adds states over time (``paused`` came late) and none of them may pass as success.
    """
    run_id = str(require(payload, "id", NAME, "run"))
    status = require(payload, "status", NAME, f"run {run_id}")
    if not isinstance(status, str):
        raise ResponseFormatError(f"{NAME} run {run_id}: status should be a string, got {status!r}")
    outputs = payload.get("outputs")
    if outputs is not None and not isinstance(outputs, Mapping):
        raise ResponseFormatError(
            f"{NAME} run {run_id}: outputs should be an object, got {type(outputs).__name__}"
        )
    error = payload.get("error")
    return Run(
        run_id=run_id,
        state=STATES.get(status, RunState.RUNNING),
        raw_status=status,
        outputs=dict(outputs or {}),
        error_message=str(error) if error else None,
        usage={k: payload.get(k) for k in USAGE_FIELDS},
        warning=(
            f"some nodes failed and were handled by error branches{f': {error}' if error else ''}"
            if status == "partial-succeeded"
            else None
        ),
    )


class StreamedStart:
    """Reads a streaming ``POST /workflows/run`` answer up to its first data event."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.decoder = SSEDecoder()

    def feed(self, chunk: bytes) -> RunRef | None:
        for event in self.decoder.feed(chunk):
            if event.event == "ping" or not event.data:
                continue
            try:
                payload = json.loads(event.data)
            except ValueError as exc:
                raise ResponseFormatError(
                    f"{NAME} start stream sent a data line that is not JSON: {event.data[:200]}"
                ) from exc
            if not isinstance(payload, Mapping):
                raise ResponseFormatError(f"{NAME} start stream sent {payload!r} instead of an event object")
            if payload.get("event") == "error":
                raise PermanentAPIError(
                    f"{NAME} refused the run: {payload.get('code')}: {payload.get('message')}",
                    platform=NAME,
                    status_code=payload.get("status"),
                    code=payload.get("code"),
                )
            task_id, run_id = payload.get("task_id"), payload.get("workflow_run_id")
            if task_id and run_id:
                extras = {"task_id": str(task_id), "user": self.user}
                if app_id := _app_id(payload):
                    extras["app_id"] = app_id
                # a chatflow message's run: its stop and its answer go by message and conversation
                extras.update({k: str(payload[k]) for k in CHAT_EXTRAS if payload.get(k)})
                return RunRef(str(run_id), extras)
        return None

    def end(self, *, timed_out: bool) -> RunRef:
        if timed_out:
            raise StartNotConfirmedError(
                f"{NAME} accepted the start but sent no run id in time. Dify does this when the inputs do not "
                "fit the app's input form (the error goes only to its worker log): check them against the "
                "app's parameters. Not retried, in case the run did start."
            )
        raise ResponseFormatError(f"{NAME} closed the start stream before sending a run id")

    def read_whole(self, response: Response) -> RunRef:
        return self.feed(response.body + b"\n\n") or self.end(timed_out=False)


class DifyAPI(PlatformAPI):
    """:param follow_events: let the trigger follow each run's event stream (progress in the task log,
    resumption as soon as the run ends); ``False``: polls only."""

    info = PLATFORM

    def __init__(self, follow_events: bool = True) -> None:
        self.follow_events = follow_events

    def start(
        self,
        *,
        inputs: Mapping[str, Any],
        user: str,
        files: Sequence[Mapping[str, Any]] | None = None,
        workflow_id: str | None = None,
        query: str | None = None,
        conversation_id: str | None = None,
    ) -> Call[RunRef]:
        """A workflow run, or with ``query`` a chatflow message (``POST /chat-messages``), whose run
        is then waited on like a workflow run's."""
        if query is not None:
            body = message_body(
                query=query,
                inputs=inputs,
                user=user,
                conversation_id=conversation_id,
                files=list(files or []),
                workflow_id=workflow_id,
            )
            path = "/chat-messages"
        else:
            body = {"inputs": dict(inputs), "user": user, "response_mode": "streaming"}
            if files:
                body["files"] = list(files)
            path = f"/workflows/{segment(workflow_id)}/run" if workflow_id else "/workflows/run"
        reader = StreamedStart(user)
        return Call(
            Request("POST", path, json=body, stream=True), reader.read_whole, idempotent=False, reader=reader
        )

    def find_run(self, *, since: float, user: str, **spec: Any) -> Call[list[RunRef]]:
        """The runs of this end user created since ``since``, from the run logs (which do not show
        inputs: :meth:`started_by` checks them). They come without a task id, so they cannot be
        stopped (see :meth:`why_no_cancel`)."""
        request = Request(
            "GET", "/workflows/logs", query={"page": 1, "limit": 20, "created_by_end_user_session_id": user}
        )
        return Call(request, lambda response: runs_since(json_body(response, NAME), since, user))

    def started_by(self, ref: RunRef, *, inputs: Mapping[str, Any], **spec: Any) -> Call[bool]:
        """Whether run ``ref`` ran with ``inputs`` (its detail lists them), so that a shared end-user id
        cannot make one task adopt another's run."""
        return Call(
            Request("GET", f"/workflows/run/{segment(ref.run_id)}"),
            lambda response: same_inputs(json_body(response, NAME), inputs),
            run_id=ref.run_id,
        )

    def status(self, ref: RunRef) -> Call[Run]:
        return Call(
            Request("GET", f"/workflows/run/{segment(ref.run_id)}"),
            lambda response: parse_run(json_body(response, NAME)),
            run_id=ref.run_id,
        )

    def cancel(self, ref: RunRef) -> Call[Any] | None:
        task_id, user = ref.extras.get("task_id"), ref.extras.get("user")
        if not (task_id and user):
            return None
        kind = "chat-messages" if ref.extras.get("message_id") else "workflows/tasks"
        path = f"/{kind}/{segment(task_id)}/stop"
        return Call(
            Request("POST", path, json={"user": user}),
            lambda response: json_body(response, NAME),
            run_id=ref.run_id,
        )

    def progress(self, ref: RunRef) -> Call[list[Progress]] | None:
        """The run's event stream with its persisted state first (needs the end user who started it)."""
        user = ref.extras.get("user")
        if not (self.follow_events and user):
            return None
        query = {"user": user, "include_state_snapshot": "true"}
        request = Request("GET", f"/workflow/{ref.run_id}/events", query=query, stream=True)
        reader = RunEvents()
        return Call(request, lambda response: reader.feed(response.body), run_id=ref.run_id, reader=reader)  # type: ignore[arg-type]

    def why_no_cancel(self, ref: RunRef) -> str:
        return "Dify's stop endpoint needs the task id, which only the start that launched the run knows"

    def probe(self) -> Call[str]:
        return Call(Request("GET", "/info"), _describe_app)

    def file_outputs(self, run: Run, base_url: str) -> list[OutputFile]:
        """Dify's file objects among the outputs (one, or in a list), behind URLs signed for 5 minutes;
        a relative URL (a server without ``FILES_URL``) is resolved against the connection's host."""
        files = []
        for name, value in (run.outputs or {}).items():
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, item in items:
                if isinstance(item, Mapping) and item.get("dify_model_identity") == FILE_IDENTITY:
                    where = (name,) if index is None else (name, index)
                    key = name if index is None else f"{name}-{index}"
                    if not item.get("url"):
                        raise ResponseFormatError(
                            f"{NAME} run {run.run_id}: file output {key!r} has no URL to download"
                        )
                    files.append(
                        OutputFile(
                            where, urljoin(base_url, str(item["url"])), key, str(item.get("extension") or "")
                        )
                    )
        return files

    def run_url(self, base_url: str, ref: RunRef) -> str | None:
        """The app's run logs in the Dify console (Dify has no page per run): on Dify Cloud the console is
        ``cloud.dify.ai``; a self-hosted server serves it beside its ``/v1`` API."""
        app_id = ref.extras.get("app_id")
        if not app_id:
            return None
        parts = urlsplit(base_url)
        host = "cloud.dify.ai" if parts.hostname == "api.dify.ai" else parts.netloc
        return f"{parts.scheme}://{host}/app/{app_id}/logs"

    def parameters(self) -> Call[dict[str, Any]]:
        return Call(Request("GET", "/parameters"), lambda response: json_body(response, NAME))

    def app_info(self) -> Call[dict[str, Any]]:
        return Call(Request("GET", "/info"), lambda response: json_body(response, NAME))

    def upload(self, *, name: str, content: bytes, content_type: str, user: str) -> Call[dict[str, Any]]:
        request = Request(
            "POST", "/files/upload", upload=("file", name, content, content_type), form={"user": user}
        )
        return Call(request, lambda response: json_body(response, NAME), idempotent=False)

    def logs(
        self, *, user: str | None = None, status: str | None = None, page: int = 1, limit: int = 20
    ) -> Call[dict[str, Any]]:
        if status is not None and status not in LOG_STATUSES:
            raise ValueError(f"Dify's run logs filter on status {LOG_STATUSES}, not {status!r}")
        query = {"page": page, "limit": limit, "status": status, "created_by_end_user_session_id": user}
        request = Request("GET", "/workflows/logs", query={k: v for k, v in query.items() if v is not None})
        return Call(request, lambda response: json_body(response, NAME))

    def retry_verdict(self, response: Response) -> bool | float:
        # 429 means two things on Dify: too_many_requests (concurrency, retry later) and
        # rate_limit_error (the plan's quota, which no retry will lift).
        if response.status == 429 and self.error_detail(response)[0] == "rate_limit_error":
            return False
        if is_concurrency_refusal(self.error_detail(response), response.status):
            return True
        return super().retry_verdict(response)

    def not_processed(self, response: Response) -> bool:
        return super().not_processed(response) or is_concurrency_refusal(
            self.error_detail(response), response.status
        )


def is_concurrency_refusal(detail: tuple[str | None, str], status: int) -> bool:
    """Dify's per-app concurrency limit (``max_active_requests``). A real 1.14.1 server answers it as HTTP 400
    ``invalid_param`` "Too many requests. Please try again later. The current maximum concurrent requests
    allowed for <app> is N." (its 429 handler is shadowed), before any run starts: safe to send again later."""
    code, message = detail
    return status == 400 and code == "invalid_param" and message.startswith("Too many requests")


def runs_since(logs: Any, since: float, user: str) -> list[RunRef]:
    """From a ``GET /workflows/logs`` page, the runs created at or after ``since``, newest first."""
    entries = require(logs, "data", NAME, "run logs")
    if not isinstance(entries, list):
        raise ResponseFormatError(f"{NAME} run logs: 'data' should be a list")
    found = []
    for entry in entries:
        run = entry.get("workflow_run") if isinstance(entry, Mapping) else None
        if not isinstance(run, Mapping):
            continue
        created = run.get("created_at")
        if isinstance(created, (int, float)) and created >= since and run.get("id"):
            found.append(RunRef(str(run["id"]), {"user": user}))
    return found


def same_inputs(detail: Any, inputs: Mapping[str, Any]) -> bool:
    """Whether a run detail's ``inputs`` (a JSON string, with Dify's ``sys.*`` keys and the form's
    defaults added) hold every input given, with the same value (``"3"`` and ``3`` are the same)."""
    recorded = detail.get("inputs") if isinstance(detail, Mapping) else None
    if isinstance(recorded, str):
        try:
            recorded = json.loads(recorded)
        except ValueError:
            return False
    if not isinstance(recorded, Mapping):
        return False
    return all(
        name in recorded and _same_value(value, recorded[name])
        for name, value in inputs.items()
        if value is not None
    )


def _same_value(given: Any, recorded: Any) -> bool:
    if given == recorded:
        return True
    if (
        isinstance(given, (int, float, str))
        and isinstance(recorded, (int, float))
        and not isinstance(recorded, bool)
    ):
        return _is_number(given) and float(given) == float(recorded)
    return False


def _app_id(event: Mapping[str, Any]) -> str | None:
    """The app's id from a ``workflow_started`` event (its ``sys.app_id`` input), if given."""
    data = event.get("data")
    inputs = data.get("inputs") if isinstance(data, Mapping) else None
    app_id = inputs.get("sys.app_id") if isinstance(inputs, Mapping) else None
    return str(app_id) if app_id else None


def _describe_app(response: Response) -> str:
    info = json_body(response, NAME)
    return f"app {info.get('name')!r} (mode {info.get('mode')})" if isinstance(info, Mapping) else "app"


def input_problems(user_input_form: Sequence[Any], inputs: Mapping[str, Any]) -> list[str]:
    """Everything wrong with ``inputs`` for an app's ``user_input_form`` (from ``GET /parameters``)."""
    fields = {}
    for entry in user_input_form:
        for kind, spec in entry.items() if isinstance(entry, Mapping) else ():
            if isinstance(spec, Mapping) and spec.get("variable"):
                fields[spec["variable"]] = (kind, spec)
    problems = [
        f"unknown input {name!r} (the app's inputs: {sorted(fields)})"
        for name in inputs
        if name not in fields
    ]
    for name, (kind, spec) in fields.items():
        if name not in inputs or inputs[name] is None:
            if spec.get("required") and spec.get("default") in (None, ""):
                problems.append(f"missing required input {name!r}")
            continue
        problems.extend(_value_problems(name, kind, spec, inputs[name]))
    return problems


def _value_problems(name: str, kind: str, spec: Mapping[str, Any], value: Any) -> list[str]:
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or not _is_number(value):
            return [f"input {name!r} must be a number, got {value!r}"]
    elif kind in ("text-input", "paragraph", "select"):
        if not isinstance(value, str):
            return [f"input {name!r} must be a string, got {type(value).__name__}"]
        limit = spec.get("max_length")
        if isinstance(limit, int) and limit > 0 and len(value) > limit:
            return [f"input {name!r} is {len(value)} characters long; the app allows at most {limit}"]
        options = spec.get("options") or []
        if kind == "select" and options and value not in options:
            return [f"input {name!r} must be one of {options}, got {value!r}"]
    elif kind == "file" and not isinstance(value, Mapping):
        return [f"input {name!r} must be a file object (type, transfer_method, url or upload_file_id)"]
    elif kind == "file-list" and not (isinstance(value, list) and all(isinstance(v, Mapping) for v in value)):
        return [f"input {name!r} must be a list of file objects"]
    return []


def _is_number(value: int | float | str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
