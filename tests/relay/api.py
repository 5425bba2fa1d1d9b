"""Relay's HTTP API, as data (no I/O).

``POST /jobs {"input": {...}}`` answers 201 ``{"job": {"id", "state": "pending"}}``; ``GET /jobs/{id}``
answers ``{"job": {"id", "state", "result", "error", "credits"}}`` with ``state`` one of ``pending``,
``working``, ``done``, ``error``, ``cancelled``; ``POST /jobs/{id}/cancel`` stops a job; ``GET /me`` names
the key's account. The key travels as ``X-Relay-Key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import Request, Response, Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI, json_body, require
from airflow_workflow_providers.core.retry import Call
from tests.relay import PLATFORM

NAME = PLATFORM.name
STATES: Mapping[str, RunState] = {
    "pending": RunState.QUEUED,
    "working": RunState.RUNNING,
    "done": RunState.SUCCEEDED,
    "error": RunState.FAILED,
    "cancelled": RunState.CANCELLED,
}


def parse_job(response: Response) -> Run:
    job = require(json_body(response, NAME), "job", NAME, "job answer")
    job_id = str(require(job, "id", NAME, "job"))
    state = require(job, "state", NAME, f"job {job_id}")
    if state not in STATES:
        raise ResponseFormatError(f"{NAME} job {job_id}: unknown state {state!r}")
    result = job.get("result")
    return Run(
        run_id=job_id,
        state=STATES[state],
        raw_status=state,
        outputs=dict(result) if isinstance(result, Mapping) else {},
        error_message=job.get("error"),
        usage={"credits": job.get("credits")},
    )


class RelayAPI(PlatformAPI):
    info = PLATFORM

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Relay-Key": api_key}

    def start(self, *, inputs: Mapping[str, Any]) -> Call[RunRef]:
        def started(response: Response) -> RunRef:
            return RunRef(parse_job(response).run_id)

        return Call(Request("POST", "/jobs", json={"input": dict(inputs)}), started, idempotent=False)

    def status(self, ref: RunRef) -> Call[Run]:
        return Call(Request("GET", f"/jobs/{quote(ref.run_id, safe='')}"), parse_job, run_id=ref.run_id)

    def cancel(self, ref: RunRef) -> Call[Any]:
        return Call(
            Request("POST", f"/jobs/{quote(ref.run_id, safe='')}/cancel"), parse_job, run_id=ref.run_id
        )

    def probe(self) -> Call[str]:
        return Call(
            Request("GET", "/me"), lambda response: f"account {json_body(response, NAME).get('account')!r}"
        )
