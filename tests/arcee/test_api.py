"""Arcee Orchestra's API description against the payload shapes of the platform notes (no I/O)."""

from __future__ import annotations

import json

import pytest

from airflow_workflow_providers.arcee.api import (
    ArceeOrchestraAPI,
    describe_step,
    input_problems,
    parse_run,
    parse_steps,
    run_ref,
    started_run,
    step_summary,
)
from airflow_workflow_providers.core.errors import ConfigurationError, ResponseFormatError
from airflow_workflow_providers.core.model import Response, RunRef, RunState

API = ArceeOrchestraAPI()
WORKFLOW = "wf-1"
REF = run_ref(WORKFLOW, "run-1")

#: the documented run object
RUN = {
    "id": "run-1",
    "status": "completed",
    "start_time": "2026-01-05T09:00:00+00:00",
    "end_time": "2026-01-05T09:00:03+00:00",
    "elapsed_time": 3,
    "error": None,
    "outputs": "the answer",
    "all_outputs": {"input": {"q": "x"}, "agent": "the answer"},
    "inputs": {"q": "x"},
}


def answer(body, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def polled(body) -> object:
    return API.status(REF).parse(answer(body))


class TestParseRun:
    def test_the_documented_one_element_list_is_a_run(self):
        run = polled([RUN])
        assert (run.run_id, run.state, run.raw_status, run.outputs) == (
            "run-1",
            RunState.SUCCEEDED,
            "completed",
            "the answer",
        )
        assert run.to_result()["elapsed_time"] == 3

    def test_a_bare_object_is_accepted_too(self):
        assert polled(RUN) == polled([RUN])

    def test_an_empty_list_is_a_format_error_naming_the_run(self):
        with pytest.raises(ResponseFormatError, match="run run-1: the answer is an empty list"):
            polled([])

    def test_a_longer_list_yields_the_run_asked_for(self):
        other = {**RUN, "id": "run-0", "status": "failed"}
        assert polled([other, RUN]).state is RunState.SUCCEEDED
        with pytest.raises(ResponseFormatError, match="none with that id"):
            polled([other, {**other, "id": "run-2"}])

    @pytest.mark.parametrize(
        ("status", "state"),
        [
            ("completed", RunState.SUCCEEDED),
            ("failed", RunState.FAILED),
            ("error", RunState.FAILED),
            ("cancelled", RunState.CANCELLED),
            ("stopped", RunState.CANCELLED),
            ("pending", RunState.QUEUED),
            ("running", RunState.RUNNING),
            ("Completed", RunState.SUCCEEDED),
            ("succeeded", RunState.RUNNING),  # undocumented: keeps waiting rather than guessing
            ("brand-new", RunState.RUNNING),
        ],
    )
    def test_every_status(self, status, state):
        assert parse_run({**RUN, "status": status}).state is state

    @pytest.mark.parametrize("status", ["completed", "cancelled", "stopped"])
    def test_an_error_on_an_ended_run_is_a_failure(self, status):
        run = parse_run({**RUN, "status": status, "error": "Agent node failed"})
        assert (run.state, run.error_message, run.raw_status) == (
            RunState.FAILED,
            "Agent node failed",
            status,
        )

    def test_an_error_on_a_running_run_does_not_end_it(self):
        assert parse_run({**RUN, "status": "running", "error": "retrying a node"}).state is RunState.RUNNING

    @pytest.mark.parametrize("error", [None, "", "   "])
    def test_a_blank_error_is_no_error(self, error):
        run = parse_run({**RUN, "error": error})
        assert (run.state, run.error_message) == (RunState.SUCCEEDED, None)

    def test_a_structured_error_keeps_its_message(self):
        assert parse_run({**RUN, "status": "failed", "error": {"message": "boom"}}).error_message == "boom"
        assert parse_run({**RUN, "status": "failed", "error": ["a", 1]}).error_message == '["a", 1]'

    @pytest.mark.parametrize("outputs", ["text", {"answer": "x", "slept": 1}, None, ["a"]])
    def test_outputs_are_kept_as_they_come(self, outputs):
        assert parse_run({**RUN, "outputs": outputs}).outputs == outputs

    def test_the_requested_id_stands_in_for_a_missing_one(self):
        assert parse_run({"status": "running"}, "run-9").run_id == "run-9"

    @pytest.mark.parametrize(
        "payload",
        [{"status": "running"}, {"id": "r"}, {"id": "r", "status": 3}, "completed", [[RUN]], 7],
    )
    def test_malformed_payloads_are_typed_errors(self, payload):
        with pytest.raises(ResponseFormatError):
            parse_run(payload)

    def test_a_body_that_is_not_json_is_a_typed_error(self):
        with pytest.raises(ResponseFormatError, match="not JSON"):
            API.status(REF).parse(Response(200, b"<html>502</html>"))


class TestSteps:
    STEPS = [
        {
            "id": "s1",
            "node_id": "input",
            "status": "completed",
            "elapsed_time": 0.0,
            "error": None,
            "tokens": 0,
        },
        {"id": "s2", "node_id": "agent", "status": "failed", "elapsed_time": 1.25, "error": "model timeout"},
        {"id": "s3", "node_id": "output", "status": "pending", "elapsed_time": None, "error": None},
    ]

    def test_steps_parse_and_summarize(self):
        steps = API.steps(REF).parse(answer(self.STEPS))
        assert [step_summary(s) for s in steps] == [
            {"node": "input", "status": "completed", "seconds": 0.0, "error": None},
            {"node": "agent", "status": "failed", "seconds": 1.25, "error": "model timeout"},
            {"node": "output", "status": "pending", "seconds": None, "error": None},
        ]

    def test_log_lines_name_node_status_time_and_error(self):
        lines = [describe_step(step_summary(s)) for s in self.STEPS]
        assert lines == [
            "input: completed in 0.00 s",
            "agent: failed in 1.25 s -- error: model timeout",
            "output: pending",
        ]

    @pytest.mark.parametrize("payload", [{"steps": []}, [{"status": "completed"}], ["input"], None])
    def test_malformed_steps_are_typed_errors(self, payload):
        with pytest.raises(ResponseFormatError, match="steps of run run-1"):
            parse_steps(payload, "run-1")

    def test_a_non_numeric_elapsed_time_is_not_shown_as_seconds(self):
        assert (
            step_summary({"node_id": "a", "status": "completed", "elapsed_time": "soon"})["seconds"] is None
        )


class TestInputProblems:
    def test_a_flat_map_of_json_values_passes(self):
        assert input_problems({}) == []
        assert (
            input_problems(
                {"q": "x", "n": 2, "f": 0.5, "b": True, "none": None, "l": [1, "a"], "o": {"k": [1]}}
            )
            == []
        )

    def test_a_rendered_string_is_explained(self):
        assert "render_template_as_native_obj" in input_problems("{'q': 'x'}")[0]

    def test_other_containers_are_rejected(self):
        assert input_problems([("q", "x")]) == ["inputs must be a dict of input variables, got list"]

    def test_every_bad_entry_is_named(self):
        problems = input_problems(
            {"": 1, 3: "x", "when": object(), "nan": float("nan"), "deep": {"k": {1, 2}}}
        )
        assert len(problems) == 5
        assert "input 'when' must be a JSON value" in problems[2]
        assert "finite number" in problems[3] and "got set" in problems[4]


class TestRequests:
    def test_start_posts_the_inputs_as_the_body_and_is_not_retried_blindly(self):
        call = API.start(workflow_id=WORKFLOW, inputs={"q": "x"})
        assert (call.request.method, call.request.path, call.request.json) == (
            "POST",
            "/workflows/wf-1/execute",
            {"q": "x"},
        )
        assert not call.idempotent

    def test_the_start_answer_yields_a_reference_carrying_the_workflow_id(self):
        call = API.start(workflow_id=WORKFLOW, inputs={})
        ref = call.parse(answer({"message": "Workflow execution started", "run_id": "run-1"}))
        assert ref == RunRef("run-1", {"workflow_id": WORKFLOW})
        with pytest.raises(ResponseFormatError, match="run_id"):
            call.parse(answer({"message": "Workflow execution started"}))

    def test_paths_of_every_endpoint(self):
        assert API.status(REF).request.path == "/workflows/wf-1/runs/run-1"
        assert API.steps(REF).request.path == "/workflows/wf-1/runs/run-1/steps"
        assert API.diagram(WORKFLOW).request.path == "/workflows/wf-1/diagram"
        history = API.runs(WORKFLOW, limit=5, offset=10).request
        assert (history.path, history.query) == ("/workflows/wf-1/runs", {"limit": 5, "offset": 10})
        assert API.probe().request.path == API.workflows().request.path == "/workflows"

    def test_ids_are_escaped_into_paths(self):
        assert API.status(run_ref("a/b", "c d")).request.path == "/workflows/a%2Fb/runs/c%20d"

    def test_polling_without_the_workflow_id_is_a_configuration_error(self):
        with pytest.raises(ConfigurationError, match="workflow id"):
            API.status(RunRef("run-1"))
        with pytest.raises(ConfigurationError, match="workflow_id"):
            run_ref("", "run-1")

    def test_there_is_no_cancel_and_the_reason_is_given(self):
        assert API.cancel(REF) is None
        assert "no endpoint to stop a run" in API.why_no_cancel(REF)

    def test_diagram_workflows_and_probe_answers(self):
        assert API.diagram(WORKFLOW).parse(answer({"diagram": "graph TD"})) == "graph TD"
        listed = [{"workflow_id": "a", "status": "active"}, {"workflow_id": "b", "status": "inactive"}]
        assert API.workflows().parse(answer(listed)) == listed
        assert API.probe().parse(answer(listed)) == "2 workflows visible (1 active)"
        with pytest.raises(ResponseFormatError):
            API.workflows().parse(answer({"workflows": listed}))


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "retry"), [(400, False), (401, False), (404, False), (500, True), (429, True)]
    )
    def test_detail_bodies_and_verdicts(self, status, retry):
        response = answer({"detail": "Workflow not found"}, status)
        assert API.error_detail(response) == (None, "Workflow not found")
        assert API.retry_verdict(response) is retry


