"""The shared trigger, driven as the triggerer drives it: serialize, rebuild, run, on a Dify emulator."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_workflow_providers.core.trigger import WorkflowRunTrigger
from airflow_workflow_providers.dify.hooks import DifyHook
from tests.triggering import events_of, rebuilt, trigger_for


def start(conn_id: str = "dify_slow", delay: float = 1):
    return DifyHook(conn_id).start_run(inputs={"query": "t", "delay": delay}, user="trigger-test")


def test_serialization_round_trip_holds_no_secret(dify):
    trigger = trigger_for("dify", start(), conn_id="dify_slow")
    path, kwargs = trigger.serialize()
    assert path == "airflow_workflow_providers.core.trigger.WorkflowRunTrigger"
    assert rebuilt(trigger).serialize() == (path, kwargs)
    assert "app-slow" not in json.dumps(kwargs)
    assert set(kwargs["run"]) == {"run_id", "task_id", "user", "app_id"}


def test_kwargs_are_coerced_to_json_and_bad_ones_fail_before_deferring():
    trigger = WorkflowRunTrigger(
        platform_key="dify", conn_id="c", run={"run_id": 7}, poll_interval="5", end_time=1
    )
    assert trigger.serialize()[1]["run"] == {"run_id": "7"} and trigger.serialize()[1]["poll_interval"] == 5.0
    with pytest.raises(TypeError):
        WorkflowRunTrigger(
            platform_key="dify", conn_id="c", run={"run_id": "r"}, poll_interval=object(), end_time=1
        )


def test_an_unknown_platform_is_rejected_early():
    with pytest.raises(ValueError, match="Unknown platform 'difi'"):
        WorkflowRunTrigger(platform_key="difi", conn_id="c", run={"run_id": "r"}, poll_interval=1, end_time=1)


def test_yields_exactly_one_success_event(dify):
    ref = start(delay=1)
    events = events_of(rebuilt(trigger_for("dify", ref, conn_id="dify_slow")))
    assert [e["status"] for e in events] == ["succeeded"]
    assert events[0]["run"] == ref.to_json()
    assert dify.control.count("polls") >= 2


def test_transient_faults_across_polls_do_not_end_the_wait(dify):
    ref = start(delay=2)
    dify.control.inject("status", r"/workflows/run/.*", method="GET", times=3, status=503)
    dify.control.inject("status", r"/workflows/run/.*", method="GET", status=429, retry_after=1)
    dify.control.inject("html", r"/workflows/run/.*", method="GET", status=502)
    dify.control.inject("drop", r"/workflows/run/.*", method="GET")
    events = events_of(trigger_for("dify", ref, conn_id="dify_slow"))
    assert [e["status"] for e in events] == ["succeeded"]
    assert len(dify.control.runs()) == 1


def test_a_permanent_error_ends_the_wait_with_an_error_event(dify):
    ref = start()
    # the echo app's key cannot see the slow app's run
    trigger = trigger_for("dify", ref, conn_id="dify_default")
    events = events_of(trigger)
    assert events[0]["status"] == "error" and "Workflow run not found" in events[0]["message"]


def test_the_wall_clock_deadline_yields_a_timeout_event(dify):
    events = events_of(trigger_for("dify", start(delay=30), seconds=1, conn_id="dify_slow"))
    assert events[0]["status"] == "timeout"


def test_on_kill_stops_the_remote_run(dify):
    ref = start(delay=30)
    asyncio.run(trigger_for("dify", ref, conn_id="dify_slow").on_kill())
    assert dify.control.count("stops") == 1


def test_an_early_event_waits_until_the_deferring_try_has_been_reported(dify, monkeypatch):
    # Airflow 3.3 fails a task whose trigger fires before the executor reported the deferring try.
    monkeypatch.setenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "2")
    ref = start(delay=0)
    started = time.monotonic()
    assert [e["status"] for e in events_of(trigger_for("dify", ref, conn_id="dify_slow"))] == ["succeeded"]
    assert time.monotonic() - started >= 3.0
