"""The run contract on the real deployment: what a clear, a mark, a SIGTERM, an execution_timeout and a
permanent poll error do to the remote runs (docs/reliability.md, "The run contract").

Each test counts what a user pays for on the emulator -- remote runs started, stops received -- and
reads the task's state, tries and XCom through the REST API.
"""

from __future__ import annotations

import os
import signal
from urllib.parse import quote

import pytest
import requests

from harness.processes import wait_until
from tests.e2e.test_reliability import POLL, finished, log_of, the_ti, wait_for_state

pytestmark = pytest.mark.e2e

DEFERRED = "e2e_contract_deferred"
BLOCKING = "e2e_contract_blocking"


def clear(api, dag_id, run_id, task_id="run"):
    api.request(
        "POST",
        f"dags/{dag_id}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [task_id],
            "only_failed": False,
            "reset_dag_runs": True,
        },
    )


def mark(api, dag_id, run_id, state, task_id="run"):
    api.request(
        "PATCH",
        f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}",
        json={"new_state": state},
    )


def deferred_and_polled(api, dify, run_id):
    """The first try's run, once its trigger polls it (on_kill runs only in a triggerer running the trigger)."""
    wait_for_state(api, DEFERRED, [run_id], "deferred")
    wait_until(lambda: dify.control.count("polls") >= 1, 60, "the triggerer polling the run")
    (first,) = dify.control.runs()
    return first


def running_on_the_worker(api, dag_id, run_id, task_id="run"):
    """The first try's run id, once it is started and stored (the XCom follows the store write)."""
    wait_until(
        lambda: any(x["key"] == "run_id" for x in api.xcom_keys(dag_id, run_id, task_id)),
        90,
        f"{dag_id}.{task_id} starting its remote run",
        describe=lambda: api.describe_run(dag_id, run_id),
    )
    return str(api.xcom(dag_id, run_id, task_id, "run_id"))


def assert_replaced(api, dify, dag_id, run_id, first):
    """The task succeeded on try 2 with a new run; the first run was stopped and not waited on."""
    assert finished(api, dag_id, run_id) == "success", api.describe_run(dag_id, run_id)
    runs = dify.control.runs()
    assert len(runs) == 2 and runs[first]["stop_requested"], runs
    assert the_ti(api, dag_id, run_id)["try_number"] == 2
    assert api.xcom(dag_id, run_id, "run")["run_id"] != first


def test_clear_while_deferred_stops_the_run_and_the_next_try_starts_a_new_one(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DEFERRED)
    first = deferred_and_polled(api, dify, run_id)

    clear(api, DEFERRED, run_id)

    assert_replaced(api, dify, DEFERRED, run_id, first)
    assert "starting a new run" in log_of(api, DEFERRED, run_id, try_number=2)


def test_mark_success_while_deferred_stops_the_run_and_pushes_no_result(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DEFERRED)
    first = deferred_and_polled(api, dify, run_id)

    mark(api, DEFERRED, run_id, "success")

    wait_until(lambda: dify.control.count("stops") >= 1, 30, "the remote run being stopped")
    assert finished(api, DEFERRED, run_id) == "success"
    assert list(dify.control.runs()) == [first] and dify.control.runs()[first]["stop_requested"]
    with pytest.raises(requests.HTTPError):
        api.xcom(DEFERRED, run_id, "run")


def test_clear_after_success_runs_the_workflow_again(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DEFERRED, conf={"first": 10})
    assert finished(api, DEFERRED, run_id) == "success"
    first = api.xcom(DEFERRED, run_id, "run")["run_id"]

    clear(api, DEFERRED, run_id)
    wait_until(lambda: the_ti(api, DEFERRED, run_id)["try_number"] == 2, 60, "the cleared task's next try")

    assert finished(api, DEFERRED, run_id) == "success"
    assert len(dify.control.runs()) == 2 and dify.control.count("stops") == 0
    assert api.xcom(DEFERRED, run_id, "run")["run_id"] != first


def test_sigterm_to_a_blocking_task_stops_the_run_ends_its_wait_and_the_retry_starts_fresh(airflow, dify):
    api = airflow.api
    run_id = api.trigger(BLOCKING)
    first = running_on_the_worker(api, BLOCKING, run_id)
    (pid,) = airflow.task_processes(the_ti(api, BLOCKING, run_id)["id"])

    os.kill(pid, signal.SIGTERM)  # what a worker's warm shutdown forwards to its tasks

    assert_replaced(api, dify, BLOCKING, run_id, first)
    log = log_of(api, BLOCKING, run_id, try_number=1)
    assert "was stopped by this task; not waiting on it any longer" in log, log[-3000:]


def test_clear_while_running_on_a_worker_leaves_the_run_to_the_next_try(airflow, dify):
    """Airflow 3.3 moves a cleared try to its history before killing it: the try can no longer record a
    stop, so it leaves the run going and the next try re-attaches to it (never to a stopped run)."""
    api = airflow.api
    run_id = api.trigger(BLOCKING, conf={"first": 20})
    first = running_on_the_worker(api, BLOCKING, run_id)

    clear(api, BLOCKING, run_id)

    assert finished(api, BLOCKING, run_id) == "success", api.describe_run(BLOCKING, run_id)
    assert list(dify.control.runs()) == [first] and dify.control.count("stops") == 0
    assert api.xcom(BLOCKING, run_id, "run")["run_id"] == first
    assert "Re-attaching to Dify run" in log_of(api, BLOCKING, run_id)


def test_execution_timeout_stops_the_run_and_the_retry_does_not_wait_on_it(airflow, dify):
    api = airflow.api
    dag_id = "e2e_contract_execution_timeout"
    run_id = api.trigger(dag_id)
    first = running_on_the_worker(api, dag_id, run_id)

    assert_replaced(api, dify, dag_id, run_id, first)
    assert "Asked Dify to stop run" in log_of(api, dag_id, run_id, try_number=1)


def test_a_permanent_error_while_polling_fails_at_once_deferred_or_not(airflow, dify):
    api = airflow.api
    dag_id = "e2e_contract_permanent_poll"
    run_id = api.trigger(dag_id)
    for task_id in ("deferred", "blocking"):
        running_on_the_worker(api, dag_id, run_id, task_id)
    # the key was rotated: every poll from now on is refused
    dify.control.inject(
        "status",
        POLL,
        method="GET",
        times=100,
        status=401,
        code="unauthorized",
        message="Access token is invalid",
    )

    assert finished(api, dag_id, run_id) == "failed"
    for task_id in ("deferred", "blocking"):
        ti = the_ti(api, dag_id, run_id, task_id)
        assert (ti["state"], ti["try_number"]) == ("failed", 1), (
            f"{task_id}: {ti['state']} after try {ti['try_number']}"
        )
        assert "HTTP 401" in log_of(api, dag_id, run_id, task_id)
    assert len(dify.control.runs()) == 2, "no retry started another run"
