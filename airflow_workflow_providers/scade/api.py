"""Scade's flow API (``https://api.scade.pro/api/v1``) as data (no I/O).

A flow run is a Scade *task*: ``POST /scade/flow/{flow_id}/execute`` answers with the task record and
``GET /task/{task_id}`` returns the same record until it is done. What the public record leaves open,
and how this module copes:

* Only ``status`` 2 (running) and 3 (finished) are documented. The rest of :data:`DEFAULT_STATUS_MAP`
  (1 queued, 4 failed, 5 cancelled) is assumed, so the mapping is overridable; an integer the mapping
  does not know **fails** the run with a message naming it -- it never passes as success and the wait
  never spins on it until the timeout.
* A flow's result is the result node's named outputs, but some flows nest them as ``{"output": {...}}``
  or ``{"success": {"output": {...}}}``; :func:`unwrap_outputs` removes those wrappers.
* There is no endpoint to stop a task, and none that is free to call for a connection test (see
  :meth:`ScadeAPI.probe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airflow_workflow_providers.core.errors import (
    ConfigurationError,
    InputValidationError,
    PermanentAPIError,
    ResponseFormatError,
)
from airflow_workflow_providers.core.model import Request, Response, Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI, json_body, require
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.scade import PLATFORM

NAME = PLATFORM.name

#: Scade task status -> state. Only 2 and 3 are documented; 1, 4 and 5 are what the emulator assumes.
DEFAULT_STATUS_MAP: Mapping[int, RunState] = {
    1: RunState.QUEUED,
    2: RunState.RUNNING,
    3: RunState.SUCCEEDED,
    4: RunState.FAILED,
    5: RunState.CANCELLED,
}

USAGE_FIELDS = ("execution_cost", "execution_time")

#: the error code :meth:`ScadeAPI.error_detail` gives an answer that is not JSON (Scade's own are)
NOT_JSON = "not_json"


# -- status map -----------------------------------------------------------------------------------
def normalize_status_map(status_map: Mapping[Any, Any] | None) -> dict[int, RunState]:
    """A user's status override as ``{int: RunState}``.

    Keys may be integers or strings holding one (``{"6": "succeeded"}``, as JSON must carry them);
    values are :class:`RunState` values or names (``"succeeded"``, ``"SUCCEEDED"``). A wrong entry is a
    :class:`ConfigurationError` naming it.
    """
    if status_map is None:
        return {}
    if not isinstance(status_map, Mapping):
        raise ConfigurationError(
            f"{NAME} status_map must be a dict such as {{'6': 'succeeded'}}, got {status_map!r}"
        )
    return {_status_key(key): _state(key, value) for key, value in status_map.items()}


def status_map_option(status_map: Mapping[Any, Any] | None) -> dict[str, str]:
    """The JSON form of a status override (string keys, state values): what crosses into a trigger."""
    return {str(key): state.value for key, state in normalize_status_map(status_map).items()}


def _status_key(key: Any) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().lstrip("-").isdigit():
        return int(key)
    raise ConfigurationError(f"{NAME} status_map keys must be integers (or strings of one), got {key!r}")


def _state(key: Any, value: Any) -> RunState:
    if isinstance(value, RunState):
        return value
    if isinstance(value, str):
        try:
            return RunState(value.strip().lower())
        except ValueError:
            pass
    known = ", ".join(state.value for state in RunState)
    raise ConfigurationError(
        f"{NAME} status_map[{key!r}] = {value!r} is not a run state; use one of: {known}"
    )


# -- task records ---------------------------------------------------------------------------------
def task_id_of(record: Any) -> str:
    """The task id of a task record, as a string (Scade's ids are integers)."""
    task_id = require(record, "id", NAME, "task record")
    if isinstance(task_id, bool) or not isinstance(task_id, (int, str)) or not str(task_id).strip().isdigit():
        raise ResponseFormatError(f"{NAME} task record: id should be an integer, got {task_id!r}")
    return str(task_id).strip()


def parse_run(record: Any, status_map: Mapping[int, RunState] = DEFAULT_STATUS_MAP) -> Run:
    """A task record (start answer or ``GET /task/{id}``) as a normalized run.

    ``status_map`` is the complete integer -> state table. An integer it lacks ends the run as failed,
    naming the raw value; a status that is not an integer is a :class:`ResponseFormatError`.
    """
    run_id = task_id_of(record)
    status = require(record, "status", NAME, f"task {run_id}")
    if isinstance(status, bool) or not isinstance(status, int):
        raise ResponseFormatError(f"{NAME} task {run_id}: status should be an integer, got {status!r}")
    result = record.get("result")
    state = status_map.get(status)
    error = None
    if state is None:
        state = RunState.FAILED
        error = unknown_status_message(status, status_map)
    elif state is RunState.FAILED:
        error = error_text(result)
    return Run(
        run_id=run_id,
        state=state,
        raw_status=status,
        outputs=unwrap_outputs(result) if state is RunState.SUCCEEDED else None,
        error_message=error,
        usage={
            "elapsed_time": record.get("execution_time"),
            **{name: record.get(name) for name in USAGE_FIELDS},
        },
        unknown_status=status not in status_map,
    )


def unknown_status_message(status: int, status_map: Mapping[int, RunState]) -> str:
    known = ", ".join(f"{key} {state.value}" for key, state in sorted(status_map.items()))
    return (
        f"Scade reported task status {status}, which the status map does not know (known: {known}); "
        f"if {status} means success, pass status_map={{'{status}': 'succeeded'}}"
    )


def unwrap_outputs(result: Any) -> Any:
    """The result node's named outputs from a finished task's ``result``.

    Flat results are returned as they are; ``{"output": {...}}`` and ``{"success": {"output": {...}}}``
    are unwrapped. A wrapper is only recognized when it is the result's only key and wraps an object,
    so a flow whose single output is *named* ``output`` and holds text keeps ``{"output": "text"}``.
    ``None`` (no result) becomes ``{}``; any other non-object result is returned unchanged.
    """
    if result is None:
        return {}
    success = result.get("success") if _only_key(result, "success") else None
    if isinstance(success, Mapping) and isinstance(success.get("output"), Mapping):
        result = success["output"]
    elif _only_key(result, "output") and isinstance(result["output"], Mapping):
        result = result["output"]
    return dict(result) if isinstance(result, Mapping) else result


def _only_key(value: Any, key: str) -> bool:
    return isinstance(value, Mapping) and list(value) == [key]


def error_text(result: Any) -> str | None:
    """A failed task's error: ``result.error`` (text, or an object with a ``message``/``detail``)."""
    if isinstance(result, str):
        return result or None
    if not isinstance(result, Mapping):
        return None
    error = result.get("error")
    if isinstance(error, Mapping):
        error = error.get("message") or error.get("detail") or error
    return str(error) if error not in (None, "") else None


# -- starting a flow ------------------------------------------------------------------------------
def start_problems(
    *,
    flow_id: Any,
    start_node_id: Any,
    end_node_id: Any,
    result_node_id: Any = None,
    inputs: Any = None,
    node_settings: Any = None,
) -> list[str]:
    """Everything wrong with the arguments of a flow start, in words (empty when it may be submitted)."""
    problems = []
    if isinstance(flow_id, bool) or not isinstance(flow_id, (int, str)) or not str(flow_id).strip():
        problems.append(f"flow_id must be the flow's id (e.g. 1607), got {flow_id!r}")
    elif "/" in str(flow_id):
        problems.append(f"flow_id must be the flow's id, not a path or URL: {flow_id!r}")
    nodes = {"start_node_id": start_node_id, "end_node_id": end_node_id, "result_node_id": result_node_id}
    for name, value in nodes.items():
        if (value is not None or name != "result_node_id") and not (isinstance(value, str) and value.strip()):
            problems.append(f"{name} must be a node id such as 'SYnn-start', got {value!r}")
    if not isinstance(inputs, Mapping):
        hint = " (a template renders to a string unless the DAG sets render_template_as_native_obj=True)"
        problems.append(
            f"inputs must be a dict of the start node's input values, got {type(inputs).__name__} {inputs!r}"
            + (hint if isinstance(inputs, str) else "")
        )
    return problems + _node_settings_problems(node_settings)


def _node_settings_problems(node_settings: Any) -> list[str]:
    if node_settings is None:
        return []
    if not isinstance(node_settings, Mapping):
        kind = type(node_settings).__name__
        return [f"node_settings must be a dict of node id -> settings dict, got {kind}"]
    problems = []
    for node, settings in node_settings.items():
        if not isinstance(node, str) or not isinstance(settings, Mapping):
            example = "{'data': {...}}"
            problems.append(f"node_settings[{node!r}] must be a dict such as {example}, got {settings!r}")
        elif "data" in settings and not isinstance(settings["data"], Mapping):
            problems.append(f"node_settings[{node!r}]['data'] must be a dict, got {settings['data']!r}")
    return problems


def check_start(**spec: Any) -> None:
    """Raise :class:`InputValidationError` naming every problem of a flow start; nothing is submitted."""
    problems = start_problems(**spec)
    if problems:
        raise InputValidationError(f"{NAME} flow {spec.get('flow_id')!r} not started: " + "; ".join(problems))


def build_node_settings(
    start_node_id: str,
    inputs: Mapping[str, Any],
    node_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``node_settings`` with ``inputs`` merged into the start node's ``data``; on a clash ``inputs`` win.

    Other keys of the start node's settings, and every other node's settings, are kept as given.
    """
    settings = {node: dict(value) for node, value in (node_settings or {}).items()}
    start = settings.setdefault(start_node_id, {})
    start["data"] = {**dict(start.get("data") or {}), **dict(inputs)}
    return settings


class ScadeAPI(PlatformAPI):
    """Scade flows: start with ``POST /scade/flow/{id}/execute``, poll ``GET /task/{id}``, no stop.

    :param status_map: overrides of the task status table (:data:`DEFAULT_STATUS_MAP`), merged over
        it; see :func:`normalize_status_map` for the accepted forms.
    """

    info = PLATFORM

    def __init__(self, status_map: Mapping[Any, Any] | None = None) -> None:
        self.status_map: dict[int, RunState] = {**DEFAULT_STATUS_MAP, **normalize_status_map(status_map)}

    def auth_headers(self, api_key: str) -> dict[str, str]:
        # The server key shown in Scade's UI already is the base64 credential: sent as it is, never
        # encoded again. A pasted "Basic " prefix is tolerated; a login:password pair is not a key.
        key = api_key.strip().removeprefix("Basic ").strip()
        if ":" in key:
            raise ConfigurationError(
                "The Scade key (connection password) contains ':', so it looks like a login:password pair; "
                "paste the server key from Scade's settings, which is already the encoded credential."
            )
        return {"Authorization": f"Basic {key}"}

    def start(
        self,
        *,
        flow_id: str | int,
        start_node_id: str,
        end_node_id: str,
        result_node_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        node_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Call[RunRef]:
        inputs = {} if inputs is None else inputs
        check_start(
            flow_id=flow_id,
            start_node_id=start_node_id,
            end_node_id=end_node_id,
            result_node_id=result_node_id,
            inputs=inputs,
            node_settings=node_settings,
        )
        body = {
            "start_node_id": start_node_id,
            "end_node_id": end_node_id,
            "result_node_id": result_node_id or end_node_id,
            "node_settings": build_node_settings(start_node_id, inputs, node_settings),
        }
        path = f"/scade/flow/{quote(str(flow_id).strip(), safe='')}/execute"
        return Call(Request("POST", path, json=body), _started, idempotent=False)

    def status(self, ref: RunRef) -> Call[Run]:
        return Call(
            Request("GET", f"/task/{quote(ref.run_id, safe='')}"),
            lambda response: parse_run(json_body(response, NAME), self.status_map),
            run_id=ref.run_id,
        )

    def task(self, task_id: str | int) -> Call[dict[str, Any]]:
        """The raw task record, e.g. to read ``data`` (the request echoed) or ``finished``."""
        return Call(Request("GET", f"/task/{quote(str(task_id), safe='')}"), _record, run_id=str(task_id))

    def why_no_cancel(self, ref: RunRef) -> str:
        return "Scade has no endpoint to stop a flow run"

    def probe(self) -> Call[str]:
        """``GET /task/0``: Scade has no free "who am I" call, and reading a task costs nothing.

        Task 0 does not exist, so a working key gets a JSON 404 (see :meth:`probe_accepts`) while a bad
        one gets 401; no flow is run and no credit is spent.
        """
        return Call(Request("GET", "/task/0"), _describe_task)

    def probe_accepts(self, error: PermanentAPIError) -> bool:
        """Whether the probe's error still proves the key works: Scade's own JSON 404 for task 0.

        A 404 page that is not JSON comes from something else at the base URL, so it proves nothing.
        """
        return error.status_code == 404 and error.code != NOT_JSON

    def error_detail(self, response: Response) -> tuple[str | None, str]:
        code, message = super().error_detail(response)
        try:
            response.json()
        except ValueError:
            return NOT_JSON, (
                "the answer is not JSON, so it is a proxy's page or the connection's base URL does not point "
                f"at Scade's API (default {self.default_base_url}): {message}"
            )
        return code, message


def _record(response: Response) -> dict[str, Any]:
    record = json_body(response, NAME)
    task_id_of(record)
    return dict(record)


def _started(response: Response) -> RunRef:
    return RunRef(task_id_of(json_body(response, NAME)))


def _describe_task(response: Response) -> str:
    return f"the key can read task {_record(response)['id']}"