class TestStartedRun:
    """Finding the run of a start whose answer was lost, from the run history."""

    SINCE = 1_800_000_000.0  # 2027-01-15T08:00:00Z

    def runs(self, *entries):
        return [{"id": run_id, "inputs": inputs, "start_time": start} for run_id, inputs, start in entries]

    def test_the_one_run_with_these_inputs_since_the_start(self):
        runs = self.runs(
            ("new", {"q": 1}, "2027-01-15T08:00:05+00:00"), ("old", {"q": 1}, "2027-01-15T07:00:00Z")
        )
        assert started_run(runs, "wf", {"q": 1}, self.SINCE) == [RunRef("new", {"workflow_id": "wf"})]

    def test_a_pending_run_has_no_start_time_yet_and_counts(self):
        assert [
            ref.run_id for ref in started_run(self.runs(("p", {"q": 1}, None)), "wf", {"q": 1}, self.SINCE)
        ] == ["p"]

    @pytest.mark.parametrize(
        "entries",
        [
            [("a", {"q": 2}, None)],  # other inputs
            [("a", {"q": 1}, "2027-01-15T07:59:00Z")],  # before the start
            [("a", {"q": 1}, "yesterday")],  # unreadable start
        ],
    )
    def test_no_candidate(self, entries):
        assert started_run(self.runs(*entries), "wf", {"q": 1}, self.SINCE) == []

    def test_two_candidates_are_both_listed_so_the_engine_refuses_to_guess(self):
        runs = self.runs(("a", {"q": 1}, None), ("b", {"q": 1}, "2027-01-15T08:00:01Z"))
        assert len(started_run(runs, "wf", {"q": 1}, self.SINCE)) == 2
