"""The shared trigger driven on an Arcee Orchestra run: serialize, rebuild, run, as the triggerer does."""

from __future__ import annotations

import asyncio
import json

from airflow_workflow_providers.arcee.hooks import ArceeOrchestraHook
from tests.arcee.conftest import SLOW_WORKFLOW
from tests.triggering import events_of, rebuilt, trigger_for


def start(delay: float = 1):
    return ArceeOrchestraHook().start_run(workflow_id=SLOW_WORKFLOW, inputs={"query": "t", "delay": delay})


def test_round_trip_keeps_the_workflow_id_and_no_secret(arcee):
    ref = start()
    trigger = trigger_for("arcee_orchestra", ref)
    kwargs = trigger.serialize()[1]
    assert kwargs["run"] == {"run_id": ref.run_id, "workflow_id": SLOW_WORKFLOW}
    assert arcee.api_key not in json.dumps(kwargs)
    events = events_of(rebuilt(trigger))
    assert [e["status"] for e in events] == ["succeeded"]
    assert events[0]["run"] == ref.to_json()


def test_a_failed_run_yields_one_failed_event_with_the_error(arcee):
    events = events_of(trigger_for("arcee_orchestra", start(delay=-1)))
    assert [e["status"] for e in events] == ["failed"]
    assert "Agent node failed: model timeout" in events[0]["message"]


def test_transient_faults_across_polls_do_not_end_the_wait(arcee):
    ref = start(delay=1)
    arcee.control.inject("status", r"/workflows/.*/runs/[^/]+", method="GET", status=500)
    arcee.control.inject("html", r"/workflows/.*/runs/[^/]+", method="GET", status=502)
    events = events_of(trigger_for("arcee_orchestra", ref))
    assert [e["status"] for e in events] == ["succeeded"]


def test_the_deadline_yields_a_timeout_event_and_on_kill_cannot_stop_the_run(arcee):
    ref = start(delay=30)
    trigger = trigger_for("arcee_orchestra", ref, seconds=0.5)
    assert [e["status"] for e in events_of(trigger)] == ["timeout"]
    asyncio.run(trigger.on_kill())  # logs that the run keeps running; sends nothing
    assert [r["state"] for r in arcee.control.runs().values()] in (["pending"], ["running"])
