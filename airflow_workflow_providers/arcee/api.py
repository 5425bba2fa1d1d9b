"""Arcee Orchestra's workflow API, as data (no I/O).

What shapes this module (see the Arcee section of the platform notes):

* a run is polled under its workflow (``/workflows/{workflow_id}/runs/{run_id}``), so the run reference
  carries the workflow id: ``RunRef(run_id, {"workflow_id": ...})``.
* the single-run endpoint is documented to answer a **one-element list**; a bare object is accepted too.
* only ``completed`` is a documented status. The rest of :data:`STATES` is assumed; any other status
  keeps the run waiting (bounded by the task's timeout) and never passes as success, and a non-null
  ``error`` on a run that has ended makes it a failure whatever its status says.
* there is no known endpoint to stop a run: :meth:`ArceeOrchestraAPI.cancel` returns ``None``.
* the documented workflow graph does not describe its input variables, so inputs can only be checked
  for shape (:func:`input_problems`), not against the workflow's own variables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from airflow_workflow_providers.arcee import PLATFORM
from airflow_workflow_providers.core.errors import ConfigurationError, ResponseFormatError
from airflow_workflow_providers.core.model import Request, Response, Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI, json_body, require
from airflow_workflow_providers.core.retry import Call

NAME = PLATFORM.name

STATES: Mapping[str, RunState] = {
    "pending": RunState.QUEUED,
    "queued": RunState.QUEUED,
    "running": RunState.RUNNING,
    "completed": RunState.SUCCEEDED,
    "failed": RunState.FAILED,
    "error": RunState.FAILED,
    "cancelled": RunState.CANCELLED,
    "stopped": RunState.CANCELLED,
}


def run_ref(workflow_id: str, run_id: str) -> RunRef:
    """The reference of run ``run_id`` of workflow ``workflow_id``: what polling needs."""
    for name, value in (("workflow_id", workflow_id), ("run_id", run_id)):
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{NAME} needs a {name} (a non-empty string), got {value!r}")
    return RunRef(run_id.strip(), {"workflow_id": workflow_id.strip()})


def parse_run(payload: Any, run_id: str | None = None) -> Run:
    """A run from ``GET /workflows/{id}/runs/{run_id}`` (a one-element list or an object) or a runs list entry.

    ``run_id`` is the id that was asked for: it picks the run out of a longer list and stands in for a
    missing ``id``.
    """
    what = f"run {run_id}" if run_id else "run"
    if isinstance(payload, list):
        payload = _one_run(payload, run_id, what)
    if not isinstance(payload, Mapping):
        raise ResponseFormatError(f"{NAME} {what}: expected a run object, got {type(payload).__name__}")
    found_id = str(payload.get("id") or run_id or require(payload, "id", NAME, what))
    status = require(payload, "status", NAME, f"run {found_id}")
    if not isinstance(status, str):
        raise ResponseFormatError(f"{NAME} run {found_id}: status should be a string, got {status!r}")
    state = STATES.get(status.strip().lower(), RunState.RUNNING)
    error = payload.get("error")
    error_text = _error_text(error)
    if error_text and state.is_terminal:
        # An error on a run that has ended is a failure, even one reported as "completed".
        state = RunState.FAILED
    return Run(
        run_id=found_id,
        state=state,
        raw_status=status,
        # The end node's output: documented as a string or an object, kept whatever JSON it is.
        outputs=payload.get("outputs"),
        error_message=error_text,
        usage={"elapsed_time": payload.get("elapsed_time")},
    )


def _one_run(runs: list[Any], run_id: str | None, what: str) -> Any:
    if not runs:
        raise ResponseFormatError(f"{NAME} {what}: the answer is an empty list, not a run")
    if len(runs) == 1 or run_id is None:
        return runs[0]
    matching = [r for r in runs if isinstance(r, Mapping) and str(r.get("id")) == run_id]
    if not matching:
        raise ResponseFormatError(f"{NAME} {what}: the answer lists {len(runs)} runs, none with that id")
    return matching[0]


def _error_text(error: Any) -> str | None:
    """The run's ``error`` as text; ``None`` for no error (null or blank)."""
    if error is None or (isinstance(error, str) and not error.strip()):
        return None
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("detail")
        if message:
            return str(message)
    return error if isinstance(error, str) else json.dumps(error)


