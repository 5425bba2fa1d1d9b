"""Relay's emulator, on the engine's emulator framework (``airflow_workflow_providers.testing``).

One key, ``relay-emulator-key``; one app, ``job`` (echoes ``text``, lasts ``seconds``, fails for a
negative number).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from airflow_workflow_providers.testing._runs import FAILED, AppDef, InputDef, OutputDef, Phase, Run
from airflow_workflow_providers.testing._server import Emulator, Route, read_json

_STATES = {
    Phase.QUEUED: "pending",
    Phase.RUNNING: "working",
    Phase.STOPPED: "cancelled",
    "succeeded": "done",
    FAILED: "error",
}


class RelayEmulator(Emulator):
    platform_key = "relay"
    base_path = "/v2"
    outcomes = frozenset({"succeeded", FAILED})
    default_app_ids: ClassVar[Mapping[str, str]] = {"job": "job"}
    api_key = "relay-emulator-key"

    def authenticate(self, request: web.Request) -> bool:
        return request.headers.get("X-Relay-Key") == self.api_key

    def default_apps(self) -> list[AppDef]:
        return [
            AppDef(
                "job",
                "Job",
                inputs=(InputDef("text"), InputDef("seconds", "number", required=False, default=0.2)),
                outputs=(OutputDef("echo", "{text}"),),
                duration_input="seconds",
                error="the relay dropped it",
            )
        ]

    def api_routes(self) -> list[Route]:
        return [
            Route("POST", "/jobs", self._start, "starts"),
            Route("GET", "/jobs/{id}", self._job, "polls"),
            Route("POST", "/jobs/{id}/cancel", self._cancel, "stops"),
            Route("GET", "/me", self._me),
        ]

    def run_state(self, run: Run) -> str:
        phase = run.phase()
        return _STATES[phase] if phase is not Phase.FINISHED else _STATES[run.outcome]

    def _answer(self, run: Run, status: int = 200) -> web.Response:
        done = not run.is_active()
        job: dict[str, Any] = {
            "id": run.id,
            "state": self.run_state(run),
            "credits": 2 if done else None,
            "result": run.outputs if done and run.outcome == "succeeded" else None,
            "error": run.error if done else None,
        }
        return web.json_response({"job": job}, status=status)

    async def _start(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        inputs = body.get("input") if isinstance(body, dict) else None
        if not isinstance(inputs, dict):
            return self.error(400, "input must be an object")
        return self._answer(self.start_run(self.apps["job"], inputs), status=201)

    async def _job(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["id"])
        return self.error(404, "no such job") if run is None else self._answer(run)

    async def _cancel(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["id"])
        if run is None:
            return self.error(404, "no such job")
        run.stop()
        return self._answer(run)

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response({"account": "emulated"})
