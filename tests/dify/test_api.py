"""Dify's API description against the recorded responses of a real Dify 1.14.1 server."""

from __future__ import annotations

import json

import pytest

from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    ResponseFormatError,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import Response, RunRef, RunState
from airflow_workflow_providers.dify.api import DifyAPI, StreamedStart, input_problems, parse_run
from tests.recorded import find, streamed_starts

API = DifyAPI()


def response(exchange) -> Response:
    return Response(exchange.status, json.dumps(exchange.body).encode(), {"Content-Type": "application/json"})


class TestParseRun:
    def test_recorded_run_details_map_to_normalized_runs(self):
        run = API.status(RunRef("04b5f71c-871b-495e-ab1e-c53d4e5ef266")).parse(
            response(find("GET /workflows/run/04b5f71c", 200)[0])
        )
        assert run.state is RunState.SUCCEEDED
        assert run.outputs == {"result": "hello airflow", "attachment": None}
        assert run.usage == {"total_tokens": 0, "elapsed_time": 0.274254, "total_steps": 2}
        assert run.to_result()["status"] == "succeeded"

    def test_a_stopped_run_still_polls_as_running(self):
        # The upstream bug the provider designs around: the poll endpoint never says "stopped".
        run = parse_run(find("(the stopped run)")[0].body)
        assert run.state is RunState.RUNNING and not run.state.is_terminal

    def test_blocking_failure_carries_the_error_text(self):
        run = parse_run(find("node failure: slow server")[0].body["data"])
        assert run.state is RunState.FAILED
        assert run.error_message == "Server disconnected without sending a response."

    def test_stream_events_of_finished_runs(self):
        finished = {}
        for exchange in [e for e in find("POST /workflows/run") if e.sse]:
            for line in exchange.sse.decode().splitlines():
                if '"workflow_finished"' in line:
                    data = json.loads(line.removeprefix("data: "))["data"]
                    finished[data["status"]] = parse_run(data)
        assert finished["succeeded"].state is RunState.SUCCEEDED
        assert finished["stopped"].state is RunState.CANCELLED
        assert finished["stopped"].error_message == "Stopped by user."
        assert finished["failed"].state is RunState.FAILED

    @pytest.mark.parametrize(
        ("status", "state"),
        [
            ("partial-succeeded", RunState.SUCCEEDED),
            ("paused", RunState.PAUSED),
            ("brand-new", RunState.RUNNING),
        ],
    )
    def test_other_statuses(self, status, state):
        run = parse_run({"id": "r", "status": status, "outputs": {}, "error": None})
        assert run.state is state
        assert (run.warning is not None) == (status == "partial-succeeded")

    def test_an_unknown_status_never_passes_as_success(self):
        assert not parse_run({"id": "r", "status": "SUCCEEDED!"}).state.is_terminal

    @pytest.mark.parametrize(
        "payload",
        [
            [],
            {"status": "running"},
            {"id": "r"},
            {"id": "r", "status": 3},
            {"id": "r", "status": "running", "outputs": []},
        ],
    )
    def test_malformed_payloads_are_typed_errors(self, payload):
        with pytest.raises(ResponseFormatError):
            parse_run(payload)

    def test_a_body_that_is_not_json_is_a_typed_error(self):
        with pytest.raises(ResponseFormatError, match="not JSON"):
            API.status(RunRef("r")).parse(Response(200, b"<html>502</html>"))


class TestStreamedStart:
    @pytest.fixture(params=streamed_starts())
    def stream(self, request):
        return request.param

    def expected(self, sse: bytes) -> RunRef:
        first = json.loads(next(line for line in sse.decode().splitlines() if line.startswith("data: "))[6:])
        app_id = first["data"]["inputs"]["sys.app_id"]
        return RunRef(first["workflow_run_id"], {"task_id": first["task_id"], "user": "u", "app_id": app_id})

    def test_reads_task_and_run_ids_from_the_first_data_event(self, stream):
        assert StreamedStart("u").feed(stream) == self.expected(stream)

    def test_copes_with_any_chunk_boundaries(self, stream):
        reader, ref = StreamedStart("u"), None
        for i in range(len(stream)):
            ref = ref or reader.feed(stream[i : i + 1])
        assert ref == self.expected(stream)

    def test_a_ping_alone_is_not_enough(self):
        assert StreamedStart("u").feed(b"event: ping\n\n") is None

    def test_silence_after_the_ping_is_reported_as_unconfirmed_start(self):
        reader = StreamedStart("u")
        reader.feed(b"event: ping\n\n")
        with pytest.raises(StartNotConfirmedError, match="inputs"):
            reader.end(timed_out=True)

    def test_an_error_event_is_permanent(self):
        event = b'data: {"event": "error", "status": 400, "code": "invalid_param", "message": "bad"}\n\n'
        with pytest.raises(PermanentAPIError, match="invalid_param: bad"):
            StreamedStart("u").feed(event)


class TestErrors:
    @pytest.mark.parametrize(
        ("title", "status", "code", "retry"),
        [
            ("(unknown id)", 404, "not_found", False),
            ("(malformed id)", 500, "unknown", True),
            ("(bad API key)", 401, "unauthorized", False),
            ("(missing required input)", 400, "invalid_param", False),
        ],
    )
    def test_recorded_error_bodies(self, title, status, code, retry):
        answer = response(find(title, status)[0])
        assert API.error_detail(answer)[0] == code
        assert API.retry_verdict(answer) is retry

    def test_plan_quota_429_is_permanent_but_concurrency_429_honours_retry_after(self):
        quota = Response(429, b'{"code": "rate_limit_error", "message": "quota", "status": 429}')
        busy = Response(
            429, b'{"code": "too_many_requests", "message": "busy", "status": 429}', {"Retry-After": "2"}
        )
        assert API.retry_verdict(quota) is False
        assert API.retry_verdict(busy) == 2.0