def parse_steps(payload: Any, run_id: str | None = None) -> list[dict[str, Any]]:
    """The per-node steps of ``GET .../runs/{run_id}/steps``: a list of step objects, each naming its node."""
    what = f"steps of run {run_id}" if run_id else "steps"
    if not isinstance(payload, list):
        raise ResponseFormatError(f"{NAME} {what}: expected a list, got {type(payload).__name__}")
    for step in payload:
        if not isinstance(step, Mapping) or not (step.get("node_id") or step.get("id")):
            raise ResponseFormatError(
                f"{NAME} {what}: every step must be an object with a node_id, got {step!r}"
            )
    return [dict(step) for step in payload]


def step_summary(step: Mapping[str, Any]) -> dict[str, Any]:
    """``{"node", "status", "seconds", "error"}`` of one step, for logs and the task's result."""
    seconds = step.get("elapsed_time")
    return {
        "node": str(step.get("node_id") or step.get("id")),
        "status": step.get("status"),
        "seconds": seconds if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None,
        "error": _error_text(step.get("error")),
    }


def elapsed_seconds(reported: Any, steps: list[dict[str, Any]] | None) -> Any:
    """The run's seconds: Arcee reports whole seconds (0 for a 0.4 s run); the steps' own seconds,
    added up, give the fraction when they agree with that whole number (one node after another)."""
    timed = [s["seconds"] for s in steps or [] if s.get("seconds") is not None]
    if not timed or not isinstance(reported, (int, float)) or isinstance(reported, bool):
        return reported
    total = round(sum(timed), 3)
    return total if reported <= total < reported + 1 else reported


def describe_step(summary: Mapping[str, Any]) -> str:
    """One log line for a step summary, e.g. ``agent: completed in 1.20 s``."""
    took = f" in {summary['seconds']:.2f} s" if summary.get("seconds") is not None else ""
    error = f" -- error: {summary['error']}" if summary.get("error") else ""
    return f"{summary['node']}: {summary['status']}{took}{error}"


def input_problems(inputs: Any) -> list[str]:
    """Everything that makes ``inputs`` unfit to be the execute body: a flat map of named JSON values."""
    if isinstance(inputs, str):
        return [
            "inputs must be a dict of input variables, got a string; a templated dict renders as a string "
            "unless the DAG sets render_template_as_native_obj=True"
        ]
    if not isinstance(inputs, Mapping):
        return [f"inputs must be a dict of input variables, got {type(inputs).__name__}"]
    problems = []
    for name, value in inputs.items():
        if not isinstance(name, str) or not name.strip():
            problems.append(f"input names must be non-empty strings, got {name!r}")
            continue
        problem = _json_problem(value)
        if problem:
            problems.append(f"input {name!r} {problem}")
    return problems


def _json_problem(value: Any) -> str | None:
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number, got {value!r}"
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            return "is an object with non-string keys, which JSON cannot carry"
        return next((p for p in map(_json_problem, value.values()) if p), None)
    if isinstance(value, (list, tuple)):
        return next((p for p in map(_json_problem, value) if p), None)
    return f"must be a JSON value (string, number, boolean, null, list or object), got {type(value).__name__}"


