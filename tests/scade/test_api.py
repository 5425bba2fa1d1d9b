"""Scade's API description against the task-record shapes of platform-apis.md (no I/O)."""

from __future__ import annotations

import json
import re

import pytest

from airflow_workflow_providers.core.errors import (
    ConfigurationError,
    InputValidationError,
    PermanentAPIError,
    ResponseFormatError,
)
from airflow_workflow_providers.core.model import Response, RunRef, RunState
from airflow_workflow_providers.scade.api import (
    DEFAULT_STATUS_MAP,
    ScadeAPI,
    build_node_settings,
    normalize_status_map,
    parse_run,
    start_problems,
    status_map_option,
    unwrap_outputs,
)

API = ScadeAPI()

#: the documented start answer: a task record while the flow runs
RUNNING = {
    "id": 22311,
    "data": {
        "start_node_id": "SYnn-start",
        "end_node_id": "y5iI-end",
        "result_node_id": "y5iI-end",
        "node_settings": {"SYnn-start": {"data": {"text": "hi"}}},
        "node_id": None,
        "init_context": {},
    },
    "status": 2,
    "created": "2024-04-18T21:14:34.800001",
    "finished": None,
    "result": None,
    "execution_time": None,
    "execution_cost": None,
    "parent_id": None,
    "ref_id": "flow:1607;",
    "task_type": 4,
    "is_hide": False,
    "public_access_token": None,
    "file_result_link": None,
}
FINISHED = {"finished": "2024-04-18T21:14:36.120044", "execution_time": 1.32, "execution_cost": 0.25}


def record(status: int, result=None, **changes):
    return {**RUNNING, **(FINISHED if status >= 3 else {}), "status": status, "result": result, **changes}


