"""Flowy's API description against the payload shapes of its public documentation (no I/O)."""

from __future__ import annotations

import json

import pytest

from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import Response, RunRef, RunState
from airflow_workflow_providers.core.pacing import RateBudget
from airflow_workflow_providers.flowy.api import (
    FlowyAPI,
    input_problems,
    media_outputs,
    parse_run,
    rate_budget,
)

API = FlowyAPI()
RUN_ID = "6650c0ffee0000000000abcd"

COMPLETED = {
    "runId": RUN_ID,
    "appId": "65f1a2b3c4d5e6f708090a01",
    "appTitle": "Echo Studio",
    "status": "completed",
    "outputs": [
        {"nodeId": "caption", "kind": "text", "url": None, "text": "a cat"},
        {
            "nodeId": "image",
            "kind": "image",
            "url": "https://cdn.example/a.png?expires=1&sig=s",
            "text": None,
        },
    ],
    "error": None,
    "createdAt": "2026-01-02T03:04:05.000Z",
    "updatedAt": "2026-01-02T03:04:09.000Z",
}

APP = {
    "id": "65f1a2b3c4d5e6f708090a01",
    "title": "Echo Studio",
    "inputs": [
        {"nodeId": "prompt", "label": "Prompt", "kind": "text", "required": True},
        {"nodeId": "reference", "label": "Reference image", "kind": "image_url", "required": False},
        {"nodeId": "voice", "label": "Voice", "kind": "audio_url", "required": True},
    ],
    "outputs": [{"nodeId": "caption", "label": "Caption", "outputType": "text"}],
}


def answer(status: int, body, **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, raw, {"Content-Type": "application/json", **headers})


class TestStart:
    def test_start_posts_the_inputs_to_the_app_and_is_not_retried_blindly(self):
        call = API.start(app_id="abc", inputs={"prompt": "hi"})
        assert (call.request.method, call.request.path) == ("POST", "/apps/abc/runs")
        assert call.request.json == {"inputs": {"prompt": "hi"}}
        assert not call.idempotent

    def test_a_202_envelope_yields_the_run_id(self):
        ref = API.start(app_id="abc", inputs={}).parse(
            answer(202, {"data": {"runId": RUN_ID, "status": "queued"}})
        )
        assert ref == RunRef(RUN_ID)

    @pytest.mark.parametrize(
        "body", [{"runId": RUN_ID}, {"data": {"status": "queued"}}, {"data": []}, [], b"<html>"]
    )
    def test_a_malformed_start_answer_is_a_typed_error(self, body):
        with pytest.raises(ResponseFormatError):
            API.start(app_id="abc", inputs={}).parse(answer(202, body))


