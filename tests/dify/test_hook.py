"""DifyHook over real HTTP against the Dify emulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_workflow_providers.core.errors import (
    InputValidationError,
    PermanentAPIError,
    PlatformAPIError,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import RunState
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.dify.hooks import DifyHook

QUICK = RetryPolicy(attempts=4, initial_delay=0.05, max_delay=0.2)


def hook(conn_id: str = "dify_default") -> DifyHook:
    return DifyHook(conn_id, retry_policy=QUICK)


def test_start_returns_run_and_task_ids_and_the_run_completes(dify):
    ref = hook().start_run(inputs={"query": "hi"}, user="tester")
    assert ref.extras["task_id"] and ref.extras["user"] == "tester"
    run = hook().wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.1)
    assert (run.state, run.outputs["result"]) == (RunState.SUCCEEDED, "hi")
    assert len(dify.control.runs()) == 1


def test_stop_uses_the_task_id_and_the_run_then_still_polls_running(dify):
    slow = hook("dify_slow")
    ref = slow.start_run(inputs={"query": "x", "delay": 30}, user="tester")
    assert slow.cancel_run(ref) is True
    assert dify.control.count("stops") == 1
    assert slow.get_run(ref).state is RunState.RUNNING  # Dify's upstream bug, reproduced


def test_parameters_info_upload_and_logs(dify, tmp_path):
    h = hook()
    assert h.get_parameters()["user_input_form"][0]["text-input"]["variable"] == "query"
    assert h.get_app_info()["mode"] == "workflow"
    upload = tmp_path / "hello.txt"
    upload.write_text("hello from airflow")
    assert h.upload_file(upload, user="tester")["size"] == len("hello from airflow")
    ref = h.start_run(inputs={"query": "logged"}, user="someone")
    runs = h.list_runs(user="someone")["data"]
    assert [entry["workflow_run"]["id"] for entry in runs] == [ref.run_id]


def test_test_connection_spends_no_credits(dify):
    assert hook().test_connection() == (True, "Connected to Dify: app 'airflow-echo' (mode workflow).")
    assert dify.control.runs() == {}


def test_a_bad_key_fails_fast_and_never_shows_the_key(dify, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DIFY_BAD",
        f'{{"conn_type": "dify", "host": "{dify.base_url}", "password": "app-SECRET"}}',
    )
    with pytest.raises(PermanentAPIError) as raised:
        hook("dify_bad").get_parameters()
    assert raised.value.status_code == 401 and "app-SECRET" not in str(raised.value)
    ok, message = hook("dify_bad").test_connection()
    assert not ok and "401" in message and "app-SECRET" not in message


def test_unknown_run_is_a_permanent_error_naming_the_run(dify):
    with pytest.raises(
        PermanentAPIError, match="run 00000000-0000-0000-0000-000000000000.*Workflow run not found"
    ):
        hook().get_run("00000000-0000-0000-0000-000000000000")


def test_transient_faults_are_retried(dify):
    ref = hook().start_run(inputs={"query": "hi"}, user="tester")
    dify.control.inject("status", r"/workflows/run/.*", method="GET", times=2, status=503)
    dify.control.inject("malformed", r"/workflows/run/.*", method="GET")
    assert hook().get_run(ref).run_id == ref.run_id
    assert dify.control.count("polls") == 4


def test_retries_run_out_with_a_clear_error(dify):
    dify.control.inject("status", r"/parameters", method="GET", times=10, status=503)
    with pytest.raises(PlatformAPIError, match="gave up after 4 attempts"):
        hook().get_parameters()


def test_a_stream_cut_after_the_first_event_still_yields_the_run(dify):
    dify.control.inject("drop", r"/workflows/run", method="POST", after_processing=True)
    ref = hook().start_run(inputs={"query": "hi"}, user="tester")
    assert list(dify.control.runs()) == [ref.run_id]


def test_a_start_whose_answer_is_lost_is_found_not_repeated(dify, quick_find):
    dify.control.inject("drop", r"/workflows/run", method="POST", after_processing=True, chunks=1)
    ref = hook().start_run(inputs={"query": "hi"}, user="lost-answer")
    assert list(dify.control.runs()) == [ref.run_id]
    assert ref.extras == {"user": "lost-answer"}  # found through the logs: no task id to stop it with
    assert dify.control.count("starts") == 1


def test_a_run_of_the_same_user_from_before_the_start_is_not_taken_for_it(dify, quick_find, monkeypatch):
    earlier = hook().start_run(inputs={"query": "hi"}, user="same-user")
    monkeypatch.setattr("airflow_workflow_providers.core.hook.FIND_CLOCK_SKEW", -5.0)
    dify.control.inject("drop", r"/workflows/run", method="POST", after_processing=False)
    with pytest.raises(StartNotConfirmedError, match="no second run"):
        hook().start_run(inputs={"query": "hi"}, user="same-user")
    assert list(dify.control.runs()) == [earlier.run_id]


def test_a_start_refused_with_503_is_retried_once_and_runs_once(dify):
    dify.control.inject("status", r"/workflows/run", method="POST", status=503)
    hook().start_run(inputs={"query": "hi"}, user="tester")
    assert (dify.control.count("starts"), len(dify.control.runs())) == (2, 1)


def test_invalid_inputs_are_named_before_anything_is_submitted(dify):
    with pytest.raises(
        InputValidationError,
        match="missing required input 'query'.*unknown input 'qeury'|unknown input 'qeury'.*missing required input 'query'",
    ):
        hook().check_inputs({"qeury": "typo"})
    assert dify.control.runs() == {}


def test_a_silent_start_is_bounded(dify, monkeypatch, quick_find):
    monkeypatch.setattr(DifyHook, "start_wait", 1.0)
    dify.control.settings(stream_hang_seconds=5)
    started = time.monotonic()
    with pytest.raises(StartNotConfirmedError, match="inputs"):
        hook().start_run(inputs={"query": "x" * 300}, user="tester")
    assert time.monotonic() - started < 4


def test_async_polls_share_one_session_and_see_the_same_run(dify):
    h = hook("dify_slow")
    ref = h.start_run(inputs={"query": "x", "delay": 1}, user="tester")

    async def poll_twice():
        async with h.async_transport() as first, h.async_transport() as second:
            assert first.session is second.session
            return [await t.call(h.api.status(ref)) for t in (first, second)]

    runs = asyncio.run(poll_twice())
    assert {run.run_id for run in runs} == {ref.run_id}
