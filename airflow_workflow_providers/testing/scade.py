"""Scade emulator: flows executed as tasks (``/api/v1``) and polled by task id.

Auth is ``Authorization: Basic <key>`` with the key compared verbatim (Scade's server key already is the
base64 credential). One key, ``c2NhZGUtZW11bGF0b3I6a2V5``, reaches every flow. Default flows:

- ``1607`` (echo): start node ``SYnn-start``, end node ``y5iI-end``, input ``text`` -> ``{"result": text}``;
  lasts 0.2 s.
- ``1608`` (slow): start ``Qk3a-start``, end ``Zp9w-end``, inputs ``text`` and ``delay`` (default 5) ->
  ``{"result": text, "slept": delay}``; lasts ``delay`` seconds, a negative ``delay`` fails.

A task's ``status`` is 1 queued, 2 running, 3 succeeded (``result`` = the outputs), 4 failed (``result``
``{"error": msg}``), 5 cancelled. Outcomes: ``succeeded``, ``failed``, ``cancelled``. Flow options:
``start_node_id``, ``end_node_id``, ``result_shape`` (``flat``, ``output`` -> ``{"output": {...}}``,
``success.output`` -> ``{"success": {"output": {...}}}``), ``terminal_status`` (an integer reported
instead of the outcome's, e.g. 7, to test unknown statuses) and ``cost`` (credits per run).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from airflow_workflow_providers.testing._runs import FAILED, AppDef, InputDef, OutputDef, Phase, Run, utc_iso
from airflow_workflow_providers.testing._server import Emulator, Route, read_json

SCADE_KEY = "c2NhZGUtZW11bGF0b3I6a2V5"
ECHO_FLOW = "1607"
SLOW_FLOW = "1608"
_STATUS = {Phase.QUEUED: 1, Phase.RUNNING: 2, "succeeded": 3, FAILED: 4, "cancelled": 5}
_SHAPES = {"flat": (), "output": ("output",), "success.output": ("success", "output")}
_FIRST_TASK_ID = 22311


class ScadeEmulator(Emulator):
    platform_key = "scade"
    base_path = "/api/v1"
    auth_scheme = "Basic"
    outcomes = frozenset({"succeeded", FAILED, "cancelled"})
    unauthorized_message = "Invalid token."
    default_app_ids: ClassVar[Mapping[str, str]] = {"echo": ECHO_FLOW, "slow": SLOW_FLOW}
    api_key = SCADE_KEY

    def default_apps(self) -> list[AppDef]:
        text = InputDef("text")
        return [
            AppDef(
                ECHO_FLOW,
                "Echo flow",
                inputs=(text,),
                outputs=(OutputDef("result", "{text}"),),
                options={"start_node_id": "SYnn-start", "end_node_id": "y5iI-end"},
            ),
            AppDef(
                SLOW_FLOW,
                "Slow flow",
                inputs=(text, InputDef("delay", "number", required=False, default=5)),
                outputs=(OutputDef("result", "{text}"), OutputDef("slept", "{delay}")),
                duration_input="delay",
                error="Node Zp9w-end failed: upstream timeout",
                options={"start_node_id": "Qk3a-start", "end_node_id": "Zp9w-end"},
            ),
        ]

    def normalize_app(self, app: AppDef) -> AppDef:
        options = {
            "start_node_id": f"{app.id}-start",
            "end_node_id": f"{app.id}-end",
            "result_shape": "flat",
            "terminal_status": None,
            "cost": 0.25,
            **app.options,
        }
        if options["result_shape"] not in _SHAPES:
            raise ValueError(f"result_shape must be one of {sorted(_SHAPES)}")
        return AppDef.from_json({"options": options}, app)

    def on_reset(self) -> None:
        self._task_ids = itertools.count(_FIRST_TASK_ID)

    def api_routes(self) -> list[Route]:
        return [
            Route("POST", "/scade/flow/{flow_id}/execute", self._execute, "starts"),
            Route("GET", "/task/{task_id}", self._task, "polls"),
        ]

    def run_state(self, run: Run) -> str:
        return str(self._status(run))

    async def _execute(self, request: web.Request) -> web.Response:
        flow = self.apps.get(request.match_info["flow_id"])
        if flow is None:
            return self.error(404, "Flow not found.")
        body = await read_json(request)
        try:
            inputs = _flow_inputs(flow, body)
        except ValueError as exc:
            return self.error(400, str(exc))
        run = self.start_run(flow, inputs, run_id=str(next(self._task_ids)))
        run.extra["data"] = {**body, "node_id": None, "init_context": {}}
        return web.json_response(self._record(run))

    async def _task(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["task_id"])
        return self.error(404, "Not found.") if run is None else web.json_response(self._record(run))

    def _status(self, run: Run) -> int:
        phase = run.phase()
        if phase in (Phase.QUEUED, Phase.RUNNING):
            return _STATUS[phase]
        return run.app.options["terminal_status"] or _STATUS[run.outcome]

    def _record(self, run: Run) -> dict[str, Any]:
        done = not run.is_active()
        return {
            "id": int(run.id),
            "data": run.extra["data"],
            "status": self._status(run),
            "created": utc_iso(run.created_at),
            "finished": utc_iso(run.finished_at) if done else None,
            "result": _result(run) if done else None,
            "execution_time": round(run.elapsed(), 3) if done else None,
            "execution_cost": float(run.app.options["cost"]) if done else None,
            "parent_id": None,
            "ref_id": f"flow:{run.app.id};",
            "task_type": 4,
            "is_hide": False,
            "public_access_token": None,
            "file_result_link": None,
        }


def _flow_inputs(flow: AppDef, body: Any) -> dict[str, Any]:
    """The start node's inputs from an execute body; ValueError (the answer's detail) when it is malformed
    or names nodes of another flow."""
    if not isinstance(body, dict):
        raise ValueError("Malformed request body: expected a JSON object.")
    start, end = flow.options["start_node_id"], flow.options["end_node_id"]
    for field, allowed in (
        ("start_node_id", {start}),
        ("end_node_id", {end}),
        ("result_node_id", {start, end}),
    ):
        node = body.get(field, end if field == "result_node_id" else None)
        if node not in allowed:
            raise ValueError(f"Node {node!r} given as {field} does not belong to flow {flow.id}.")
    settings = body.get("node_settings", {})
    node = settings.get(start, {}) if isinstance(settings, dict) else None
    data = node.get("data", {}) if isinstance(node, dict) else None
    if not isinstance(data, dict):
        raise ValueError('Malformed request body: node_settings must be {node id: {"data": {...}}}.')
    return data


def _result(run: Run) -> dict[str, Any] | None:
    if run.outcome == FAILED:
        return {"error": run.error}
    if run.outcome != "succeeded":
        return None
    result: dict[str, Any] = run.outputs
    for key in reversed(_SHAPES[run.app.options["result_shape"]]):
        result = {key: result}
    return result