class TestParseRun:
    def test_a_completed_run_carries_its_outputs_by_node_id_and_its_app(self):
        run = API.status(RunRef(RUN_ID)).parse(answer(200, {"data": COMPLETED}))
        assert (run.state, run.raw_status, run.error_message) == (RunState.SUCCEEDED, "completed", None)
        assert run.outputs == {
            "caption": {"nodeId": "caption", "kind": "text", "url": None, "text": "a cat"},
            "image": {
                "nodeId": "image",
                "kind": "image",
                "url": COMPLETED["outputs"][1]["url"],
                "text": None,
            },
        }
        result = run.to_result()
        assert result["status"] == "succeeded" and result["app_title"] == "Echo Studio"
        assert result["updated_at"] == "2026-01-02T03:04:09.000Z"

    @pytest.mark.parametrize(
        ("status", "state"),
        [
            ("queued", RunState.QUEUED),
            ("running", RunState.RUNNING),
            ("completed", RunState.SUCCEEDED),
            ("failed", RunState.FAILED),
        ],
    )
    def test_every_documented_status(self, status, state):
        assert parse_run({"runId": RUN_ID, "status": status, "outputs": []}).state is state

    @pytest.mark.parametrize("status", ["succeeded", "COMPLETED", "cancelled", "archived"])
    def test_an_unknown_status_keeps_polling_and_never_passes_as_success(self, status):
        run = parse_run({"runId": RUN_ID, "status": status})
        assert run.state is RunState.RUNNING and not run.state.is_terminal and run.raw_status == status

    def test_a_failed_run_carries_its_error_text(self):
        run = parse_run(
            {"runId": RUN_ID, "status": "failed", "outputs": [], "error": "render failed: GPU worker lost"}
        )
        assert (run.state, run.error_message) == (RunState.FAILED, "render failed: GPU worker lost")

    def test_an_error_object_is_read_for_its_message(self):
        run = parse_run({"runId": RUN_ID, "status": "failed", "error": {"message": "out of memory"}})
        assert run.error_message == "out of memory"

    def test_missing_outputs_are_empty(self):
        assert parse_run({"runId": RUN_ID, "status": "running"}).outputs == {}

    @pytest.mark.parametrize(
        "payload",
        [
            [],
            {"status": "running"},
            {"runId": RUN_ID},
            {"runId": RUN_ID, "status": 2},
            {"runId": RUN_ID, "status": "completed", "outputs": {"caption": "x"}},
            {"runId": RUN_ID, "status": "completed", "outputs": [{"kind": "text"}]},
            {"runId": RUN_ID, "status": "completed", "outputs": ["x"]},
            {"runId": RUN_ID, "status": "completed", "outputs": [{"nodeId": "a"}, {"nodeId": "a"}]},
        ],
    )
    def test_malformed_runs_are_typed_errors(self, payload):
        with pytest.raises(ResponseFormatError):
            parse_run(payload)

    @pytest.mark.parametrize(
        "body", [b"<html>502</html>", {"runId": RUN_ID, "status": "running"}, {"error": "oops"}]
    )
    def test_a_body_outside_the_data_envelope_is_a_typed_error(self, body):
        with pytest.raises(ResponseFormatError):
            API.status(RunRef(RUN_ID)).parse(answer(200, body))


class TestMediaOutputs:
    def test_outputs_with_a_url_are_media_and_text_passes_through(self):
        run = parse_run(COMPLETED)
        assert list(media_outputs(run)) == ["image"]

    def test_a_media_output_without_a_url_is_reported(self):
        run = parse_run(
            {"runId": RUN_ID, "status": "completed", "outputs": [{"nodeId": "clip", "kind": "video"}]}
        )
        with pytest.raises(ResponseFormatError, match="output 'clip' \\(video\\) has no URL"):
            media_outputs(run)


