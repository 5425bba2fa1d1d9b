"""The shared trigger on a Flowy run: serialize, rebuild, run against the emulator."""

from __future__ import annotations

import asyncio
import json

from airflow_workflow_providers.flowy.hooks import FlowyHook
from tests.triggering import events_of, rebuilt, trigger_for


def start(flowy, seconds: str = "1"):
    return FlowyHook().start_run(app_id=flowy.app_ids["slow"], inputs={"prompt": "t", "seconds": seconds})


def test_a_rebuilt_trigger_yields_one_success_event_and_holds_no_secret(flowy):
    ref = start(flowy)
    original = trigger_for("flowy", ref)
    trigger = rebuilt(original)
    assert trigger.serialize() == original.serialize()
    assert flowy.api_key not in json.dumps(trigger.serialize()[1])
    events = events_of(trigger)
    assert [e["status"] for e in events] == ["succeeded"]
    assert events[0]["run"] == {"run_id": ref.run_id}
    assert flowy.control.count("polls") >= 2


def test_a_failed_run_yields_a_failed_event_with_the_remote_error(flowy):
    events = events_of(trigger_for("flowy", start(flowy, "-1")))
    assert events[0]["status"] == "failed" and "render failed: GPU worker lost" in events[0]["message"]


def test_429_and_server_errors_across_polls_do_not_end_the_wait(flowy):
    ref = start(flowy)
    flowy.control.inject("status", r"/runs/.*", method="GET", status=429, retry_after=1)
    flowy.control.inject("status", r"/runs/.*", method="GET", status=503)
    assert [e["status"] for e in events_of(trigger_for("flowy", ref))] == ["succeeded"]


def test_the_deadline_yields_a_timeout_event_and_on_kill_cannot_stop_the_run(flowy):
    ref = start(flowy, "30")
    trigger = trigger_for("flowy", ref, seconds=1)
    assert events_of(trigger)[0]["status"] == "timeout"
    asyncio.run(trigger.on_kill())  # logs that Flowy cannot stop runs; must not raise
    assert flowy.control.runs()[ref.run_id]["state"] in ("queued", "running")
