"""The operator's own decisions, executed directly against the Dify emulator.

``task_state_store`` and the task instance are small in-memory stand-ins here (the real ones need a
running API server); everything else is real: the HTTP, the emulator, the hook.
"""

from __future__ import annotations

import time

import pytest

from airflow_workflow_providers.core.errors import RunTimedOut
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator


class Store(dict):
    def set(self, key, value, retention=None):
        self[key] = value

    def delete(self, key):
        self.pop(key, None)


class TaskInstance:
    dag_id, task_id, run_id, map_index = "dag", "task", "manual__1", -1

    def __init__(self):
        self.xcom = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def context(store=None):
    return {"ti": TaskInstance(), "task_state_store": store}


def operator(**kwargs) -> DifyRunWorkflowOperator:
    kwargs.setdefault("inputs", {"query": "q", "delay": 1})
    return DifyRunWorkflowOperator(
        task_id="task", conn_id="dify_slow", deferrable=False, poll_interval=0.2, **kwargs
    )


class History(Store):
    """A store that also keeps every value it was given."""

    def __init__(self, **values):
        super().__init__(**values)
        self.written = []

    def set(self, key, value, retention=None):
        super().set(key, value)
        self.written.append(value)


def test_the_run_id_is_pushed_and_the_reference_remembered_until_the_task_has_its_result(dify):
    store = History()
    ctx = context(store)
    result = operator().execute(ctx)
    assert ctx["ti"].xcom["run_id"] == result["run_id"]
    (stored,) = store.written
    assert stored["waiter"] == "worker" and stored["run"]["run_id"] == result["run_id"]
    assert stored["run"]["user"] == "airflow:dag:task:manual__1:-1" and stored["run"]["task_id"]
    assert "remote_run" not in store  # a success leaves nothing for a cleared task to re-attach to


def test_a_retry_reattaches_to_the_run_of_an_earlier_try(dify):
    ref = DifyHook("dify_slow").start_run(inputs={"query": "q", "delay": 2}, user="u")
    store = Store(remote_run=ref.to_json())
    task = operator()
    result = task.execute(context(store))
    assert result["run_id"] == ref.run_id and result["status"] == "succeeded"
    assert len(dify.control.runs()) == 1
    # the "Remote run" link Airflow asks for at the end points at the re-attached run's app
    (link,) = task.operator_extra_links
    assert link.get_link(task, ti_key=None) == DifyHook("dify_slow").run_url(ref)
    assert link.get_link(task, ti_key=None).endswith(f"/app/{ref.extras['app_id']}/logs")


def test_a_retry_after_a_failed_run_starts_a_new_one(dify):
    hook = DifyHook("dify_slow")
    failed = hook.start_run(inputs={"query": "q", "delay": -1}, user="u")
    while not hook.get_run(failed).state.is_terminal:
        time.sleep(0.05)
    store = Store(remote_run=failed.to_json())
    result = operator().execute(context(store))
    assert result["run_id"] != failed.run_id
    assert len(dify.control.runs()) == 2


def test_a_timeout_stops_the_run_and_forgets_it(dify):
    store = Store()
    with pytest.raises(RunTimedOut):
        operator(inputs={"query": "q", "delay": 30}, timeout=1).execute(context(store))
    assert dify.control.count("stops") == 1
    assert (
        store["remote_run"]["waiter"] == "stopped"
    )  # a stopped Dify run polls as running: never re-attach to it


def test_on_kill_stops_the_started_run(dify):
    op = operator(wait_for_completion=False, inputs={"query": "q", "delay": 30})
    result = op.execute(context())
    assert result["status"] == "running"
    op.on_kill()
    assert dify.control.count("stops") == 1
    assert RunRef.from_json({"run_id": result["run_id"]}).run_id in dify.control.runs()


def test_without_cancel_on_kill_the_run_is_left_alone(dify):
    op = operator(wait_for_completion=False, cancel_on_kill=False, inputs={"query": "q", "delay": 30})
    op.execute(context())
    op.on_kill()
    assert dify.control.count("stops") == 0


def test_nonsense_timing_arguments_are_rejected_at_parse_time():
    with pytest.raises(ValueError, match="positive"):
        DifyRunWorkflowOperator(task_id="t", poll_interval=0)


def test_partial_success_succeeds_with_a_warning(dify, capsys):
    dify.control.add_app(id="app-slow", outcome="partial-succeeded")
    result = operator().execute(context())
    assert (result["status"], result["raw_status"]) == ("succeeded", "partial-succeeded")
    assert "succeeded with a warning" in capsys.readouterr().out


def test_a_paused_run_keeps_the_task_waiting(dify):
    dify.control.add_app(id="app-slow", outcome="paused")
    with pytest.raises(RunTimedOut, match="last status='paused'"):
        operator(timeout=2).execute(context())
    assert dify.control.count("polls") >= 5
