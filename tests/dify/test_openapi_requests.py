"""The requests DifyHook sends, as the emulator received them, validated against Dify's OpenAPI document."""

from __future__ import annotations

import re

import jsonschema
import pytest
import requests

from airflow_workflow_providers.dify.hooks import DifyHook
from tests.recorded import openapi
from tests.testing.test_dify_openapi import json_schema


def operation(spec: dict, method: str, path: str) -> dict:
    for template, operations in spec["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in Dify's OpenAPI document")


def check(spec: dict, request: dict) -> None:
    op = operation(spec, request["method"], request["path"])
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        jsonschema.Draft202012Validator(json_schema(spec, body["schema"])).validate(request["json"])
    declared = {
        p["name"]: p for p in (json_schema(spec, p) for p in op.get("parameters", [])) if p["in"] == "query"
    }
    for name, value in (request["query"] or {}).items():
        assert name in declared, f"query parameter {name!r} is not documented for {request['path']}"
        kind = declared[name].get("schema", {}).get("type")
        assert kind != "integer" or value.isdigit(), f"{name}={value!r} should be an integer"
        assert "enum" not in declared[name]["schema"] or value in declared[name]["schema"]["enum"]


@pytest.fixture
def spec():
    return openapi()


def test_every_request_the_hook_sends_is_documented_and_well_formed(dify, spec, tmp_path):
    hook = DifyHook("dify_slow")
    ref = hook.start_run(inputs={"query": "q", "delay": 5}, user="spec-user")
    hook.get_run(ref)
    hook.cancel_run(ref)
    hook.get_parameters()
    hook.get_app_info()
    hook.list_runs(user="spec-user", status="stopped", page=1, limit=5)
    detail = requests.get(
        f"{dify.base_url}/workflows/run/{ref.run_id}", headers=dify.headers("app-slow")
    ).json()
    hook.start_run(inputs={"query": "q", "delay": 1}, user="u", workflow_id=detail["workflow_id"])
    sent = dify.control.state()["requests"]
    assert len(sent) == 8
    for request in sent:
        check(spec, request)
