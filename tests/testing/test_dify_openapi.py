"""The Dify emulator's answers validated against Dify's own OpenAPI document (read from ../shared)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_workflow_providers.testing import RunningEmulator

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "dify-service-api.openapi.json"
Api = Any  # the conftest's client


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Dify OpenAPI spec not found at {SPEC_PATH}")
    return json.loads(SPEC_PATH.read_text())


def json_schema(spec: dict[str, Any], node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``$ref``s inlined, ``nullable`` turned into a null type."""
    if isinstance(node, list):
        return [json_schema(spec, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return json_schema(spec, target)
    schema = {
        key: json_schema(spec, value)
        for key, value in node.items()
        if key not in ("nullable", "discriminator")
    }
    if node.get("nullable"):
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return _keyed_wrappers(schema)


def _keyed_wrappers(schema: dict[str, Any]) -> dict[str, Any]:
    """The spec's form-control wrappers (``{"text-input": {...}}``) name their control but do not require it,
    so every item matches all of them and a ``oneOf`` can never pass, the real server's answers included.
    Requiring the named key keeps the intended check."""
    branches = schema.get("oneOf", [])
    if branches and all(len(branch.get("properties", {})) == 1 for branch in branches):
        schema["oneOf"] = [{**branch, "required": list(branch["properties"])} for branch in branches]
    return schema


def validate(spec: dict[str, Any], name: str, instance: Any) -> None:
    schema = json_schema(spec, {"$ref": f"#/components/schemas/{name}"})
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(instance)


def error_example(spec: dict[str, Any], path: str, method: str, status: str, example: str) -> dict[str, Any]:
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["examples"][
        example
    ]["value"]


def test_parameters_match_app_parameters_response(
    spec: dict, dify: Api, dify_emulator: RunningEmulator
) -> None:
    dify_emulator.control.add_app(
        id="app-form",
        name="form",
        inputs=[
            {"name": "city", "type": "text-input", "max_length": 48, "default": "Paris"},
            {"name": "notes", "type": "paragraph", "required": False},
            {"name": "tone", "type": "select", "options": ["dry", "warm"]},
        ],
    )
    validate(
        spec,
        "AppParametersResponse",
        dify.get("/parameters", headers={"Authorization": "Bearer app-form"}).json(),
    )


def test_info_matches_app_info_response(spec: dict, dify: Api) -> None:
    validate(spec, "AppInfoResponse", dify.get("/info").json())


def test_blocking_run_and_its_detail_match(spec: dict, dify: Api) -> None:
    started = dify.post("/workflows/run", json={"inputs": {"query": "q"}, "user": "u"}).json()
    validate(spec, "WorkflowBlockingResponse", started)
    validate(
        spec, "WorkflowRunDetailResponse", dify.get(f"/workflows/run/{started['workflow_run_id']}").json()
    )


def test_running_and_failed_runs_match(spec: dict, dify: Api, dify_emulator: RunningEmulator) -> None:
    slow = {"Authorization": "Bearer app-slow"}
    failed = dify.post(
        "/workflows/run", headers=slow, json={"inputs": {"query": "q", "delay": -1}, "user": "u"}
    )
    validate(spec, "WorkflowBlockingResponse", failed.json())
    dify_emulator.control.settings(blocking_timeout=0.0)
    dify.post("/workflows/run", headers=slow, json={"inputs": {"query": "q", "delay": 5}, "user": "u"})
    for run_id in dify_emulator.control.runs():
        validate(spec, "WorkflowRunDetailResponse", dify.get(f"/workflows/run/{run_id}", headers=slow).json())


def test_stream_events_match_their_event_schemas(
    spec: dict, dify: Api, dify_emulator: RunningEmulator
) -> None:
    dify_emulator.control.settings(stream_close_delay=0.0)
    mapping = spec["components"]["schemas"]["ChunkWorkflowEvent"]["discriminator"]["mapping"]
    response = dify.post(
        "/workflows/run", json={"inputs": {"query": "q"}, "user": "u", "response_mode": "streaming"}
    )
    events = [
        json.loads(line[len("data: ") :]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert events
    for event in events:
        validate(spec, mapping[event["event"]].rsplit("/", 1)[-1], event)


def test_logs_and_upload_match(spec: dict, dify: Api) -> None:
    dify.post("/workflows/run", json={"inputs": {"query": "q"}, "user": "u"})
    validate(spec, "WorkflowLogsResponse", dify.get("/workflows/logs").json())
    uploaded = dify.post("/files/upload", files={"file": ("a.txt", b"abc", "text/plain")}, data={"user": "u"})
    validate(spec, "FileUploadResponse", uploaded.json())


def test_error_bodies_equal_the_documented_examples(spec: dict, dify: Api) -> None:
    not_found = dify.get("/workflows/run/00000000-0000-0000-0000-000000000000").json()
    assert not_found == error_example(
        spec, "/workflows/run/{workflow_run_id}", "get", "404", "workflow_run_not_found"
    )
    no_user = dify.post("/workflows/tasks/t/stop", json={}).json()
    assert no_user == error_example(spec, "/workflows/tasks/{task_id}/stop", "post", "400", "invalid_param")
    no_file = dify.post("/files/upload", data={"user": "u"}).json()
    assert no_file == error_example(spec, "/files/upload", "post", "400", "no_file_uploaded")
