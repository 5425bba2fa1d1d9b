"""The run contract through the ways a try can end (issue 13), at the operator and trigger level.

Operators run directly against the emulators over real HTTP; ``task_state_store`` is the small
in-memory stand-in of ``tests/dify/test_operator.py`` (what Airflow >= 3.3 keeps per task instance across
tries: a "next try" is a fresh operator given the same store). What only a deployment shows (clear,
mark, SIGTERM, SIGKILL, execution_timeout, a triggerer kill) is in ``tests/e2e/test_contract.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from airflow_workflow_providers.core.compat import AirflowSensorTimeout, AirflowSkipException
from airflow_workflow_providers.core.errors import (
    ConfigurationError,
    PermanentAPIError,
    PlatformAPIError,
    RunFailed,
    RunTimedOut,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.core.trigger import WorkflowRunTrigger
from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator
from airflow_workflow_providers.dify.sensors import DifyWorkflowRunSensor
from airflow_workflow_providers.flowy.hooks import FlowyHook
from airflow_workflow_providers.scade.operators import ScadeRunFlowOperator
from tests.compat import TaskDeferred
from tests.dify.conftest import dify  # noqa: F401 - the Dify emulator with connections dify_default and dify_slow
from tests.dify.test_operator import Store, context
from tests.triggering import events_of, trigger_for

QUICK = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.1)
POLL = r"/workflows/run/[0-9a-f-]+"


def dify_task(delay: float = 1, **kwargs) -> DifyRunWorkflowOperator:
    kwargs.setdefault("timeout", 20)
    kwargs.setdefault("deferrable", False)
    return DifyRunWorkflowOperator(
        task_id="task",
        conn_id="dify_slow",
        poll_interval=0.2,
        inputs={"query": "q", "delay": delay},
        **kwargs,
    )


def deferred_try(store: Store, delay: float = 30) -> RunRef:
    """A deferrable try up to its deferral; returns the run it left to its trigger."""
    with pytest.raises(TaskDeferred) as deferred:
        dify_task(delay, deferrable=True).execute(context(store))
    ref = RunRef.from_json(deferred.value.trigger.serialize()[1]["run"])
    assert store["remote_run"] == {"run": ref.to_json(), "waiter": "trigger"}
    return ref


# -- 1. a stopped run is never waited on again ---------------------------------------------------------
def test_on_kill_of_a_blocking_try_ends_its_wait_and_the_next_try_starts_fresh(dify):
    """SIGTERM (a deploy, a clear on the worker) calls only on_kill: the wait loop must end by itself."""
    store = Store()
    task = dify_task(30, timeout=15)
    killer = threading.Thread(
        target=lambda: (_wait_for(lambda: "remote_run" in store), time.sleep(0.5), task.on_kill())
    )
    killer.start()
    with pytest.raises(RunFailed, match="was stopped by this task"):
        task.execute(context(store))
    killer.join()
    (first,) = dify.control.runs()
    assert dify.control.runs()[first]["stop_requested"] and dify.control.count("stops") == 1
    assert store["remote_run"]["waiter"] == "stopped"

    result = dify_task(0.5).execute(context(store))  # the next try (clear, retry)
    assert result["run_id"] != first and result["status"] == "succeeded"
    assert len(dify.control.runs()) == 2


def test_a_try_after_its_deferred_predecessor_was_cleared_does_not_wait_on_the_stopped_run(dify):
    """Clear of a deferred task: the trigger's on_kill stops the run, the next try must start a new one."""
    store = Store()
    ref = deferred_try(store)
    asyncio.run(trigger_for("dify", ref, conn_id="dify_slow").on_kill())
    assert dify.control.count("stops") == 1

    result = dify_task(0.5, timeout=8).execute(context(store))
    assert result["run_id"] != ref.run_id and result["status"] == "succeeded"
    assert len(dify.control.runs()) == 2
    assert "remote_run" not in store


def test_a_try_that_starts_before_the_triggers_stop_landed_stops_the_run_itself(dify):
    """Observed on Airflow 3.3.2: the new try re-attached a second before the trigger's stop arrived."""
    store = Store()
    ref = deferred_try(store)
    result = dify_task(0.5, timeout=8).execute(context(store))
    assert result["run_id"] != ref.run_id
    assert dify.control.runs()[ref.run_id]["stop_requested"], "the run of the cleared try was left running"


