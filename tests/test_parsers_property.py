"""Property tests: every platform's status parser turns any body into a normalized Run or a ResponseFormatError.

Bodies are random JSON, mutations of each platform's documented shapes, and truncations of valid
bodies. A parser must never raise anything else, and never report success unless the body says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_workflow_providers.arcee.api import ArceeOrchestraAPI
from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import Response, Run, RunRef, RunState
from airflow_workflow_providers.dify.api import DifyAPI
from airflow_workflow_providers.flowy.api import FlowyAPI
from airflow_workflow_providers.scade.api import ScadeAPI


@dataclass(frozen=True)
class Shape:
    """A platform's status call, a valid body, and what in a body may legitimately mean success."""

    parse: Callable[[Response], Run]
    valid: Any
    says_success: Callable[[Any], bool]


def _dify_success(body: Any) -> bool:
    return isinstance(body, dict) and body.get("status") in ("succeeded", "partial-succeeded")


def _scade_success(body: Any) -> bool:
    return isinstance(body, dict) and type(body.get("status")) is int and body["status"] == 3


def _arcee_success(body: Any) -> bool:
    runs = body if isinstance(body, list) else [body]
    return any(
        isinstance(run, dict)
        and isinstance(run.get("status"), str)
        and run["status"].strip().lower() == "completed"
        for run in runs
    )


def _flowy_success(body: Any) -> bool:
    data = body.get("data") if isinstance(body, dict) else None
    return isinstance(data, dict) and data.get("status") == "completed"


SHAPES = {
    "scade": Shape(
        ScadeAPI().status(RunRef("7")).parse,
        {
            "id": 7,
            "status": 3,
            "result": {"success": {"output": {"a": 1}}},
            "execution_cost": 0.25,
            "execution_time": 2.5,
        },
        _scade_success,
    ),
    "arcee": Shape(
        ArceeOrchestraAPI().status(RunRef("r", {"workflow_id": "w"})).parse,
        [
            {
                "id": "r",
                "workflow_id": "w",
                "status": "completed",
                "outputs": {"a": 1},
                "error": None,
                "elapsed_time": 1.2,
                "inputs": {"query": "q"},
                "start_time": "2027-01-15T08:00:05Z",
            }
        ],
        _arcee_success,
    ),
    "flowy": Shape(
        FlowyAPI().status(RunRef("r")).parse,
        {
            "data": {
                "runId": "r",
                "appId": "a",
                "appTitle": "t",
                "status": "completed",
                "error": None,
                "outputs": [
                    {"nodeId": "n", "kind": "image", "url": "https://x/y.png", "text": None},
                    {"nodeId": "c", "kind": "text", "url": None, "text": "hi"},
                ],
                "createdAt": "2026-01-01T00:00:00.000Z",
                "updatedAt": "2026-01-01T00:00:01.000Z",
            }
        },
        _flowy_success,
    ),
    "dify": Shape(
        DifyAPI().status(RunRef("r")).parse,
        {
            "id": "r",
            "workflow_id": "w",
            "status": "succeeded",
            "inputs": "{}",
            "outputs": {"a": 1},
            "error": None,
            "total_steps": 2,
            "total_tokens": 0,
            "created_at": 1,
            "finished_at": 2,
            "elapsed_time": 0.2,
        },
        _dify_success,
    ),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def mutations(valid: Any) -> st.SearchStrategy:
    """The valid body with some fields dropped or replaced by random JSON (nested one level too)."""
    if isinstance(valid, list):
        return st.lists(mutations(valid[0]), max_size=2) if valid else st.just(valid)
    keys = sorted(valid)
    return st.fixed_dictionaries(
        {},
        optional={
            key: json_values
            | st.just(valid[key])
            | (
                mutations(valid[key])
                if isinstance(valid[key], (dict, list)) and valid[key]
                else st.just(valid[key])
            )
            for key in keys
        },
    )


def judge(shape: Shape, body: bytes) -> None:
    try:
        run = shape.parse(Response(200, body))
    except ResponseFormatError:
        return
    assert isinstance(run, Run) and isinstance(run.state, RunState)
    json.dumps(run.to_result())  # the XCom result stays JSON
    if run.state is RunState.SUCCEEDED:
        assert shape.says_success(json.loads(body)), f"false success from {body!r}"


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("platform", sorted(SHAPES))
@PROPERTY
@given(data=st.data())
def test_random_json_never_crashes_or_succeeds_falsely(platform, data):
    shape = SHAPES[platform]
    body = data.draw(json_values | mutations(shape.valid))
    judge(shape, json.dumps(body).encode())


@pytest.mark.parametrize("platform", sorted(SHAPES))
@PROPERTY
@given(data=st.data())
def test_truncated_bodies_are_typed_errors(platform, data):
    valid = json.dumps(SHAPES[platform].valid).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(valid) - 1))
    judge(SHAPES[platform], valid[:cut])


@pytest.mark.parametrize("platform", sorted(SHAPES))
def test_the_valid_body_parses(platform):
    shape = SHAPES[platform]
    assert shape.parse(Response(200, json.dumps(shape.valid).encode())).state is RunState.SUCCEEDED