class TestInputProblems:
    @pytest.fixture
    def echo_form(self):
        return find("GET /parameters (echo app)")[0].body["user_input_form"]

    @pytest.fixture
    def slow_form(self):
        return find("GET /parameters (slow app)")[0].body["user_input_form"]

    def test_valid_inputs_pass(self, echo_form, slow_form):
        assert input_problems(echo_form, {"query": "hello"}) == []
        assert input_problems(slow_form, {"query": "x", "delay": 3}) == []

    def test_the_recorded_rejections_are_caught_before_submitting(self, echo_form, slow_form):
        assert input_problems(echo_form, {}) == ["missing required input 'query'"]
        assert "at most 256" in input_problems(echo_form, {"query": "x" * 257})[0]
        assert "must be a number" in input_problems(slow_form, {"query": "x", "delay": "abc"})[0]

    def test_unknown_names_are_named(self, echo_form):
        assert "unknown input 'qeury'" in input_problems(echo_form, {"query": "x", "qeury": "y"})[0]

    def test_a_number_default_fills_an_omitted_required_input(self):
        form = [{"number": {"variable": "n", "required": True, "default": 8}}]
        assert input_problems(form, {}) == []

    def test_select_options_and_file_shapes(self):
        form = [{"select": {"variable": "s", "options": ["a", "b"]}}, {"file": {"variable": "f"}}]
        problems = input_problems(form, {"s": "c", "f": "http://x"})
        assert len(problems) == 2 and "one of ['a', 'b']" in problems[0]


def test_start_asks_for_a_stream_and_pins_a_workflow_version():
    call = API.start(inputs={"q": 1}, user="u", workflow_id="wf")
    assert (call.request.method, call.request.path, call.request.stream) == (
        "POST",
        "/workflows/wf/run",
        True,
    )
    assert call.request.json == {"inputs": {"q": 1}, "user": "u", "response_mode": "streaming"}
    assert not call.idempotent


def test_stop_needs_the_task_id_and_user_of_the_start():
    assert API.cancel(RunRef("run")) is None
    call = API.cancel(RunRef("run", {"task_id": "t", "user": "u"}))
    assert (call.request.path, call.request.json) == ("/workflows/tasks/t/stop", {"user": "u"})


def test_run_logs_filter_only_on_documented_statuses():
    assert API.logs(status="failed", user="u").request.query == {
        "page": 1,
        "limit": 20,
        "status": "failed",
        "created_by_end_user_session_id": "u",
    }
    with pytest.raises(ValueError, match="not 'running'"):
        API.logs(status="running")


def test_finding_a_lost_start_lists_the_runs_created_since_then():
    logs = {
        "data": [
            {"workflow_run": {"id": "new", "created_at": 200}},
            {"workflow_run": {"id": "old", "created_at": 100}},
        ]
    }
    call = API.find_run(since=150, user="u", inputs={})
    assert call.request.query["created_by_end_user_session_id"] == "u"
    assert call.parse(Response(200, json.dumps(logs).encode())) == [RunRef("new", {"user": "u"})]
    assert call.parse(Response(200, json.dumps({"data": logs["data"][1:]}).encode())) == []
    with pytest.raises(ResponseFormatError):
        call.parse(Response(200, b'{"data": {}}'))


@pytest.mark.parametrize(
    ("recorded", "same"),
    [
        ({"query": "q", "delay": 3, "sys.user_id": "u"}, True),  # Dify adds its sys.* keys
        ({"query": "q", "delay": 3.0}, True),  # a number input comes back as a number
        ({"query": "other", "delay": 3}, False),  # another task's run of the same end user
        ({"query": "q"}, False),
    ],
)
def test_a_candidate_is_the_lost_start_only_with_the_same_inputs(recorded, same):
    call = API.started_by(RunRef("r/1"), inputs={"query": "q", "delay": "3"}, user="u")
    assert call.request.path == "/workflows/run/r%2F1"
    assert call.parse(Response(200, json.dumps({"id": "r", "inputs": json.dumps(recorded)}).encode())) is same


def test_ids_are_quoted_into_one_path_segment():
    """A templated id holding ``/`` or ``?`` cannot address another resource (issue 13, item 11)."""
    assert API.status(RunRef("../apps?x=1")).request.path == "/workflows/run/..%2Fapps%3Fx%3D1"
    assert (
        API.cancel(RunRef("r", {"task_id": "t/stop?", "user": "u"})).request.path
        == "/workflows/tasks/t%2Fstop%3F/stop"
    )
    assert API.start(inputs={}, user="u", workflow_id="w/x").request.path == "/workflows/w%2Fx/run"


@pytest.mark.parametrize(
    ("base_url", "page"),
    [
        ("https://api.dify.ai/v1", "https://cloud.dify.ai/app/a1/logs"),
        ("http://dify.internal:5001/v1", "http://dify.internal:5001/app/a1/logs"),
    ],
)
def test_the_remote_run_link_is_the_apps_log_page_in_the_console(base_url, page):
    assert API.run_url(base_url, RunRef("r", {"app_id": "a1"})) == page
    assert API.run_url(base_url, RunRef("r")) is None