def answer(body, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


class TestParseRun:
    def test_a_running_task_is_running_with_no_outputs_or_cost_yet(self):
        run = parse_run(RUNNING)
        assert (run.run_id, run.state, run.raw_status) == ("22311", RunState.RUNNING, 2)
        assert run.outputs is None and run.error_message is None
        assert run.usage == {"elapsed_time": None, "execution_cost": None, "execution_time": None}

    def test_a_queued_task_is_not_terminal(self):
        assert not parse_run(record(1)).state.is_terminal

    @pytest.mark.parametrize(
        "result",
        [
            {"result": "hi", "score": 3},
            {"output": {"result": "hi", "score": 3}},
            {"success": {"output": {"result": "hi", "score": 3}}},
        ],
        ids=["flat", "output", "success.output"],
    )
    def test_a_succeeded_task_yields_the_result_nodes_values_whatever_the_nesting(self, result):
        run = parse_run(record(3, result))
        assert run.state is RunState.SUCCEEDED
        assert run.outputs == {"result": "hi", "score": 3}
        assert run.to_result() == {
            "run_id": "22311",
            "status": "succeeded",
            "raw_status": 3,
            "outputs": {"result": "hi", "score": 3},
            "error": None,
            "elapsed_time": 1.32,
            "execution_cost": 0.25,
            "execution_time": 1.32,
        }

    def test_a_failed_task_carries_the_error_text(self):
        run = parse_run(record(4, {"error": "Node Zp9w-end failed: upstream timeout"}))
        assert run.state is RunState.FAILED and run.outputs is None
        assert run.error_message == "Node Zp9w-end failed: upstream timeout"

    @pytest.mark.parametrize(
        ("result", "text"),
        [({"error": {"message": "boom"}}, "boom"), ("boom", "boom"), (None, None), ({"error": ""}, None)],
    )
    def test_failed_task_error_shapes(self, result, text):
        assert parse_run(record(4, result)).error_message == text

    def test_a_cancelled_task_is_cancelled(self):
        run = parse_run(record(5))
        assert run.state is RunState.CANCELLED and run.state.is_terminal

    def test_an_unknown_integer_fails_the_run_naming_the_value(self):
        run = parse_run(record(7, {"result": "looks fine"}))
        assert run.state is RunState.FAILED and not run.state.is_successful
        assert run.raw_status == 7 and run.outputs is None
        assert "status 7" in run.error_message and "status_map={'7': 'succeeded'}" in run.error_message

    def test_an_override_maps_an_unknown_integer_and_keeps_the_defaults(self):
        api = ScadeAPI(status_map={"7": "succeeded"})
        run = api.status(RunRef("22311")).parse(answer(record(7, {"output": {"result": "hi"}})))
        assert (run.state, run.outputs) == (RunState.SUCCEEDED, {"result": "hi"})
        assert api.status_map == {**DEFAULT_STATUS_MAP, 7: RunState.SUCCEEDED}

    def test_an_override_can_change_a_default(self):
        api = ScadeAPI(status_map={4: "cancelled"})
        assert api.status(RunRef("1")).parse(answer(record(4))).state is RunState.CANCELLED

    @pytest.mark.parametrize(
        "payload",
        [
            [],
            "running",
            {"status": 2},
            {"id": 22311},
            {"id": 22311, "status": "3"},
            {"id": 22311, "status": 3.0},
            {"id": 22311, "status": True},
            {"id": "abc", "status": 2},
            {"id": True, "status": 2},
        ],
    )
    def test_malformed_records_are_typed_errors(self, payload):
        with pytest.raises(ResponseFormatError):
            parse_run(payload)

    def test_a_poll_answer_that_is_not_json_is_a_typed_error(self):
        with pytest.raises(ResponseFormatError, match="not JSON"):
            API.status(RunRef("22311")).parse(Response(200, b"<html>oops</html>"))


class TestUnwrapOutputs:
    @pytest.mark.parametrize(
        ("result", "outputs"),
        [
            ({"a": 1}, {"a": 1}),
            ({"output": {"a": 1}}, {"a": 1}),
            ({"success": {"output": {"a": 1}}}, {"a": 1}),
            ({"success": {"output": {"a": 1}, "meta": 2}}, {"a": 1}),
            # an output *named* "output" (or "success") that is not a wrapper stays as it is
            ({"output": "text"}, {"output": "text"}),
            ({"output": {"a": 1}, "other": 2}, {"output": {"a": 1}, "other": 2}),
            ({"success": True}, {"success": True}),
            ({"success": {"output": "text"}}, {"success": {"output": "text"}}),
            (None, {}),
            ("plain text", "plain text"),
            ([1, 2], [1, 2]),
        ],
    )
    def test_shapes(self, result, outputs):
        assert unwrap_outputs(result) == outputs


class TestStatusMap:
    def test_int_and_string_keys_and_state_names_are_accepted(self):
        assert normalize_status_map({"6": "SUCCEEDED", 8: "failed", "9": RunState.QUEUED}) == {
            6: RunState.SUCCEEDED,
            8: RunState.FAILED,
            9: RunState.QUEUED,
        }

    def test_the_json_form_has_string_keys_and_state_values(self):
        option = status_map_option({6: "Succeeded"})
        assert option == {"6": "succeeded"} and json.loads(json.dumps(option)) == option

    @pytest.mark.parametrize(
        ("status_map", "match"),
        [
            ({"six": "succeeded"}, "'six'"),
            ({6: "done"}, "'done'.*succeeded"),
            ({True: "failed"}, "True"),
            ([6], "dict"),
        ],
    )
    def test_wrong_entries_are_configuration_errors_naming_them(self, status_map, match):
        with pytest.raises(ConfigurationError, match=match):
            ScadeAPI(status_map=status_map)


class TestStart:
    SPEC = {"flow_id": 1607, "start_node_id": "SYnn-start", "end_node_id": "y5iI-end"}

    def test_inputs_become_the_start_nodes_data_and_the_result_node_defaults_to_the_end_node(self):
        call = API.start(**self.SPEC, inputs={"text": "hi"})
        assert (call.request.method, call.request.path, call.idempotent) == (
            "POST",
            "/scade/flow/1607/execute",
            False,
        )
        assert call.request.json == {
            "start_node_id": "SYnn-start",
            "end_node_id": "y5iI-end",
            "result_node_id": "y5iI-end",
            "node_settings": {"SYnn-start": {"data": {"text": "hi"}}},
        }

    def test_the_start_answer_gives_the_task_id_as_a_string(self):
        assert API.start(**self.SPEC, inputs={}).parse(answer(RUNNING)) == RunRef("22311")

    def test_node_settings_merge_with_inputs_and_inputs_win(self):
        settings = build_node_settings(
            "SYnn-start",
            {"text": "from inputs"},
            {
                "SYnn-start": {"data": {"text": "old", "lang": "en"}, "model": "x"},
                "llm": {"data": {"t": 0.2}},
            },
        )
        assert settings == {
            "SYnn-start": {"data": {"text": "from inputs", "lang": "en"}, "model": "x"},
            "llm": {"data": {"t": 0.2}},
        }

    def test_merging_does_not_change_the_callers_dicts(self):
        given = {"SYnn-start": {"data": {"lang": "en"}}}
        build_node_settings("SYnn-start", {"text": "x"}, given)
        assert given == {"SYnn-start": {"data": {"lang": "en"}}}

    @pytest.mark.parametrize(
        ("changes", "problem"),
        [
            ({"flow_id": ""}, "flow_id"),
            ({"flow_id": None}, "flow_id"),
            ({"flow_id": "https://api.scade.pro/flow/1607"}, "not a path"),
            ({"start_node_id": ""}, "start_node_id"),
            ({"end_node_id": None}, "end_node_id"),
            ({"result_node_id": 5}, "result_node_id"),
            ({"inputs": "{'text': 'hi'}"}, "render_template_as_native_obj"),
            ({"inputs": ["hi"]}, "inputs must be a dict"),
            ({"node_settings": ["x"]}, "node_settings must be a dict"),
            ({"node_settings": {"llm": "fast"}}, r"node_settings\['llm'\]"),
            ({"node_settings": {"SYnn-start": {"data": "hi"}}}, r"\['data'\] must be a dict"),
        ],
    )
    def test_bad_arguments_are_named_and_nothing_is_built(self, changes, problem):
        spec = {**self.SPEC, "inputs": {"text": "hi"}, **changes}
        assert any(re.search(problem, p) for p in start_problems(**spec))
        with pytest.raises(InputValidationError, match=problem):
            API.start(**spec)

    def test_every_problem_is_reported_at_once(self):
        assert len(start_problems(flow_id="", start_node_id="", end_node_id="", inputs=None)) == 4


class TestConnection:
    def test_the_key_is_sent_verbatim_as_basic_credentials(self):
        assert API.auth_headers("c2NhZGU6a2V5") == {"Authorization": "Basic c2NhZGU6a2V5"}

    def test_a_pasted_basic_prefix_and_whitespace_are_tolerated(self):
        assert API.auth_headers(" Basic c2NhZGU6a2V5\n") == {"Authorization": "Basic c2NhZGU6a2V5"}

    def test_a_login_password_pair_is_refused_without_echoing_it(self):
        with pytest.raises(ConfigurationError, match="login:password") as raised:
            API.auth_headers("me@example.com:hunter2")
        assert "hunter2" not in str(raised.value)

    def test_no_cancel_call_and_the_reason_says_so(self):
        assert API.cancel(RunRef("22311")) is None
        assert "no endpoint to stop" in API.why_no_cancel(RunRef("22311"))

    def test_the_probe_reads_a_task_and_runs_no_flow(self):
        probe = API.probe()
        assert (probe.request.method, probe.request.path) == ("GET", "/task/0")
        assert probe.parse(answer(RUNNING)) == "the key can read task 22311"

    @pytest.mark.parametrize(
        ("status", "code", "accepted"),
        [(404, None, True), (404, "not_json", False), (401, None, False), (400, None, False)],
    )
    def test_only_scades_own_404_proves_the_key(self, status, code, accepted):
        error = PermanentAPIError("x", platform="Scade", status_code=status, code=code)
        assert API.probe_accepts(error) is accepted


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "retry"), [(400, False), (401, False), (404, False), (429, True), (500, True), (503, True)]
    )
    def test_detail_bodies_and_which_are_retried(self, status, retry):
        response = answer({"detail": "Invalid token."}, status)
        assert API.error_detail(response) == (None, "Invalid token.")
        assert API.retry_verdict(response) is retry

    def test_a_non_json_error_page_gets_a_clear_message(self):
        page = Response(404, b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>")
        code, message = API.error_detail(page)
        assert code == "not_json"
        assert "not JSON" in message and "base URL" in message and "404 Not Found" in message