def test_a_retry_after_a_transient_error_event_re_attaches(dify):
    """The trigger gave up polling (an outage) without stopping the run: the retry waits on it again."""
    store = Store()
    ref = deferred_try(store, delay=1)
    event = {
        "status": "error",
        "platform": "Dify",
        "run_id": ref.run_id,
        "message": "outage",
        "run": ref.to_json(),
        "error": {"kind": "transient", "status_code": 503, "code": None},
    }
    with pytest.raises(PlatformAPIError) as raised:
        dify_task().execute_complete(context(store), event)
    assert not isinstance(raised.value, PermanentAPIError)
    result = dify_task().execute(context(store))
    assert result["run_id"] == ref.run_id and len(dify.control.runs()) == 1


def test_without_cancel_on_kill_a_deferred_run_is_re_attached(dify):
    store = Store()
    ref = deferred_try(store, delay=1)
    result = dify_task(cancel_on_kill=False).execute(context(store))
    assert result["run_id"] == ref.run_id and dify.control.count("stops") == 0


# -- 2. a stored reference that answers 404 -----------------------------------------------------------
def test_a_stored_run_that_no_longer_exists_is_replaced_by_a_new_one(dify):
    store = Store(
        remote_run={"run": {"run_id": str(uuid.uuid4()), "task_id": "t", "user": "u"}, "waiter": "worker"}
    )
    result = dify_task(0.5).execute(context(store))
    assert result["status"] == "succeeded" and len(dify.control.runs()) == 1


@pytest.mark.parametrize(
    "stored", [{"run_id": None}, {"run_id": True}, {"run": {"run_id": {"a": 1}}, "waiter": "worker"}, "r1"]
)
def test_an_unreadable_stored_value_is_ignored(dify, stored):
    result = dify_task(0.5).execute(context(Store(remote_run=stored)))
    assert result["status"] == "succeeded" and len(dify.control.runs()) == 1


# -- 3. clear after success -----------------------------------------------------------------------------
def test_clearing_a_task_that_succeeded_runs_the_workflow_again(dify):
    store = Store()
    first = dify_task(0.5).execute(context(store))
    second = dify_task(0.5).execute(context(store))
    assert first["run_id"] != second["run_id"] and len(dify.control.runs()) == 2


def test_a_deferred_success_leaves_nothing_to_re_attach_to(dify):
    store = Store()
    ref = deferred_try(store, delay=0.5)
    (event,) = events_of(trigger_for("dify", ref, conn_id="dify_slow"))
    assert dify_task().execute_complete(context(store), event)["run_id"] == ref.run_id
    assert "remote_run" not in store


# -- 4. a permanent error while polling stays permanent ------------------------------------------------
def test_a_permanent_poll_error_crosses_the_deferral_as_a_permanent_error(dify):
    ref = DifyHook("dify_slow").start_run(inputs={"query": "q", "delay": 30}, user="u")
    dify.control.inject(
        "status", POLL, method="GET", status=401, code="unauthorized", message="Access token is invalid"
    )
    (event,) = events_of(trigger_for("dify", ref, conn_id="dify_slow"))
    assert event["status"] == "error" and event["error"] == {
        "kind": "permanent",
        "status_code": 401,
        "code": "unauthorized",
    }
    with pytest.raises(PermanentAPIError, match="HTTP 401") as raised:
        dify_task().execute_complete(context(Store()), event)
    assert raised.value.status_code == 401 and raised.value.run_id == ref.run_id


def test_a_permanent_poll_error_of_a_blocking_wait_is_a_permanent_error(dify):
    dify.control.inject("status", POLL, method="GET", status=404, message="Workflow run not found.")
    with pytest.raises(PermanentAPIError, match="HTTP 404"):
        dify_task(30).execute(context(Store()))


