"""Arcee Orchestra emulator: workflows executed by id (``/api/v1/workflow``).

Auth is a bearer key in ``Authorization``, or in the ``Authentication`` header the docs print (with or
without ``Bearer``). One key, ``arcee-emulator-key``, reaches every workflow. Default workflows, each a
graph ``input -> agent -> output``:

- ``0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0001`` (echo): input ``query`` -> ``outputs`` = the query (a string);
  lasts 0.2 s.
- ``0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002`` (slow): ``query`` and ``delay`` (default 5) ->
  ``{"answer": query, "slept": delay}``; lasts ``delay`` seconds, a negative ``delay`` fails.

Run statuses: ``pending``, ``running``, ``completed``, ``failed``, ``cancelled`` (outcomes: the last three).
A run's ``outputs`` is the output node's value: a string when the workflow has one output, else an object.
Workflow option ``run_shape``: ``list`` (default, a one-element list as documented) or ``object``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from airflow_workflow_providers.testing._runs import FAILED, AppDef, InputDef, OutputDef, Phase, Run, utc_iso
from airflow_workflow_providers.testing._server import Emulator, Route, read_json

ARCEE_KEY = "arcee-emulator-key"
ECHO_WORKFLOW = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0001"
SLOW_WORKFLOW = "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002"
_NODES = ("input", "agent", "output")
_NS = uuid.UUID("0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0000")
_CREATED = "2026-01-05T09:00:00+00:00"


class ArceeEmulator(Emulator):
    platform_key = "arcee_orchestra"
    base_path = "/api/v1/workflow"
    outcomes = frozenset({"completed", FAILED, "cancelled"})
    success_outcome = "completed"
    unauthorized_message = "Invalid or missing API key"
    default_app_ids: ClassVar[Mapping[str, str]] = {"echo": ECHO_WORKFLOW, "slow": SLOW_WORKFLOW}
    api_key = ARCEE_KEY

    def default_apps(self) -> list[AppDef]:
        query = InputDef("query")
        return [
            AppDef(
                ECHO_WORKFLOW,
                "Echo",
                "Returns its query.",
                inputs=(query,),
                outputs=(OutputDef("answer", "{query}"),),
                outcome=self.success_outcome,
            ),
            AppDef(
                SLOW_WORKFLOW,
                "Slow",
                "Waits `delay` seconds.",
                inputs=(query, InputDef("delay", "number", required=False, default=5)),
                outputs=(OutputDef("answer", "{query}"), OutputDef("slept", "{delay}")),
                duration_input="delay",
                outcome=self.success_outcome,
                error="Agent node failed: model timeout",
            ),
        ]

    def normalize_app(self, app: AppDef) -> AppDef:
        if app.options.get("run_shape", "list") not in ("list", "object"):
            raise ValueError("run_shape must be 'list' or 'object'")
        return app

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/workflows", self._workflows),
            Route("POST", "/workflows/{workflow_id}/execute", self._execute, "starts"),
            Route("GET", "/workflows/{workflow_id}/runs", self._runs),
            Route("GET", "/workflows/{workflow_id}/runs/{run_id}", self._run, "polls"),
            Route("GET", "/workflows/{workflow_id}/runs/{run_id}/steps", self._steps),
            Route("GET", "/workflows/{workflow_id}/diagram", self._diagram),
        ]

    def authenticate(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization") or request.headers.get("Authentication", "")
        return header.removeprefix("Bearer ") == self.api_key

    def run_state(self, run: Run) -> str:
        phase = run.phase()
        return {Phase.QUEUED: "pending", Phase.RUNNING: "running"}.get(phase, run.outcome)

    async def _workflows(self, request: web.Request) -> web.Response:
        return web.json_response([_workflow(app) for app in self.apps.values()])

    async def _execute(self, request: web.Request) -> web.Response:
        workflow = self.apps.get(request.match_info["workflow_id"])
        if workflow is None:
            return self.error(404, "Workflow not found")
        body = await read_json(request)
        if not isinstance(body, dict):
            return self.error(400, "The body must be a JSON object of input variables")
        missing = [
            spec.name for spec in workflow.inputs if spec.required and body.get(spec.name) in (None, "")
        ]
        if missing:
            return self.error(400, f"Missing required input variable: {missing[0]}")
        run = self.start_run(workflow, body)
        return web.json_response({"message": "Workflow execution started", "run_id": run.id})

    async def _runs(self, request: web.Request) -> web.Response:
        workflow_id = request.match_info["workflow_id"]
        if workflow_id not in self.apps:
            return self.error(404, "Workflow not found")
        try:
            limit, offset = int(request.query.get("limit", 100)), int(request.query.get("offset", 0))
        except ValueError:
            return self.error(400, "limit and offset must be integers")
        runs = [run for run in reversed(self.runs.values()) if run.app.id == workflow_id]
        return web.json_response([self._run_object(run) for run in runs[offset : offset + limit]])

    async def _run(self, request: web.Request) -> web.Response:
        run = self._find(request)
        if run is None:
            return self.error(404, "Run not found")
        body = self._run_object(run)
        return web.json_response(body if run.app.options.get("run_shape") == "object" else [body])

    async def _steps(self, request: web.Request) -> web.Response:
        run = self._find(request)
        if run is None:
            return self.error(404, "Run not found")
        return web.json_response([self._step(run, node) for node in _NODES])

    async def _diagram(self, request: web.Request) -> web.Response:
        workflow = self.apps.get(request.match_info["workflow_id"])
        if workflow is None:
            return self.error(404, "Workflow not found")
        edges = "\n".join(f"    {a}[{a.title()}] --> {b}[{b.title()}]" for a, b in itertools.pairwise(_NODES))
        return web.json_response({"diagram": "graph TD\n" + edges})

    def _find(self, request: web.Request) -> Run | None:
        run = self.runs.get(request.match_info["run_id"])
        return run if run is not None and run.app.id == request.match_info["workflow_id"] else None

    def _run_object(self, run: Run) -> dict[str, Any]:
        status = self.run_state(run)
        completed = status == "completed"
        return {
            "id": run.id,
            "workflow_id": run.app.id,
            "status": status,
            "start_time": utc_iso(run.created_at, suffix="+00:00"),
            "end_time": None if run.is_active() else utc_iso(run.finished_at, suffix="+00:00"),
            "elapsed_time": int(run.elapsed()),
            "error": run.error if status == FAILED else None,
            "outputs": _final_output(run) if completed else None,
            "all_outputs": {
                "input": run.inputs,
                **({"agent": run.outputs, "output": _final_output(run)} if completed else {}),
            },
            "inputs": run.inputs,
        }

    def _step(self, run: Run, node: str) -> dict[str, Any]:
        state = self._step_state(run, node)
        begins = run.started_at
        ends = begins if node == "input" else run.finished_at
        finished = state in self.outcomes
        outputs = {"input": run.inputs, "agent": run.outputs, "output": _final_output(run)}[node]
        return {
            "id": str(uuid.uuid5(_NS, f"{run.id}:{node}")),
            "node_id": node,
            "status": state,
            "start_time": None if state == "pending" else utc_iso(begins, suffix="+00:00"),
            "end_time": utc_iso(ends, suffix="+00:00") if finished else None,
            "elapsed_time": round(ends - begins, 3) if finished else None,
            "error": run.error if state == FAILED else None,
            "outputs": outputs if state == "completed" else None,
            "inputs": run.outputs if node == "output" else run.inputs,
            "tokens": 0,
        }

    def _step_state(self, run: Run, node: str) -> str:
        """The input node ends at once; the agent node ends with the run; the output node runs last."""
        status = self.run_state(run)
        if node == "input":
            return "pending" if status == "pending" else "completed"
        if status in ("pending", "running"):
            return status if node == "agent" else "pending"
        return status if node == "agent" or status == "completed" else "cancelled"


def _final_output(run: Run) -> Any:
    return next(iter(run.outputs.values())) if len(run.outputs) == 1 else run.outputs


def _workflow(app: AppDef) -> dict[str, Any]:
    variables = [{"name": spec.name, "type": spec.type, "required": spec.required} for spec in app.inputs]
    return {
        "workflow_id": app.id,
        "name": app.name,
        "description": app.description,
        "status": "active",
        "version": 1,
        "public": False,
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "graph": {
            "nodes": [
                {"id": "input", "type": "input", "data": {"input_variables": variables}},
                {"id": "agent", "type": "agent", "data": {"name": app.name}},
                {"id": "output", "type": "output", "data": {"outputs": [o.name for o in app.outputs]}},
            ],
            "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(_NODES)],
            "entry_point": "input",
            "finish_point": "output",
        },
    }
