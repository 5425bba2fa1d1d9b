"""Human Input pauses of Dify workflow and chatflow runs, deferrable and blocking, on the emulator.

``fail`` and ``wait`` run through dag.test() (for ``wait`` a person answers the form in Dify meanwhile).
The Airflow bridge (``airflow``) is driven step by step as the task runner drives it, because dag.test()
on SQLite cannot be answered from outside (the responder's write waits on dag.test's open read;
tests/e2e answers over REST). Airflow 3.3 parks the task awaiting input and resumes it with the
response; 3.1 and 3.2 defer it to the standard provider's HITLTrigger, which runs here for real against
a response as their API server returns it.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from airflow_workflow_providers.core import compat
from airflow_workflow_providers.core.errors import ConfigurationError, RunFailed
from airflow_workflow_providers.dify.operators import DifyRunChatflowOperator, DifyRunWorkflowOperator
from airflow_workflow_providers.testing.dify_human_input import APPROVAL_NODE
from tests.compat import TaskAwaitingInput, TaskDeferred, needs_human_in_the_loop
from tests.dify.test_operator import Store
from tests.triggering import events_of, rebuilt

MODES = ["deferred", "blocking"]
APPS = ["approval", "chatflow_approval"]
#: a person's answer in Airflow, as the HITL API hands it to the task
REJECT = {
    "chosen_options": ["Reject"],
    "params_input": {"comment": "not today"},
    "responded_by_user": {"id": "1", "name": "reviewer"},
}


@pytest.fixture
def hitl_requests(monkeypatch):
    """The required actions the operator writes (the task runner's supervisor link is absent here)."""
    asked: list[dict[str, Any]] = []
    monkeypatch.setattr("airflow.sdk.execution_time.hitl.upsert_hitl_detail", lambda **kw: asked.append(kw))
    return asked


class TaskInstance:
    dag_id, task_id, run_id, map_index, id = "dag", "run", "manual__1", -1, uuid.uuid4()

    def xcom_push(self, key, value):
        pass


def operator_for(app: str, deferrable: bool) -> DifyRunWorkflowOperator:
    common = {"task_id": "run", "on_human_input": "airflow", "deferrable": deferrable, "poll_interval": 0.2}
    if app == "approval":
        return DifyRunWorkflowOperator(
            conn_id="dify_approval", inputs={"query": "deploy release 2.0"}, **common
        )
    return DifyRunChatflowOperator(
        conn_id="dify_chatflow_approval", query="hello chatflow", inputs={"topic": "airflow"}, **common
    )


def task_context(store: Store | None = None) -> dict[str, Any]:
    return {"ti": TaskInstance(), "task_instance": TaskInstance(), "task_state_store": store}


def until_parked(step: Callable[[], Any]) -> Any:
    """Run one step of the task (execute or a resume); return how it parked: a deferral or awaiting input."""
    with pytest.raises((TaskDeferred, TaskAwaitingInput)) as parked:
        step()
    return parked.value


def asked_in_airflow(operator, context: dict[str, Any], form_title: str = "Approval") -> Any:
    """Start the task and follow it to the required action (through its trigger when deferrable)."""
    parked = until_parked(lambda: operator.execute(context))
    if operator.deferrable:  # the trigger ends with a "paused" event naming the form
        (event,) = events_of(rebuilt(parked.trigger))
        assert event["status"] == "paused" and event["run"]["form_title"] == form_title
        parked = until_parked(lambda: operator.execute_complete(context, event))
    assert parked.method_name == "resume_after_input"
    return parked


def response_event(parked: Any, answer: dict[str, Any], monkeypatch) -> dict[str, Any]:
    """The event Airflow resumes the task with once a person answered: built from the response by the API
    server (3.3), or by the HITLTrigger the task deferred to (3.1, 3.2), run against that response."""
    responded_at = datetime.now(timezone.utc)
    if isinstance(parked, TaskAwaitingInput):
        return {**answer, "responded_at": responded_at, "timedout": False}
    from airflow.providers.standard.triggers import hitl
    from airflow.sdk.api.datamodels._generated import HITLDetailResponse

    response = HITLDetailResponse(response_received=True, responded_at=responded_at, **answer)
    monkeypatch.setattr(hitl, "get_hitl_detail_content_detail", lambda ti_id: response)
    path, kwargs = parked.trigger.serialize()
    assert path == "airflow.providers.standard.triggers.hitl.HITLTrigger"
    (event,) = events_of(hitl.HITLTrigger(**kwargs))
    return event


def resumed(operator, context: dict[str, Any], parked: Any, event: dict[str, Any]) -> Any:
    """Resume the task with the person's answer and follow it to its result (or its failure)."""
    resume = lambda: operator.resume_after_input(context, event, **parked.kwargs)  # noqa: E731
    if not operator.deferrable:
        return resume()
    (done,) = events_of(rebuilt(until_parked(resume).trigger))
    return operator.execute_complete(context, done)


def form_posts(dify) -> list[dict[str, Any]]:
    requests_made = dify.control.state()["requests"]
    return [r["json"] for r in requests_made if r["method"] == "POST" and r["path"].startswith("/form/")]


@needs_human_in_the_loop
@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("deferrable", [True, False], ids=MODES)
def test_a_pause_is_asked_in_airflow_and_the_answer_goes_to_dify(
    dify, hitl_requests, monkeypatch, app, deferrable
):
    operator, context = operator_for(app, deferrable), task_context()
    parked = asked_in_airflow(operator, context)
    (asked,) = hitl_requests
    assert (asked["subject"], asked["options"]) == ("Approval", ["Approve", "Reject"])
    assert not asked.get("multiple") and not asked.get("defaults")  # one action, none chosen for the person
    assert asked["body"].startswith(
        "Please review the request: **deploy release 2.0**"
        if app == "approval"
        else "Please review the topic: **airflow**"
    )
    comment = asked["params"]["comment"]
    assert (comment["value"] if compat.AIRFLOW_VERSION >= (3, 1, 3) else comment) == ""
    result = resumed(operator, context, parked, response_event(parked, REJECT, monkeypatch))
    if app == "approval":
        assert result["outputs"] == {
            "result": "deploy release 2.0",
            "decision": "reject",
            "decision_title": "Reject",
            "comment": "not today",
        }
    else:
        assert result["answer"] == "echo: hello chatflow / airflow / Reject"
        assert result["conversation_id"] and result["message_id"]
    assert form_posts(dify) == [
        {"action": "reject", "inputs": {"comment": "not today"}, "user": "airflow:reviewer"}
    ]
    assert len(dify.control.runs()) == 1


@needs_human_in_the_loop
@pytest.mark.parametrize("deferrable", [True, False], ids=MODES)
def test_a_second_pause_fails_the_try_and_the_next_try_asks_it(dify, hitl_requests, monkeypatch, deferrable):
    """As human_input.py says: one required action per try; the next try re-attaches to the run (its
    task_state_store, an in-memory stand-in here) and asks the second form."""
    second_look = {**APPROVAL_NODE, "node_id": "second_look", "title": "Second look"}
    dify.control.add_app(id="app-approval", options={"human_input": [APPROVAL_NODE, second_look]})
    store = Store()
    operator, context = operator_for("approval", deferrable), task_context(store)
    parked = asked_in_airflow(operator, context, "Approval")
    event = response_event(parked, REJECT, monkeypatch)
    with pytest.raises(
        RunFailed,
        match="paused a second time in this try, at Human Input 'Second look'.*one required action per task try",
    ):
        resumed(operator, context, parked, event)
    assert len(hitl_requests) == 1  # the second form is not asked in this try
    (run,) = dify.control.runs().values()
    assert run["state"] == "paused"  # at the second form: nobody stopped it
    retry, context = operator_for("approval", deferrable), task_context(store)
    parked = asked_in_airflow(retry, context, "Second look")
    assert hitl_requests[-1]["subject"] == "Second look" and len(dify.control.runs()) == 1
    approve = {**REJECT, "chosen_options": ["Approve"], "params_input": {"comment": "second try"}}
    result = resumed(retry, context, parked, response_event(parked, approve, monkeypatch))
    assert (result["outputs"]["decision"], result["outputs"]["comment"]) == ("approve", "second try")
    assert [post["action"] for post in form_posts(dify)] == ["reject", "approve"]
    assert store == {}  # the task has its result: nothing left for a later try to re-attach to


@needs_human_in_the_loop
def test_a_form_answered_in_dify_is_not_an_error(dify, hitl_requests):
    operator, context = operator_for("approval", False), task_context()
    parked = until_parked(lambda: operator.execute(context))
    token = parked.kwargs["run"]["form_token"]
    key = {"Authorization": "Bearer app-approval"}
    requests.post(
        f"{dify.base_url}/form/human_input/{token}",
        headers=key,
        timeout=10,
        json={"action": "approve", "inputs": {"comment": "done in Dify"}, "user": "someone"},
    )
    result = operator.resume_after_input(
        context, {"chosen_options": ["Reject"], "params_input": {"comment": "x"}}, **parked.kwargs
    )
    assert result["outputs"]["decision"] == "approve"  # the answer given in Dify stands


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("mode", MODES)
def test_on_human_input_fail_fails_the_task_at_the_pause(dify, run_dag, app, mode, capfd):
    result = run_dag(f"dify_{app}_fail_{mode}")
    assert result.tasks["run"] == "failed"
    if compat.AIRFLOW_VERSION >= (3, 1, 0):  # 3.0's dag.test() prints no task's exception
        assert "paused at Human Input 'Approval' and on_human_input='fail'" in capfd.readouterr().out
    (run,) = dify.control.runs().values()
    assert run["state"] == "paused"


@contextmanager
def answered_in_dify(dify, key: str) -> Iterator[list[dict[str, Any]]]:
    """Meanwhile a person answers the first paused run's form in Dify: its token from the events
    endpoint's snapshot, as Dify's web app would show the form."""
    done, answered = threading.Event(), []
    headers = {"Authorization": f"Bearer {key}"}

    def answer() -> None:
        while not done.wait(0.1):
            paused = [(i, run) for i, run in dify.control.runs().items() if run["state"] == "paused"]
            if not paused:
                continue
            run_id, run = paused[0]
            snapshot = requests.get(
                f"{dify.base_url}/workflow/{run_id}/events",
                params={"user": run["user"], "include_state_snapshot": "true"},
                headers=headers,
                timeout=30,
            ).text
            token = re.search(r'"form_token":"(\w+)"', snapshot).group(1)  # type: ignore[union-attr]
            body = {"action": "approve", "inputs": {"comment": "done in Dify"}, "user": "a-person-in-dify"}
            answered.append(
                requests.post(
                    f"{dify.base_url}/form/human_input/{token}", headers=headers, json=body, timeout=30
                ).json()
            )
            return

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield answered
    finally:
        done.set()
        thread.join(30)


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("mode", MODES)
def test_on_human_input_wait_keeps_waiting_until_the_form_is_answered_in_dify(dify, run_dag, app, mode):
    with answered_in_dify(dify, f"app-{app.replace('_', '-')}") as answered:
        result = run_dag(f"dify_{app}_wait_{mode}")
    assert answered == [{}] and result.state == "success", result.tasks
    value = result.value("run")
    if app == "approval":
        assert (value["outputs"]["decision"], value["outputs"]["comment"]) == ("approve", "done in Dify")
    else:
        assert value["answer"] == "echo: hello chatflow / airflow / Approve"
    assert [post["user"] for post in form_posts(dify)] == ["a-person-in-dify"]


def test_airflow_mode_needs_airflow_3_1(monkeypatch):
    monkeypatch.setattr(compat, "AIRFLOW_VERSION", (3, 0, 6))
    with pytest.raises(ConfigurationError, match=r"needs Airflow >= 3\.1 .*this is Airflow"):
        DifyRunWorkflowOperator(task_id="t", on_human_input="airflow")
    with pytest.raises(ConfigurationError, match=r"needs Airflow >= 3\.1"):
        DifyRunChatflowOperator(task_id="t", query="q", on_human_input="airflow")
    with pytest.raises(ValueError, match="on_human_input must be one of"):
        DifyRunChatflowOperator(task_id="t", query="q", on_human_input="ask")
    assert DifyRunWorkflowOperator(task_id="t", on_human_input="fail").trigger_options == {
        "pause_event": True
    }