class TestErrors:
    def test_the_error_envelope_gives_the_message(self):
        assert API.error_detail(answer(404, {"error": "app not found"})) == (None, "app not found")

    def test_an_html_error_page_is_excerpted(self):
        assert "Bad Gateway" in API.error_detail(answer(502, b"<html><h1>502 Bad Gateway</h1></html>"))[1]

    def test_402_is_permanent_and_says_what_to_do(self):
        refused = answer(402, {"error": "insufficient credits"})
        assert API.retry_verdict(refused) is False
        message = API.error_detail(refused)[1]
        assert message.startswith("insufficient credits")
        assert "out of credits or has reached its spend cap" in message and "not retried" in message

    @pytest.mark.parametrize("status", [400, 401, 403, 404])
    def test_other_client_errors_are_permanent(self, status):
        assert API.retry_verdict(answer(status, {"error": "no"})) is False

    def test_429_honours_retry_after(self):
        assert (
            API.retry_verdict(answer(429, {"error": "too many concurrent runs"}, **{"Retry-After": "7"}))
            == 7.0
        )

    def test_429_without_retry_after_waits_for_the_window_reset(self):
        verdict = API.retry_verdict(
            answer(429, {"error": "slow down"}, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"})
        )
        assert verdict == 3.0

    def test_429_without_any_hint_backs_off(self):
        assert API.retry_verdict(answer(429, {"error": "slow down"})) is True

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_retried(self, status):
        assert API.retry_verdict(answer(status, b"")) is True


class TestRateBudget:
    NOW = 1_800_000_000.0

    def limit(self, remaining: str, reset: str) -> Response:
        return answer(
            200,
            {"data": []},
            **{"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset},
        )

    def test_the_headers_give_what_is_left_and_when_it_refills(self):
        assert rate_budget(self.limit("7", str(int(self.NOW) + 12)), self.NOW) == RateBudget(7, self.NOW + 12)

    def test_a_reset_given_as_seconds_until_is_tolerated(self):
        assert rate_budget(self.limit("0", "9"), self.NOW) == RateBudget(0, self.NOW + 9)

    @pytest.mark.parametrize(
        ("remaining", "reset"), [("", ""), ("0", ""), ("", "100"), ("zero", "100"), ("0", "soon")]
    )
    def test_missing_or_unreadable_headers_mean_no_known_budget(self, remaining, reset):
        headers = {k: v for k, v in (("X-RateLimit-Remaining", remaining), ("X-RateLimit-Reset", reset)) if v}
        assert rate_budget(answer(200, {"data": []}, **headers), self.NOW) is None

    def test_a_429_with_a_spent_budget_waits_for_the_reset(self):
        reset = answer(
            429, {"error": "rate limit exceeded"}, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}
        )
        assert 19 < API.retry_verdict(reset) <= 20


class TestInputProblems:
    def test_valid_inputs_pass(self):
        assert input_problems(APP, {"prompt": "a cat", "voice": "https://cdn.example/v.mp3"}) == []

    def test_every_problem_is_named_at_once(self):
        problems = input_problems(APP, {"promt": "typo", "reference": "cat.png", "voice": "ftp://host/v.mp3"})
        assert problems == [
            "unknown input 'promt' (the app's inputs: ['prompt', 'reference', 'voice'])",
            "missing required input 'prompt' (Prompt)",
            "input 'reference' (image_url) must be an http(s) URL, got 'cat.png'",
            "input 'voice' (audio_url) must be an http(s) URL, got 'ftp://host/v.mp3'",
        ]

    def test_an_empty_string_does_not_fill_a_required_input(self):
        assert input_problems(APP, {"prompt": "", "voice": "http://x/v.mp3"}) == [
            "missing required input 'prompt' (Prompt)"
        ]

    def test_values_must_be_strings(self):
        problems = input_problems(APP, {"prompt": 3, "voice": "http://x/v.mp3"})
        assert problems == ["input 'prompt' (text) must be a string, got int 3"]

    @pytest.mark.parametrize("url", ["https://", "http:/x.png", "//cdn/x.png", "file:///tmp/x.png"])
    def test_media_urls_need_an_http_scheme_and_a_host(self, url):
        assert len(input_problems(APP, {"prompt": "p", "voice": "http://x/v", "reference": url})) == 1

    def test_inputs_that_are_not_a_mapping_are_a_problem(self):
        assert input_problems(APP, ["prompt"]) == ["inputs must be a mapping of node id to value, got list"]

    @pytest.mark.parametrize(
        "app", [{"id": "x"}, {"id": "x", "inputs": {}}, {"id": "x", "inputs": [{"kind": "text"}]}]
    )
    def test_an_app_without_readable_inputs_is_a_typed_error(self, app):
        with pytest.raises(ResponseFormatError):
            input_problems(app, {})


def test_there_is_no_cancel_and_the_reason_is_given():
    assert API.cancel(RunRef(RUN_ID)) is None
    assert "no endpoint to stop a run" in API.why_no_cancel(RunRef(RUN_ID))


def test_the_probe_lists_apps_and_describes_them():
    call = API.probe()
    assert (call.request.method, call.request.path) == ("GET", "/apps")
    assert call.parse(answer(200, {"data": [{"id": "a", "title": "Echo"}]})) == "1 app visible ('Echo')"
    assert call.parse(answer(200, {"data": []})) == "no apps visible"
