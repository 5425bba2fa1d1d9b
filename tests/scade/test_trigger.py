"""The shared trigger on Scade runs: serialize, rebuild, run; the status map travels in api_options."""

from __future__ import annotations

import asyncio
import json

from airflow_workflow_providers.scade.hooks import ScadeHook
from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator
from tests.triggering import events_of, rebuilt, trigger_for

ECHO = {"flow_id": "1607", "start_node_id": "SYnn-start", "end_node_id": "y5iI-end"}
SLOW = {"flow_id": "1608", "start_node_id": "Qk3a-start", "end_node_id": "Zp9w-end"}


def test_the_operators_status_map_survives_serialization_and_decides_the_outcome(scade):
    scade.control.add_app(id="1607", options={"terminal_status": 6})
    operator = ScadeRunFlowOperator(task_id="t", **ECHO, inputs={"text": "hi"}, status_map={6: "SUCCEEDED"})
    assert operator.api_options == {"status_map": {"6": "succeeded"}}
    ref = ScadeHook().start_run(**ECHO, inputs={"text": "hi"})
    trigger = rebuilt(trigger_for("scade", ref, api_options=operator.api_options))
    assert trigger.serialize()[1]["api_options"] == {"status_map": {"6": "succeeded"}}
    assert "c2NhZGUtZW11bGF0b3I6a2V5" not in json.dumps(trigger.serialize())
    events = events_of(trigger)
    assert [(e["status"], e["run_id"]) for e in events] == [("succeeded", "22311")]


def test_without_the_map_the_unknown_status_fails_at_once_naming_it(scade):
    scade.control.add_app(id="1607", options={"terminal_status": 6})
    ref = ScadeHook().start_run(**ECHO, inputs={"text": "hi"})
    events = events_of(rebuilt(trigger_for("scade", ref)))
    assert len(events) == 1 and events[0]["status"] == "failed"
    assert "status 6" in events[0]["message"] and "(status=6)" in events[0]["message"]


def test_a_failed_flow_yields_one_failed_event_with_its_error(scade):
    ref = ScadeHook().start_run(**SLOW, inputs={"text": "x", "delay": -1})
    events = events_of(rebuilt(trigger_for("scade", ref)))
    assert [e["status"] for e in events] == ["failed"] and "upstream timeout" in events[0]["message"]


def test_the_deadline_yields_a_timeout_event(scade):
    ref = ScadeHook().start_run(**SLOW, inputs={"text": "x", "delay": 30})
    events = events_of(trigger_for("scade", ref, seconds=1))
    assert [e["status"] for e in events] == ["timeout"]


def test_on_kill_stops_nothing_and_says_the_flow_keeps_running(scade, capsys):
    ref = ScadeHook().start_run(**SLOW, inputs={"text": "x", "delay": 30})
    asyncio.run(trigger_for("scade", ref).on_kill())
    logged = "".join(capsys.readouterr())
    assert "Scade has no endpoint to stop a flow run" in logged and "keeps running remotely" in logged
    assert scade.control.count("stops") == 0