# -- 5. nothing outlasts the wait's deadline -------------------------------------------------------------
def test_a_retry_after_beyond_the_deadline_ends_the_trigger_with_its_timeout_event(dify):
    """No 250 s ``Retry-After`` wait past the trigger's ``end_time``: its own timeout event wins."""
    ref = DifyHook("dify_slow").start_run(inputs={"query": "q", "delay": 60}, user="u")
    dify.control.inject("status", POLL, method="GET", times=50, status=429, retry_after=250)
    trigger = WorkflowRunTrigger(
        platform="dify",
        conn_id="dify_slow",
        run=ref.to_json(),
        poll_interval=0.5,
        end_time=time.time() + 3,
        max_consecutive_failures=100,
    )

    async def bounded():
        return await asyncio.wait_for(asyncio.to_thread(events_of, trigger), 60)

    (event,) = asyncio.run(bounded())
    assert event["status"] == "timeout"


def test_a_blocking_wait_is_not_held_past_its_deadline_by_retry_after(dify):
    dify.control.inject("status", POLL, method="GET", times=50, status=503, retry_after=250)
    task = dify_task(60, timeout=3)
    finished = threading.Event()

    def run():
        with pytest.raises(RunTimedOut):
            task.execute(context(Store()))
        finished.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert finished.wait(60), "the wait outlasted its deadline by a Retry-After"
    assert dify.control.count("stops") == 1


def test_a_trigger_on_kill_gives_up_before_the_triggerer_would_cut_it_off(monkeypatch, dify):
    monkeypatch.setenv("AIRFLOW__TRIGGERER__ON_KILL_TIMEOUT", "4")
    ref = RunRef("r", {"task_id": "t", "user": "u"})
    dify.control.inject("status", r"/workflows/tasks/.*/stop", times=50, status=503, retry_after=1)

    async def kill():
        await asyncio.wait_for(trigger_for("dify", ref, conn_id="dify_slow").on_kill(), 8)

    asyncio.run(kill())  # no exception escapes, and it ends in time


# -- 6. a 2xx start whose answer cannot be read --------------------------------------------------------
def test_an_unreadable_2xx_start_is_not_retried_by_airflow(flowy_emulator, emulator_connection):
    emulator_connection(flowy_emulator)
    flowy_emulator.control.inject("malformed", r"/apps/[0-9a-f]+/runs", method="POST")
    hook = FlowyHook("flowy_default", retry_policy=QUICK)
    with pytest.raises(StartNotConfirmedError, match="answer could not be read"):
        hook.start_run(app_id=flowy_emulator.app_ids["echo"], inputs={"prompt": "p"})
    assert flowy_emulator.control.count("starts") == 1


def test_an_unreadable_2xx_start_is_looked_up_where_the_platform_allows(
    arcee_orchestra_emulator, emulator_connection, quick_find
):
    from airflow_workflow_providers.arcee.hooks import ArceeOrchestraHook

    arcee = arcee_orchestra_emulator
    emulator_connection(arcee)
    arcee.control.inject("malformed", r"/workflows/[0-9a-f-]+/execute", method="POST")
    ref = ArceeOrchestraHook(retry_policy=QUICK).start_run(
        workflow_id=arcee.app_ids["echo"], inputs={"query": "x"}
    )
    assert list(arcee.control.runs()) == [ref.run_id]


# -- 7. an unknown terminal status is not a reason to pay again ---------------------------------------
def test_a_retry_after_an_unknown_scade_status_does_not_start_a_second_run(
    scade_emulator, emulator_connection
):
    emulator_connection(scade_emulator)
    scade_emulator.control.add_app(id="1608", options={"terminal_status": 7})
    store = Store()

    def scade_try():
        return ScadeRunFlowOperator(
            task_id="task",
            flow_id="1608",
            start_node_id="Qk3a-start",
            end_node_id="Zp9w-end",
            inputs={"text": "t", "delay": 0.2},
            poll_interval=0.1,
            timeout=20,
        ).execute(context(store))

    for _ in range(2):
        with pytest.raises(RunFailed, match="status 7"):
            scade_try()
    assert len(scade_emulator.control.runs()) == 1


# -- 8. a deferred sensor times out as a sensor ---------------------------------------------------------
def timeout_event():
    return {
        "status": "timeout",
        "platform": "Dify",
        "run_id": "r",
        "message": "Dify run r did not finish",
        "run": {"run_id": "r"},
    }


def test_a_deferred_sensor_timeout_is_a_sensor_timeout():
    with pytest.raises(AirflowSensorTimeout):
        DifyWorkflowRunSensor(task_id="s", run_id="r", deferrable=True).execute_complete({}, timeout_event())


