"""Live progress: the shared trigger follows a Dify run's event stream beside its polls, on the emulator."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_workflow_providers.core.progress import NodeProgress, ProgressLog, RunEnded, RunPaused
from airflow_workflow_providers.dify.api import DifyAPI
from airflow_workflow_providers.dify.events import RunEvents
from airflow_workflow_providers.dify.hooks import DifyHook
from tests.recorded import CHAT_RECORDING, find
from tests.triggering import events_of, trigger_for

EVENTS = r"/workflow/[^/]+/events"


def recorded(title):
    return find(title, recording=CHAT_RECORDING)[0]


def start(conn_id: str = "dify_slow", **inputs):
    return DifyHook(conn_id).start_run(inputs=inputs or {"query": "t", "delay": 1}, user="progress-test")


def requests_to(dify, pattern: str) -> list[dict]:
    import re

    return [r for r in dify.control.state()["requests"] if re.fullmatch(pattern, r["path"])]


class Log:
    def __init__(self, capfd):
        self.capfd = capfd

    @property
    def text(self) -> str:
        captured = self.capfd.readouterr()
        return captured.out + captured.err


@pytest.fixture
def trigger_log(capfd):
    """What the trigger logged (Airflow's structlog writes to the captured stdout)."""
    return Log(capfd)


class TestReadingEvents:
    def test_the_recorded_paused_snapshot_reads_as_progress_and_a_pause(self):
        items = RunEvents().feed(recorded("include_state_snapshot=true (while paused)").sse)
        nodes = [i for i in items if isinstance(i, NodeProgress)]
        assert [(n.title, n.status) for n in nodes] == [
            ("Start", "running"),
            ("Start", "succeeded"),
            ("Approval", "running"),
            ("Approval", "paused"),
        ]
        (paused,) = [i for i in items if isinstance(i, RunPaused)]
        assert paused.form["form_token"] == "Odf3aamBDmeqwQ8X0YGM8e"
        assert "'Approval'" in paused.summary and "['approve', 'reject']" in paused.summary

    def test_a_finished_run_is_one_spaced_line(self):
        (item,) = RunEvents().feed(recorded("include_state_snapshot=true (after the run finished)").sse)
        assert item == RunEnded("succeeded")

    def test_progress_is_logged_once_per_node_execution_and_status(self):
        log = ProgressLog()
        replayed, live = (
            NodeProgress("n1", "HTTP", "succeeded", 6.0),
            NodeProgress("n1", "HTTP", "succeeded", 6.01),
        )
        assert log.line(replayed) == "Node 'HTTP': succeeded in 6.00 s."
        assert (
            log.line(live) is None
            and log.line(NodeProgress("n2", "HTTP", "running")) == "Node 'HTTP': running."
        )

    def test_events_need_the_end_user_and_can_be_turned_off(self):
        from airflow_workflow_providers.core.model import RunRef

        call = DifyAPI().progress(RunRef("r", {"user": "u"}))
        assert (call.request.path, dict(call.request.query)) == (
            "/workflow/r/events",
            {"user": "u", "include_state_snapshot": "true"},
        )
        assert DifyAPI().progress(RunRef("r")) is None
        assert DifyAPI(follow_events=False).progress(RunRef("r", {"user": "u"})) is None


class TestTrigger:
    def test_the_end_comes_from_the_stream_not_the_next_poll(self, dify, trigger_log, monkeypatch):
        import random

        ref = start(query="t", delay=3)
        trigger = trigger_for("dify", ref, conn_id="dify_slow")
        # the first poll at once (its random phase at 0) opens the stream; the next poll, stretched to
        # 180 s while the stream is open, comes too late: only the stream can end the wait
        monkeypatch.setattr(random, "uniform", lambda low, high: low)
        trigger.poll_interval = 30.0
        assert [e["status"] for e in events_of(trigger)] == ["succeeded"]
        assert dify.control.count("polls") <= 2  # the end was read from the status endpoint at once
        assert len(requests_to(dify, EVENTS)) == 1
        assert requests_to(dify, EVENTS)[0]["query"] == {
            "user": "progress-test",
            "include_state_snapshot": "true",
        }
        log = trigger_log.text
        assert log.count("Node 'Slow HTTP': succeeded in") == 1 and "Node 'End': succeeded" in log
        assert "says Dify run" in log and "ended (succeeded)" in log

    def test_an_older_dify_without_the_endpoint_is_polled(self, dify, trigger_log):
        dify.control.inject("status", EVENTS, method="GET", status=404, code="not_found")
        ref = start()
        assert [e["status"] for e in events_of(trigger_for("dify", ref, conn_id="dify_slow"))] == [
            "succeeded"
        ]
        assert "no events endpoint; following it by polls only" in trigger_log.text
        assert len(requests_to(dify, EVENTS)) == 1 and dify.control.count("polls") >= 3

    def test_a_stream_that_breaks_falls_back_to_polls(self, dify, trigger_log):
        dify.control.inject("drop", EVENTS, method="GET", times=3)
        ref = start(query="t", delay=2)
        assert [e["status"] for e in events_of(trigger_for("dify", ref, conn_id="dify_slow"))] == [
            "succeeded"
        ]
        assert (
            len(requests_to(dify, EVENTS)) == 3 and "closed 3 times before the run ended" in trigger_log.text
        )

    def test_streams_beyond_the_accounts_slots_poll_and_no_poll_waits_behind_a_stream(
        self, dify, monkeypatch, trigger_log
    ):
        """``connections_per_host`` 2: two of four runs get a stream while the other two are polled, and
        every run is polled while the streams are open (in the polls' pool, streams would hold every
        connection until their runs end, and every poll would wait behind them)."""
        conn = {"conn_type": "dify", "host": dify.base_url, "password": "app-slow"}
        monkeypatch.setenv(
            "AIRFLOW_CONN_DIFY_TWO", json.dumps({**conn, "extra": {"connections_per_host": 2}})
        )
        refs = [start("dify_two", query=f"q{i}", delay=6) for i in range(4)]
        began = time.time()

        async def all_events() -> list[dict]:
            triggers = [trigger_for("dify", ref, conn_id="dify_two") for ref in refs]
            return await asyncio.gather(*(anext(t.run()) for t in triggers))

        assert [e.payload["status"] for e in asyncio.run(all_events())] == ["succeeded"] * 4
        # the runs last 6 s: a stream opened in the first 5 s opened while the first two were open
        opened = [r["at"] - began for r in requests_to(dify, EVENTS)]
        assert len([at for at in opened if at < 5]) == 2, opened
        for ref in refs:
            polls = requests_to(dify, f"/workflows/run/{ref.run_id}")
            assert polls and polls[0]["at"] - began < 3, (ref.run_id, [p["at"] - began for p in polls])

    def test_a_run_that_ended_before_the_first_poll_opens_no_stream(self, dify, trigger_log):
        ref = start(query="t", delay=0.2)
        time.sleep(1.5)  # ended, as runs do while their triggerer restarts
        assert [e["status"] for e in events_of(trigger_for("dify", ref, conn_id="dify_slow"))] == [
            "succeeded"
        ]
        assert requests_to(dify, EVENTS) == [] and dify.control.count("polls") == 1
        (first,) = [line for line in trigger_log.text.splitlines() if "Triggerer watching" in line]
        assert f"Dify run {ref.run_id}: a poll every 0.2 s" in first and "state: succeeded" in first

    def test_follow_events_off_polls_only(self, dify):
        ref = start()
        trigger = trigger_for("dify", ref, conn_id="dify_slow", api_options={"follow_events": False})
        assert [e["status"] for e in events_of(trigger)] == ["succeeded"]
        assert requests_to(dify, EVENTS) == []

    def test_a_paused_run_logs_its_form_and_keeps_waiting(self, dify, trigger_log):
        ref = start("dify_approval", query="deploy")
        events = events_of(trigger_for("dify", ref, conn_id="dify_approval", seconds=2))
        assert [e["status"] for e in events] == ["timeout"]
        assert (
            "paused: Human Input 'Approval' waits for an answer (actions ['approve', 'reject']"
            in trigger_log.text
        )
        assert len(requests_to(dify, EVENTS)) == 1  # the snapshot of a paused run closes after the pause
