"""The poll judge and the trigger event schema."""

from __future__ import annotations

import json
import logging
import time

import pytest

from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    PlatformAPIError,
    RunFailed,
    RunTimedOut,
    TriggerEventError,
)
from airflow_workflow_providers.core.model import Run, RunRef, RunState
from airflow_workflow_providers.core.watch import RunWatch, raise_for_event, validate_event

LOG = logging.getLogger("test")


def watch(seconds_left: float = 60, failures: int = 3) -> RunWatch:
    return RunWatch(
        "Dify",
        RunRef("r1", {"task_id": "t1"}),
        end_time=time.time() + seconds_left,
        log=LOG,
        max_consecutive_failures=failures,
    )


def run(state: RunState, raw: str, error: str | None = None) -> Run:
    return Run("r1", state, raw, error_message=error)


def test_a_running_run_keeps_waiting():
    assert watch().observe(run(RunState.RUNNING, "running")) is None
    assert watch().observe(run(RunState.PAUSED, "paused")) is None


def test_states_may_jump_straight_to_the_end():
    assert watch().observe(run(RunState.SUCCEEDED, "succeeded")).status == "succeeded"


def test_a_failure_names_platform_run_error_and_raw_status():
    verdict = watch().observe(run(RunState.FAILED, "failed", "boom"))
    assert verdict.to_event() == {
        "status": "failed",
        "platform": "Dify",
        "run_id": "r1",
        "message": "Dify run r1 failed: boom (status='failed')",
        "run": {"run_id": "r1", "task_id": "t1"},
    }


def test_transient_poll_failures_are_tolerated_until_too_many_in_a_row():
    judge = watch(failures=3)
    blip = PlatformAPIError("503", platform="Dify")
    assert judge.failed_poll(blip) is None
    assert judge.failed_poll(blip) is None
    assert judge.observe(run(RunState.RUNNING, "running")) is None  # a success resets the count
    assert judge.failed_poll(blip) is None
    assert judge.failed_poll(blip) is None
    assert judge.failed_poll(blip).status == "error"


def test_a_permanent_poll_failure_ends_the_wait():
    assert watch().failed_poll(PermanentAPIError("404", platform="Dify")).status == "error"


def test_the_deadline_ends_the_wait_with_the_last_status():
    judge = watch(seconds_left=-1)
    verdict = judge.observe(run(RunState.RUNNING, "running"))
    assert verdict.status == "timeout" and "last status='running'" in verdict.message


def test_the_delay_never_passes_the_deadline():
    assert watch(seconds_left=2).delay(30) <= 2
    assert watch(seconds_left=-5).delay(30) == 0


RUN = {"run_id": "r"}


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"status": "succeeded"},
        {"status": "done", "platform": "D", "run_id": "r", "message": "", "run": RUN},
        {"status": "failed", "platform": "D", "run_id": 1, "message": "", "run": RUN},
        {"status": "failed", "platform": "D", "run_id": "r", "message": "", "run": {"run_id": "other"}},
        {"status": "failed", "platform": "D", "run_id": "r", "message": "", "run": RUN, "outputs": {}},
    ],
)
def test_events_outside_the_schema_are_rejected(event):
    with pytest.raises(TriggerEventError):
        validate_event(event)


@pytest.mark.parametrize(
    ("status", "error"),
    [("failed", RunFailed), ("cancelled", RunFailed), ("timeout", RunTimedOut), ("error", PlatformAPIError)],
)
def test_each_unsuccessful_event_raises_its_error(status, error):
    with pytest.raises(error, match="msg"):
        raise_for_event(
            validate_event(
                {"status": status, "platform": "Dify", "run_id": "r", "message": "msg", "run": RUN}
            )
        )


@pytest.mark.parametrize(
    ("exc", "raised"),
    [
        (PermanentAPIError("401", platform="Dify", status_code=401, code="unauthorized"), PermanentAPIError),
        (PlatformAPIError("503", platform="Dify", status_code=503), PlatformAPIError),
    ],
)
def test_an_error_verdict_re_raises_the_same_kind_after_the_deferral(exc, raised):
    judge = watch(failures=1)
    event = validate_event(json.loads(json.dumps(judge.failed_poll(exc).to_event())))
    assert event["error"] == {
        "kind": "permanent" if raised is PermanentAPIError else "transient",
        "status_code": exc.status_code,
        "code": exc.code,
    }
    with pytest.raises(raised) as caught:
        raise_for_event(event)
    assert type(caught.value) is raised and caught.value.status_code == exc.status_code


@pytest.mark.parametrize(
    "cause",
    [
        {"kind": "fatal", "status_code": None, "code": None},
        {"kind": "permanent"},
        {"kind": "permanent", "status_code": "401", "code": None},
    ],
)
def test_an_error_cause_outside_the_schema_is_rejected(cause):
    with pytest.raises(TriggerEventError):
        validate_event(
            {"status": "error", "platform": "D", "run_id": "r", "message": "", "run": RUN, "error": cause}
        )