def test_a_deferred_sensor_timeout_with_soft_fail_skips():
    with pytest.raises(AirflowSkipException):
        DifyWorkflowRunSensor(task_id="s", run_id="r", deferrable=True, soft_fail=True).execute_complete(
            {}, timeout_event()
        )


# -- 9. the trigger always yields its one event -------------------------------------------------------
def test_a_trigger_without_its_connection_yields_a_configuration_error_event(monkeypatch):
    (event,) = events_of(trigger_for("dify", RunRef("r"), conn_id="no_such_connection"))
    assert event["status"] == "error" and event["error"]["kind"] == "configuration"
    assert "no_such_connection" in event["message"]
    with pytest.raises(ConfigurationError):
        dify_task().execute_complete(context(Store()), event)


# -- 10. a lost Dify start never adopts another task's run --------------------------------------------
def test_a_lost_start_with_a_shared_user_adopts_only_the_run_with_its_inputs(dify, quick_find):
    hook = DifyHook("dify_slow")
    other = hook.start_run(inputs={"query": "someone else", "delay": 5}, user="shared")
    dify.control.inject("drop", "/workflows/run", method="POST", chunks=1)
    ref = hook.start_run(inputs={"query": "mine", "delay": 5}, user="shared")
    assert ref.run_id != other.run_id and len(dify.control.runs()) == 2


def test_a_lost_start_that_created_no_run_does_not_take_another_tasks(dify, quick_find):
    hook = DifyHook("dify_slow")
    hook.start_run(inputs={"query": "someone else", "delay": 5}, user="shared")
    dify.control.inject("status", "/workflows/run", method="POST", status=500)
    with pytest.raises(StartNotConfirmedError):
        hook.start_run(inputs={"query": "mine", "delay": 5}, user="shared")


# -- 11. ids ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        {"run_id": None},
        {"run_id": False},
        {"run_id": {"x": 1}},
        {"run_id": ""},
        {"run_id": "r", "task_id": True},
        {"run_id": "r", "task_id": {"a": 1}},
        None,
        "r",
    ],
)
def test_a_run_reference_of_the_wrong_shape_is_refused(data):
    with pytest.raises(ValueError):
        RunRef.from_json(data)


def test_a_templated_run_id_with_a_slash_polls_that_id_only(dify):
    with pytest.raises(PlatformAPIError):
        DifyHook("dify_slow", retry_policy=QUICK).get_run(RunRef("../parameters?x="))
    paths = {r["path"] for r in dify.control.state()["requests"]}
    assert paths and all(path.startswith("/workflows/run/") for path in paths), paths


# -- 12. downloads go through the transport --------------------------------------------------------------
def flowy_output(flowy_emulator) -> str:
    hook = FlowyHook("flowy_default", retry_policy=QUICK)
    ref = hook.start_run(app_id=flowy_emulator.app_ids["echo"], inputs={"prompt": "p"})
    return hook.wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.1).outputs["image"]["url"]


def test_a_download_rides_out_a_503(flowy_emulator, emulator_connection, tmp_path):
    emulator_connection(flowy_emulator)
    url = flowy_output(flowy_emulator)
    flowy_emulator.control.inject("status", r"/media/.*", method="GET", status=503)
    stored = FlowyHook("flowy_default", retry_policy=QUICK).download(url, tmp_path / "out.png")
    assert stored["size"] == (tmp_path / "out.png").stat().st_size > 0
    media = [
        r["status"] for r in flowy_emulator.control.state()["requests"] if r["path"].startswith("/media/")
    ]
    assert media[0] == 503 and len(media) >= 2, media


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.png", "//host/x.png"])
def test_only_http_urls_are_downloaded(flowy_emulator, emulator_connection, tmp_path, url):
    emulator_connection(flowy_emulator)
    with pytest.raises(PermanentAPIError, match="not http"):
        FlowyHook("flowy_default").download(url, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_download_past_its_size_cap_is_refused_and_leaves_no_file(
    flowy_emulator, emulator_connection, tmp_path
):
    emulator_connection(flowy_emulator)
    url = flowy_output(flowy_emulator)
    with pytest.raises(PermanentAPIError, match="limit is 100 bytes"):
        FlowyHook("flowy_default").download(url, tmp_path / "x.png", max_bytes=100)
    assert not (tmp_path / "x.png").exists()


def _wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)
