"""Flowy's apps API, as data (no I/O).

Flowy wraps every answer in an envelope: ``{"data": ...}`` on success, ``{"error": "<message>"}`` on
failure. A run is started with ``POST /apps/{id}/runs`` (202, ``queued``) and polled with
``GET /runs/{id}`` until ``completed`` or ``failed``. There is no endpoint to stop a run.

Three things shape this module:

* media outputs come back as **signed URLs that expire**, so the operator copies them right after
  completion; :func:`media_outputs` says which outputs those are.
* the key has a budget of requests per minute, announced on every answer (``X-RateLimit-Remaining``,
  ``X-RateLimit-Reset``): :meth:`FlowyAPI.rate_budget` reads it so the shared pacer
  (``core.pacing``) holds requests until the window resets instead of spending them on 429s.
* 402 means the workspace is out of credits or at its spend cap: no retry can fix that, so it is
  permanent and says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import OutputFile, Request, Response, Run, RunRef, RunState
from airflow_workflow_providers.core.pacing import MAX_HOLD, RateBudget
from airflow_workflow_providers.core.platform import PlatformAPI, json_body, require, retry_after, segment
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.flowy import PLATFORM

NAME = PLATFORM.name

STATES: Mapping[str, RunState] = {
    "queued": RunState.QUEUED,
    "running": RunState.RUNNING,
    "completed": RunState.SUCCEEDED,
    "failed": RunState.FAILED,
}

#: input kinds whose value is the http(s) URL of a media file
MEDIA_INPUT_KINDS = frozenset({"image_url", "video_url", "audio_url"})

#: an ``X-RateLimit-Reset`` below this is seconds-until-reset, not an epoch (some gateways send that)
_EPOCH_FLOOR = 1_000_000_000

CREDITS_HINT = (
    "the Flowy workspace is out of credits or has reached its spend cap; add credits or raise the cap "
    "in Flowy's billing settings, then run the task again (not retried automatically)"
)


def data_of(response: Response, what: str) -> Any:
    """The ``data`` of a success envelope, or a :class:`ResponseFormatError` naming what was expected."""
    body = json_body(response, NAME)
    if isinstance(body, Mapping) and "data" not in body and body.get("error"):
        raise ResponseFormatError(f"{NAME} {what}: HTTP {response.status} carried an error: {body['error']}")
    return require(body, "data", NAME, what)


def parse_start(response: Response) -> RunRef:
    """The answer to ``POST /apps/{id}/runs``: ``202 {"data": {"runId", "status": "queued"}}``."""
    data = data_of(response, "start")
    return RunRef(str(require(data, "runId", NAME, "start")))


def parse_run(payload: Any) -> Run:
    """A run (``GET /runs/{id}``'s ``data``).

    A status this table does not know keeps the run waiting (bounded by the task's timeout) and
    never passes as success. ``outputs`` become a dict keyed by node id, each entry keeping
    ``nodeId``, ``kind``, ``url`` and ``text``.
    """
    run_id = str(require(payload, "runId", NAME, "run"))
    status = require(payload, "status", NAME, f"run {run_id}")
    if not isinstance(status, str):
        raise ResponseFormatError(f"{NAME} run {run_id}: status should be a string, got {status!r}")
    error = payload.get("error")
    if isinstance(error, Mapping):
        error = error.get("message") or error
    state = STATES.get(status, RunState.RUNNING)
    return Run(
        run_id=run_id,
        state=state,
        raw_status=status,
        outputs=parse_outputs(run_id, payload.get("outputs")),
        error_message=str(error) if error else None,
        usage={
            "elapsed_time": _seconds_between(payload.get("createdAt"), payload.get("updatedAt"))
            if state.is_terminal
            else None,
            "app_id": payload.get("appId"),
            "app_title": payload.get("appTitle"),
            "created_at": payload.get("createdAt"),
            "updated_at": payload.get("updatedAt"),
        },
    )


def _seconds_between(start: Any, end: Any) -> float | None:
    """Seconds between two ISO-8601 timestamps (a finished run's ``createdAt`` and ``updatedAt``)."""
    try:
        begins, ends = (datetime.fromisoformat(str(t).replace("Z", "+00:00")) for t in (start, end))
        return round((ends - begins).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


def parse_outputs(run_id: str, outputs: Any) -> dict[str, dict[str, Any]]:
    """``[{"nodeId", "kind", "url", "text"}]`` -> ``{nodeId: {...}}``; node ids must be unique."""
    if outputs is None:
        return {}
    if not isinstance(outputs, list):
        raise ResponseFormatError(
            f"{NAME} run {run_id}: outputs should be a list, got {type(outputs).__name__}"
        )
    parsed: dict[str, dict[str, Any]] = {}
    for entry in outputs:
        node = str(require(entry, "nodeId", NAME, f"run {run_id} output"))
        if node in parsed:
            raise ResponseFormatError(f"{NAME} run {run_id}: two outputs share the node id {node!r}")
        parsed[node] = {"nodeId": node, **{key: entry.get(key) for key in ("kind", "url", "text")}}
    return parsed


def media_outputs(run: Run) -> dict[str, dict[str, Any]]:
    """The outputs of a run that are files behind a signed URL (everything but text).

    Raises :class:`ResponseFormatError` for a non-text output that came without a URL, since there
    would be nothing to keep.
    """
    media = {}
    for node, output in (run.outputs or {}).items():
        if output.get("url"):
            media[node] = output
        elif output.get("kind") not in ("text", None):
            raise ResponseFormatError(
                f"{NAME} run {run.run_id}: output {node!r} ({output.get('kind')}) has no URL to download"
            )
    return media


def rate_budget(response: Response, now: float) -> RateBudget | None:
    """The key's budget from ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.

    The reset is epoch seconds (tolerated: seconds until the reset). Missing or unreadable headers
    mean no budget is known.
    """
    remaining, reset = _number(response, "X-RateLimit-Remaining"), _number(response, "X-RateLimit-Reset")
    if remaining is None or reset is None:
        return None
    return RateBudget(int(max(0, remaining)), reset if reset >= _EPOCH_FLOOR else now + reset)


def _number(response: Response, header: str) -> float | None:
    try:
        return float(response.header(header) or "")
    except ValueError:
        return None


def input_problems(app: Any, inputs: Any) -> list[str]:
    """Everything wrong with ``inputs`` for an app (``GET /apps/{id}``'s ``data``), as sentences.

    Checks that every required input is given, that no node id is unknown, that text is text and
    that media inputs (``image_url``, ``video_url``, ``audio_url``) are http(s) URLs.
    """
    declared = require(app, "inputs", NAME, "app")
    if not (isinstance(declared, list) and all(isinstance(d, Mapping) and d.get("nodeId") for d in declared)):
        raise ResponseFormatError(
            f"{NAME} app {app.get('id')!r}: inputs should be a list of {{nodeId, kind, ...}}"
        )
    if not isinstance(inputs, Mapping):
        return [f"inputs must be a mapping of node id to value, got {type(inputs).__name__}"]
    fields = {str(d["nodeId"]): d for d in declared}
    ids = sorted(fields)
    problems = [f"unknown input {node!r} (the app's inputs: {ids})" for node in inputs if node not in fields]
    for node, spec in fields.items():
        value = inputs.get(node)
        if value is None or value == "":
            if spec.get("required"):
                problems.append(f"missing required input {node!r} ({spec.get('label') or spec.get('kind')})")
            continue
        problems.extend(_value_problems(node, str(spec.get("kind") or "text"), value))
    return problems


def _value_problems(node: str, kind: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"input {node!r} ({kind}) must be a string, got {type(value).__name__} {value!r}"]
    if kind in MEDIA_INPUT_KINDS:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return [f"input {node!r} ({kind}) must be an http(s) URL, got {value!r}"]
    return []


class FlowyAPI(PlatformAPI):
    info = PLATFORM

    def start(self, *, app_id: str, inputs: Mapping[str, Any]) -> Call[RunRef]:
        request = Request("POST", f"/apps/{segment(app_id)}/runs", json={"inputs": dict(inputs)})
        return Call(request, parse_start, idempotent=False)

    def status(self, ref: RunRef) -> Call[Run]:
        return Call(
            Request("GET", f"/runs/{segment(ref.run_id)}"),
            lambda response: parse_run(data_of(response, f"run {ref.run_id}")),
            run_id=ref.run_id,
        )

    def why_no_cancel(self, ref: RunRef) -> str:
        return (
            "Flowy's API has no endpoint to stop a run; it runs to the end and is billed "
            "(failed runs are refunded)"
        )

    def file_outputs(self, run: Run, base_url: str) -> list[OutputFile]:
        """Each media output, stored as ``<nodeId><extension of its URL>``."""
        return [
            OutputFile(
                at=(node,),
                url=output["url"],
                key=node,
                suffix=PurePosixPath(urlsplit(output["url"]).path).suffix,
            )
            for node, output in media_outputs(run).items()
        ]

    def probe(self) -> Call[str]:
        """``GET /apps``: authenticated, spends no credits."""
        return Call(Request("GET", "/apps"), _describe_apps)

    def apps(self) -> Call[list[dict[str, Any]]]:
        return Call(Request("GET", "/apps"), lambda response: _app_list(data_of(response, "app list")))

    def app(self, app_id: str) -> Call[dict[str, Any]]:
        def parse(response: Response) -> dict[str, Any]:
            data = data_of(response, f"app {app_id}")
            if not isinstance(data, Mapping):
                raise ResponseFormatError(
                    f"{NAME} app {app_id}: expected an object, got {type(data).__name__}"
                )
            return dict(data)

        return Call(Request("GET", f"/apps/{segment(app_id)}"), parse)

    def rate_budget(self, response: Response) -> RateBudget | None:
        return rate_budget(response, time.time())

    def error_detail(self, response: Response) -> tuple[str | None, str]:
        code, message = super().error_detail(response)
        if response.status == 402:
            return code, f"{message} -- {CREDITS_HINT}"
        return code, message

    def retry_verdict(self, response: Response) -> bool | float:
        # 429 is a rate or concurrency limit: wait as told (or until the window resets). 402, like
        # every other 4xx, cannot change by retrying.
        if response.status == 429:
            now = time.time()
            budget = rate_budget(response, now)
            until_reset = budget.reset_at - now if budget is not None and budget.remaining == 0 else 0.0
            return retry_after(response) or min(MAX_HOLD, max(0.0, until_reset)) or True
        return super().retry_verdict(response)


def _app_list(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(app, Mapping) for app in data):
        raise ResponseFormatError(f"{NAME} app list: expected a list of objects, got {data!r:.200}")
    return [dict(app) for app in data]


def _describe_apps(response: Response) -> str:
    apps = _app_list(data_of(response, "app list"))
    titles = ", ".join(repr(app.get("title") or app.get("id")) for app in apps[:5])
    more = f" and {len(apps) - 5} more" if len(apps) > 5 else ""
    if not apps:
        return "no apps visible"
    return f"{len(apps)} app{'s' if len(apps) != 1 else ''} visible ({titles}{more})"