class ArceeOrchestraAPI(PlatformAPI):
    info = PLATFORM

    def start(self, *, workflow_id: str, inputs: Mapping[str, Any]) -> Call[RunRef]:
        request = Request("POST", f"{_workflow_path(workflow_id)}/execute", json=dict(inputs))

        def parse(response: Response) -> RunRef:
            answer = json_body(response, NAME)
            return run_ref(
                workflow_id, str(require(answer, "run_id", NAME, f"execute of workflow {workflow_id}"))
            )

        return Call(request, parse, idempotent=False)

    def find_run(self, *, since: float, workflow_id: str, inputs: Mapping[str, Any]) -> Call[list[RunRef]]:
        """From the run history, the runs of these inputs started since ``since`` (the engine takes one
        only when it is alone: several cannot be told apart from the lost start)."""
        request = Request("GET", f"{_workflow_path(workflow_id)}/runs", query={"limit": 20, "offset": 0})
        return Call(
            request,
            lambda response: started_run(
                _objects(json_body(response, NAME), f"runs of workflow {workflow_id}"),
                workflow_id,
                dict(inputs),
                since,
            ),
        )

    def status(self, ref: RunRef) -> Call[Run]:
        return Call(
            Request("GET", _run_path(ref)),
            lambda response: parse_run(json_body(response, NAME), ref.run_id),
            run_id=ref.run_id,
        )

    def cancel(self, ref: RunRef) -> Call[Any] | None:
        return None

    def why_no_cancel(self, ref: RunRef) -> str:
        return f"{NAME} has no endpoint to stop a run; it runs to its end and is billed as usual"

    def probe(self) -> Call[str]:
        return Call(Request("GET", "/workflows"), _describe_workflows)

    def workflows(self) -> Call[list[dict[str, Any]]]:
        return Call(
            Request("GET", "/workflows"), lambda response: _objects(json_body(response, NAME), "workflows")
        )

    def steps(self, ref: RunRef) -> Call[list[dict[str, Any]]]:
        return Call(
            Request("GET", f"{_run_path(ref)}/steps"),
            lambda response: parse_steps(json_body(response, NAME), ref.run_id),
            run_id=ref.run_id,
        )

    def runs(self, workflow_id: str, *, limit: int = 100, offset: int = 0) -> Call[list[dict[str, Any]]]:
        request = Request(
            "GET", f"{_workflow_path(workflow_id)}/runs", query={"limit": limit, "offset": offset}
        )
        return Call(
            request, lambda response: _objects(json_body(response, NAME), f"runs of workflow {workflow_id}")
        )

    def diagram(self, workflow_id: str) -> Call[str]:
        def parse(response: Response) -> str:
            return str(
                require(json_body(response, NAME), "diagram", NAME, f"diagram of workflow {workflow_id}")
            )

        return Call(Request("GET", f"{_workflow_path(workflow_id)}/diagram"), parse)


def started_run(
    runs: list[dict[str, Any]], workflow_id: str, inputs: dict[str, Any], since: float
) -> list[RunRef]:
    """The runs with these inputs whose start is not before ``since`` (a pending run has no start yet)."""
    return [
        run_ref(workflow_id, str(run["id"]))
        for run in runs
        if run.get("id") and run.get("inputs") == inputs and _started_since(run.get("start_time"), since)
    ]


def _started_since(start_time: Any, since: float) -> bool:
    if start_time is None:
        return True
    try:
        started = datetime.fromisoformat(str(start_time).replace("Z", "+00:00"))
    except ValueError:
        return False
    return (started if started.tzinfo else started.replace(tzinfo=timezone.utc)).timestamp() >= since


def _workflow_path(workflow_id: str) -> str:
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise ConfigurationError(f"{NAME} needs a workflow id (a non-empty string), got {workflow_id!r}")
    return f"/workflows/{quote(workflow_id.strip(), safe='')}"


def _run_path(ref: RunRef) -> str:
    workflow_id = ref.extras.get("workflow_id")
    if not workflow_id:
        raise ConfigurationError(
            f"{NAME} run {ref.run_id}: polling needs the workflow id; pass RunRef(run_id, {{'workflow_id': ...}})"
        )
    return f"{_workflow_path(workflow_id)}/runs/{quote(ref.run_id, safe='')}"


def _objects(payload: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(item, Mapping) for item in payload):
        raise ResponseFormatError(f"{NAME} {what}: expected a list of objects, got {payload!r:.200}")
    return [dict(item) for item in payload]


def _describe_workflows(response: Response) -> str:
    workflows = _objects(json_body(response, NAME), "workflows")
    active = sum(1 for w in workflows if w.get("status") == "active")
    return f"{len(workflows)} workflow{'s' if len(workflows) != 1 else ''} visible ({active} active)"
