"""The task log's wording: every line of a run's story, built by pure functions."""

from __future__ import annotations

import logging

import pytest

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.model import Run, RunRef, RunState
from airflow_workflow_providers.core.watch import RunWatch


@pytest.mark.parametrize(("poll", "every"), [(0.2, 30.0), (2, 60.0), (10, 300.0), (60, 300.0)])
def test_the_heartbeat_comes_every_30_polls_within_half_a_minute_and_five_minutes(poll, every):
    assert story.heartbeat_every(poll) == every


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.44, "0.4 s"), (41.2, "41 s"), (720, "12 min"), (7500, "2 h 5 min")]
)
def test_durations_read_in_the_unit_a_person_uses(seconds, text):
    assert story.duration(seconds) == text


def test_describe_fills_what_it_knows_and_says_unknown_for_the_rest():
    assert (
        story.describe("app {app_id}, end user {user}", {"user": "u1", "app_id": None})
        == "app unknown, end user u1"
    )


def test_the_start_line_names_the_run_what_runs_and_where_to_look():
    line = story.run_started("Dify", "r1", "app a1, end user u1", "http://x/app/a1/logs")
    assert line.startswith("Started Dify run r1 (app a1, end user u1). Follow it at http://x/app/a1/logs")
    assert story.run_started("Scade", "7", "flow 1607", None) == "Started Scade run 7 (flow 1607)."


def test_the_wait_line_says_where_the_task_waits_and_what_happens_to_the_worker_slot():
    deferred = story.waiting("Flowy", "r", deferrable=True, poll_interval=2, end_time=0)
    blocking = story.waiting("Flowy", "r", deferrable=False, poll_interval=2, end_time=0)
    assert "on the triggerer" in deferred and "the worker slot is free" in deferred
    assert "a poll every 2.0 s until 1970-01-01 00:00:00 UTC" in deferred
    assert "on this worker" in blocking and "slot stays in use" in blocking


def test_a_state_shows_the_platforms_own_status_only_where_it_differs():
    assert (
        story.state_changed("Dify", "r", "running", "running", 3)
        == "Dify run r state: running, 3.0 s into the wait."
    )
    assert "(Scade status 2)" in story.state_changed("Scade", "7", "running", 2, 3)


def test_the_last_line_gives_state_elapsed_usage_and_output_sizes():
    result = {
        "run_id": "r",
        "status": "succeeded",
        "raw_status": "succeeded",
        "error": None,
        "elapsed_time": 41.2,
        "outputs": {"result": "hello", "body": {"a": 1}, "none": None},
        "total_tokens": 120,
        "app_title": "x",
    }
    assert story.finished("Dify", result) == (
        "Dify run r finished: succeeded in 41 s; usage: total_tokens=120; "
        "outputs: result (5 chars), body (1 keys), none (empty)."
    )
    bare = {"run_id": "r", "status": "succeeded", "outputs": {}, "elapsed_time": None}
    assert (
        story.finished("Flowy", bare)
        == "Flowy run r finished: succeeded; usage: none reported; outputs: none."
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_logs_each_state_change_once_and_a_heartbeat_while_nothing_changes(monkeypatch, caplog):
    clock = _Clock()
    monkeypatch.setattr("airflow_workflow_providers.core.watch.time.monotonic", clock)
    watch = RunWatch("Dify", RunRef("r"), end_time=2e10, log=logging.getLogger("story-test"), heartbeat=60)
    running = Run("r", RunState.RUNNING, "running")
    with caplog.at_level(logging.INFO, logger="story-test"):
        for _ in range(73):  # a poll every 10 s for 12 minutes
            clock.now += 10
            watch.observe(running)
        watch.observe(Run("r", RunState.SUCCEEDED, "succeeded"))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "Dify run r state: running, 10 s into the wait."
    beats = [line for line in lines if "still running" in line]
    assert len(beats) == 12  # one a minute after the first state line, none more often
    assert beats[-1] == "Dify run r still running after 12 min, polled 73 times."
    assert lines[-1] == "Dify run r state: succeeded, 12 min into the wait."
