"""ScadeHook over real HTTP against the Scade emulator."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_workflow_providers.core.errors import (
    InputValidationError,
    PermanentAPIError,
    PlatformAPIError,
    RunFailed,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import RunState
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.scade.hooks import ScadeHook

QUICK = RetryPolicy(attempts=4, initial_delay=0.05, max_delay=0.2)
ECHO = {"flow_id": "1607", "start_node_id": "SYnn-start", "end_node_id": "y5iI-end"}
SLOW = {"flow_id": "1608", "start_node_id": "Qk3a-start", "end_node_id": "Zp9w-end"}


def hook(conn_id: str = "scade_default", **kwargs) -> ScadeHook:
    return ScadeHook(conn_id, retry_policy=QUICK, **kwargs)


def wait(h: ScadeHook, ref):
    return h.wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.1)


@pytest.fixture
def bad_key(scade, monkeypatch) -> str:
    value = {"conn_type": "scade", "host": scade.base_url, "password": "U0VDUkVUOmtleQ=="}
    monkeypatch.setenv("AIRFLOW_CONN_SCADE_BAD", json.dumps(value))
    return "scade_bad"


def test_a_flow_starts_is_polled_and_completes_with_outputs_and_cost(scade):
    h = hook()
    ref = h.start_run(**ECHO, inputs={"text": "hi"})
    assert ref.run_id == "22311"
    run = wait(h, ref)
    assert (run.state, run.raw_status, run.outputs) == (RunState.SUCCEEDED, 3, {"result": "hi"})
    assert run.usage["execution_cost"] == 0.25 and run.usage["execution_time"] >= 0
    assert scade.control.runs()["22311"]["inputs"] == {"text": "hi"}


def test_the_start_request_carries_inputs_as_the_start_nodes_data(scade):
    hook().start_run(**ECHO, inputs={"text": "hi"}, node_settings={"SYnn-start": {"data": {"lang": "en"}}})
    start = next(r for r in scade.control.state()["requests"] if r["method"] == "POST")
    assert start["path"] == "/scade/flow/1607/execute"
    assert start["json"] == {
        "start_node_id": "SYnn-start",
        "end_node_id": "y5iI-end",
        "result_node_id": "y5iI-end",
        "node_settings": {"SYnn-start": {"data": {"lang": "en", "text": "hi"}}},
    }


def test_the_key_is_sent_verbatim_as_basic_auth(scade):
    # The emulator accepts exactly "Basic <key>"; encoding the key again would be refused with 401.
    hook().get_task(hook().start_run(**ECHO, inputs={"text": "hi"}).run_id)
    assert {r["auth_valid"] for r in scade.control.state()["requests"]} == {True}


@pytest.mark.parametrize("shape", ["output", "success.output"])
def test_nested_results_are_unwrapped_over_http(scade, shape):
    scade.control.add_app(id="1607", options={"result_shape": shape})
    h = hook()
    ref = h.start_run(**ECHO, inputs={"text": "nested"})
    assert wait(h, ref).outputs == {"result": "nested"}
    assert h.get_task(ref.run_id)["result"] != {"result": "nested"}  # it really was nested


def test_a_failed_flow_reports_its_error(scade):
    h = hook()
    ref = h.start_run(**SLOW, inputs={"text": "x", "delay": -1})
    with pytest.raises(
        RunFailed, match=r"Scade run 22311 failed: Node Zp9w-end failed: upstream timeout \(status=4\)"
    ):
        wait(h, ref)


def test_an_unknown_terminal_status_fails_naming_it_and_does_not_poll_on(scade):
    scade.control.add_app(id="1607", options={"terminal_status": 7})
    h = hook()
    ref = h.start_run(**ECHO, inputs={"text": "hi"})
    started = time.monotonic()
    with pytest.raises(RunFailed, match=r"status 7.*\(status=7\)"):
        wait(h, ref)
    assert time.monotonic() - started < 5


def test_a_status_map_makes_the_unknown_status_a_success(scade):
    scade.control.add_app(id="1607", options={"terminal_status": 7})
    h = hook(status_map={7: "succeeded"})
    assert h.api_options == {"status_map": {"7": "succeeded"}}
    run = wait(h, h.start_run(**ECHO, inputs={"text": "hi"}))
    assert (run.state, run.raw_status, run.outputs) == (RunState.SUCCEEDED, 7, {"result": "hi"})


def test_get_task_returns_the_raw_record(scade):
    h = hook()
    ref = h.start_run(**ECHO, inputs={"text": "hi"})
    task = h.get_task(ref.run_id)
    assert task["id"] == 22311 and task["ref_id"] == "flow:1607;"


def test_cancel_is_impossible_and_says_the_flow_keeps_running(scade, capsys):
    h = hook()
    ref = h.start_run(**SLOW, inputs={"text": "x", "delay": 30})
    assert h.cancel_run(ref) is False
    logged = "".join(capsys.readouterr())  # Airflow's structlog writes task and hook logs to the console
    assert (
        "Cannot stop run 22311 (Scade has no endpoint to stop a flow run): it keeps running remotely"
        in logged
    )
    assert asyncio.run(h.acancel_run(ref)) is False
    assert not h.get_run(ref).state.is_terminal


def test_test_connection_runs_no_flow(scade):
    ok, message = hook().test_connection()
    assert ok and "key was accepted" in message and "no flow was run" in message
    assert scade.control.runs() == {} and scade.control.count("starts") == 0


def test_a_bad_key_fails_fast_and_never_shows_the_key(scade, bad_key):
    with pytest.raises(PermanentAPIError, match="Invalid token") as raised:
        hook(bad_key).start_run(**ECHO, inputs={"text": "hi"})
    assert raised.value.status_code == 401 and "U0VDUkVUOmtleQ" not in str(raised.value)
    assert scade.control.count("starts") == 1
    ok, message = hook(bad_key).test_connection()
    assert not ok and "401" in message and "U0VDUkVUOmtleQ" not in message


def test_test_connection_fails_when_the_base_url_answers_a_non_json_404(scade):
    scade.control.inject("html", r"/task/0", method="GET", status=404)
    ok, message = hook().test_connection()
    assert not ok and "not JSON" in message and "base URL" in message


def test_an_unknown_flow_is_a_permanent_error_and_starts_nothing(scade):
    with pytest.raises(PermanentAPIError, match="HTTP 404: Flow not found") as raised:
        hook().start_run(**{**ECHO, "flow_id": "9999"}, inputs={"text": "hi"})
    assert raised.value.status_code == 404
    assert scade.control.runs() == {} and scade.control.count("starts") == 1


def test_an_unknown_task_is_a_permanent_error_naming_it(scade):
    with pytest.raises(PermanentAPIError, match="run 424242.*Not found"):
        hook().get_run("424242")


def test_node_ids_of_another_flow_are_a_permanent_400(scade):
    with pytest.raises(PermanentAPIError, match="HTTP 400: Node 'Qk3a-start'") as raised:
        hook().start_run(**{**ECHO, "start_node_id": "Qk3a-start"}, inputs={"text": "hi"})
    assert raised.value.status_code == 400 and scade.control.count("starts") == 1


def test_a_non_json_error_page_gives_a_clear_error(scade):
    scade.control.inject("html", r"/task/\d+", method="GET", status=404)
    with pytest.raises(PermanentAPIError, match="not JSON.*base URL.*404 Not Found"):
        hook().get_run("22311")


def test_bad_arguments_are_rejected_before_any_request(scade):
    with pytest.raises(InputValidationError, match="inputs must be a dict"):
        hook().start_run(**ECHO, inputs="text=hi")
    assert scade.control.state()["requests"] == []


def test_transient_poll_faults_are_retried(scade):
    h = hook()
    ref = h.start_run(**ECHO, inputs={"text": "hi"})
    scade.control.inject("status", r"/task/\d+", method="GET", status=503)
    scade.control.inject("malformed", r"/task/\d+", method="GET")
    scade.control.inject("html", r"/task/\d+", method="GET", status=502)
    assert h.get_run(ref).run_id == "22311"
    assert scade.control.count("polls") == 4


def test_retries_run_out_with_a_clear_error(scade):
    scade.control.inject("status", r"/task/\d+", method="GET", times=10, status=503)
    with pytest.raises(PlatformAPIError, match="gave up after 4 attempts"):
        hook().get_run("22311")


def test_a_start_refused_with_503_is_retried_and_runs_once(scade):
    scade.control.inject("status", r"/scade/flow/.*", method="POST", status=503)
    hook().start_run(**ECHO, inputs={"text": "hi"})
    assert (scade.control.count("starts"), len(scade.control.runs())) == (2, 1)


def test_a_start_whose_answer_is_lost_is_not_repeated(scade):
    scade.control.inject("drop", r"/scade/flow/.*", method="POST")
    with pytest.raises(StartNotConfirmedError, match="no second run"):
        hook().start_run(**ECHO, inputs={"text": "hi"})
    assert (scade.control.count("starts"), len(scade.control.runs())) == (1, 1)


def test_async_polls_see_the_same_run(scade):
    h = hook()
    ref = h.start_run(**ECHO, inputs={"text": "hi"})
    time.sleep(0.5)
    run = asyncio.run(h.aget_run(ref))
    assert (run.run_id, run.state, run.outputs) == ("22311", RunState.SUCCEEDED, {"result": "hi"})
