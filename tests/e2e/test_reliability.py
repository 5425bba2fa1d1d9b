"""Faults, crashes and user actions on the real deployment (docs/reliability.md, items 1-5).

Every test drives DAGs of ``dags/e2e_reliability_dags.py`` through the REST API, breaks something on
purpose (the emulators' fault injection, SIGKILL of an Airflow process found by pid, a state change
through the API) and then checks what a user pays for: how many remote runs the emulator created,
how many stops it received, and what the task log says.
"""

from __future__ import annotations

import os
import signal
import time
from urllib.parse import quote

import pytest
import requests

from harness.processes import wait_until

pytestmark = pytest.mark.e2e

DEFERRED = "e2e_rel_deferred"
POLL = r"/workflows/run/[0-9a-f-]+"  # Dify's status poll, GET
START = "/workflows/run"  # Dify's start, POST


# -- helpers -------------------------------------------------------------------------------------------
def the_ti(api, dag_id, run_id, task_id="run"):
    return next(ti for ti in api.task_instances(dag_id, run_id) if ti["task_id"] == task_id)


def wait_for_state(api, dag_id, run_ids, state, timeout=120.0, task_id="run"):
    """Until the task of every run in ``run_ids`` is in ``state``."""

    def reached():
        states = {run_id: the_ti(api, dag_id, run_id, task_id)["state"] for run_id in run_ids}
        return all(s == state for s in states.values()) and states

    return wait_until(
        reached,
        timeout,
        f"{len(run_ids)} x {dag_id}.{task_id} {state}",
        interval=0.5,
        describe=lambda: "; ".join(api.describe_run(dag_id, r) for r in run_ids),
    )


def finished(api, dag_id, run_id, timeout=180.0):
    return api.wait_for_run(dag_id, run_id, timeout=timeout)["state"]


def log_of(api, dag_id, run_id, task_id="run", try_number=None):
    ti = the_ti(api, dag_id, run_id, task_id)
    return api.task_log(dag_id, run_id, task_id, try_number or ti["try_number"])


def in_order(text, *parts):
    """Whether ``parts`` appear in ``text`` one after the other."""
    at = 0
    for part in parts:
        at = text.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


# -- 1. transient faults --------------------------------------------------------------------------------
def test_a_deferred_wait_rides_out_503s_a_429_a_dropped_answer_and_an_html_502_with_one_run(airflow, dify):
    control = dify.control
    control.inject("status", POLL, method="GET", times=5, status=503)
    control.inject("status", POLL, method="GET", status=429, retry_after=2)
    control.inject("drop", POLL, method="GET")
    control.inject("html", POLL, method="GET", status=502)
    api = airflow.api
    run_id = api.trigger(DEFERRED, conf={"delay": 12})

    assert finished(api, DEFERRED, run_id) == "success", api.describe_run(DEFERRED, run_id)
    assert len(control.runs()) == 1 and control.count("starts") == 1
    assert all(rule["remaining"] == 0 for rule in control.state()["faults"]), "every fault was met"
    log = log_of(api, DEFERRED, run_id)
    assert "Pausing task as DEFERRED" in log
    # each retry is in the task log (its triggerer part), in the order the faults came
    assert log.count("HTTP 503") >= 5, log[-4000:]
    assert in_order(
        log,
        "HTTP 503",
        "gave up after 5 attempts; still waiting",
        "HTTP 429",
        "retrying in 2.0 s",
        "Response payload is not completed",
        "HTTP 502",
        "retrying in",
        "state: succeeded",
    ), log[-4000:]
    assert (api.xcom(DEFERRED, run_id, "run"))["status"] == "succeeded"


def test_a_start_whose_answer_is_lost_after_a_503_and_a_429_finds_its_run_instead_of_paying_twice(
    airflow, dify
):
    control = dify.control
    control.inject("status", START, method="POST", status=503)
    control.inject("status", START, method="POST", status=429, retry_after=2)
    # the run is created, then the connection drops after the stream's first ping: the run id is lost
    control.inject("drop", START, method="POST", chunks=1)
    api = airflow.api
    run_id = api.trigger(DEFERRED, conf={"delay": 12})

    assert finished(api, DEFERRED, run_id) == "success", api.describe_run(DEFERRED, run_id)
    runs = control.runs()
    assert control.count("starts") == 3, "two refused starts retried, the lost one not retried"
    assert len(runs) == 1, f"one remote run, not {len(runs)}"
    (remote_id,) = runs
    assert api.xcom(DEFERRED, run_id, "run", "run_id") == remote_id
    log = log_of(api, DEFERRED, run_id)
    assert in_order(
        log,
        "HTTP 503",
        "retrying",
        "HTTP 429",
        "retrying in 2.0 s",
        f"The answer to the start was lost, but Dify has run {remote_id}",
    ), log[-4000:]


# -- 2. permanent faults --------------------------------------------------------------------------------
PERMANENT = "e2e_rel_permanent"
#: task -> what its log must say
PERMANENT_FAULTS = {
    "dify_bad_key": "HTTP 401",
    "scade_bad_key": "HTTP 401",
    "arcee_bad_key": "HTTP 401",
    "flowy_bad_key": "HTTP 401",
    "dify_unknown_workflow": "HTTP 404",
    "scade_unknown_flow": "HTTP 404",
    "arcee_unknown_workflow": "HTTP 404",
    "flowy_unknown_app": "HTTP 404",
    "flowy_no_credits": "HTTP 402",
    "dify_rate_limited": "rate_limit_error",
    "dify_bad_input": "delay",
    "flowy_bad_input": "promt",
    "arcee_bad_input": "inputs must be a dict",
}


def _bad_key_connections(api, emulators):
    for emulator in emulators.running.values():
        conn_id = f"e2e_{emulator.platform_key}_bad_key"
        body = {
            "connection_id": conn_id,
            "conn_type": emulator.platform_key,
            "host": emulator.base_url,
            "password": "not-a-valid-key",
        }
        try:
            api.request("POST", "connections", json=body)
        except requests.HTTPError as exc:
            if exc.response is None or exc.response.status_code != 409:
                raise


def test_permanent_faults_fail_at_once_with_the_reason_and_spend_no_retry(airflow, e2e):
    emulators = e2e[1]
    api = airflow.api
    _bad_key_connections(api, emulators)
    emulators["flowy"].control.settings(credits_exhausted=True)
    emulators["dify"].control.inject(
        "status",
        START,
        method="POST",
        times=3,
        status=429,
        code="rate_limit_error",
        message="Rate limit exceeded: 100 runs per day on your plan.",
    )
    run_id = api.trigger(PERMANENT)

    assert finished(api, PERMANENT, run_id, timeout=240) == "failed"
    tis = {ti["task_id"]: ti for ti in api.task_instances(PERMANENT, run_id)}
    assert set(tis) == set(PERMANENT_FAULTS)
    problems = []
    for task_id, reason in PERMANENT_FAULTS.items():
        ti = tis[task_id]
        log = api.task_log(PERMANENT, run_id, task_id, ti["try_number"])
        if ti["state"] != "failed" or ti["try_number"] != 1:
            problems.append(
                f"{task_id}: {ti['state']} after try {ti['try_number']} (2 retries allowed, none expected)"
            )
        if reason not in log:
            problems.append(f"{task_id}: {reason!r} not in its log:\n{log[-1500:]}")
        if "retrying in" in log:
            problems.append(f"{task_id}: a permanent fault was retried:\n{log[-1500:]}")
    assert not problems, "\n".join(problems)
    # no retry storm: each failing request was sent once, and no run was started anywhere
    for platform, emulator in emulators.running.items():
        errors = [
            (r["method"], r["path"], r["status"])
            for r in emulator.control.state()["requests"]
            if (r["status"] or 0) >= 400
        ]
        assert len(errors) == len(set(errors)), f"{platform} got a failing request twice: {errors}"
        assert emulator.control.runs() == {}, f"{platform} started a run"


# -- 3. triggerer crash -------------------------------------------------------------------------------
def test_ten_deferred_runs_survive_a_kill_9_of_the_triggerer_each_with_exactly_one_remote_run(airflow, dify):
    api = airflow.api
    ends_at = time.time() + 45  # every remote run ends then, whenever its task started
    run_ids = [api.trigger(DEFERRED, conf={"ends_at": ends_at}) for _ in range(10)]
    wait_for_state(api, DEFERRED, run_ids, "deferred", timeout=40)
    assert len(dify.control.runs()) == 10

    airflow.kill_component("triggerer")
    airflow.start_component("triggerer")

    states = {run_id: finished(api, DEFERRED, run_id) for run_id in run_ids}
    assert set(states.values()) == {"success"}, [api.describe_run(DEFERRED, r) for r in run_ids]
    runs = dify.control.runs()
    assert len(runs) == 10 and dify.control.count("starts") == 10
    assert {api.xcom(DEFERRED, r, "run")["run_id"] for r in run_ids} == set(runs), (
        "each task kept its own run"
    )
    assert all(the_ti(api, DEFERRED, r)["try_number"] == 1 for r in run_ids), "no task retried"
    assert dify.control.count("stops") == 0, "a crash of the triggerer stopped a remote run"


# -- 4. worker crash --------------------------------------------------------------------------------
CRASH = "e2e_rel_worker_crash"
CRASH_TASKS = {
    "dify": "dify",
    "scade": "scade",
    "arcee": "arcee_orchestra",
    "flowy": "flowy",
}  # task -> emulator


def test_a_retry_after_the_task_process_is_killed_re_attaches_to_the_started_run_on_every_platform(
    airflow, e2e
):
    emulators = e2e[1]
    api = airflow.api
    run_id = api.trigger(CRASH)
    killed = {}
    for task_id, platform in CRASH_TASKS.items():
        # the run id is pushed to XCom after it was put in task_state_store: the run is started and stored
        def stored(task_id=task_id):
            return any(x["key"] == "run_id" for x in api.xcom_keys(CRASH, run_id, task_id))

        wait_until(
            stored, 90, f"{task_id} starting its remote run", describe=lambda: api.describe_run(CRASH, run_id)
        )
        ti = the_ti(api, CRASH, run_id, task_id)
        pids = airflow.task_processes(ti["id"])
        assert len(pids) == 1, f"{task_id}: expected one task process, found {pids}"
        (pid,) = pids
        os.kill(pid, signal.SIGKILL)
        killed[task_id] = (pid, api.xcom(CRASH, run_id, task_id, "run_id"))

    assert finished(api, CRASH, run_id, timeout=240) == "success", api.describe_run(CRASH, run_id)
    for task_id, platform in CRASH_TASKS.items():
        control = emulators[platform].control
        first_run = str(killed[task_id][1])
        ti = the_ti(api, CRASH, run_id, task_id)
        assert ti["try_number"] == 2, f"{task_id} was not retried after its process was killed"
        assert [str(r) for r in control.runs()] == [first_run], (
            f"{platform}: {len(control.runs())} remote runs"
        )
        assert control.count("starts") == 1
        assert str(api.xcom(CRASH, run_id, task_id)["run_id"]) == first_run
        log = api.task_log(CRASH, run_id, task_id, 2)
        assert "Re-attaching to" in log and first_run in log, log[-3000:]


# -- 5. user actions, restarts, timeout --------------------------------------------------------------
def test_marking_a_deferred_dify_task_failed_stops_its_remote_run_once(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DEFERRED, conf={"delay": 120})
    wait_for_state(api, DEFERRED, [run_id], "deferred")
    (remote_id,) = dify.control.runs()
    # on_kill runs in the triggerer that runs the trigger: a task marked failed before any triggerer
    # has picked its trigger up has nothing to stop it (a documented limit), so wait for the first poll.
    wait_until(lambda: dify.control.count("polls") >= 1, 60, "the triggerer polling the run")

    api.request(
        "PATCH",
        f"dags/{DEFERRED}/dagRuns/{quote(run_id, safe='')}/taskInstances/run",
        json={"new_state": "failed"},
    )

    wait_until(lambda: dify.control.count("stops") >= 1, 30, "the remote run being stopped")
    assert finished(api, DEFERRED, run_id) == "failed"
    time.sleep(2)
    assert dify.control.count("stops") == 1
    assert dify.control.runs()[remote_id]["stop_requested"]


def test_a_graceful_triggerer_restart_keeps_the_remote_run_going_and_the_task_succeeds(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DEFERRED, conf={"delay": 20})
    wait_for_state(api, DEFERRED, [run_id], "deferred")

    airflow.stop_component("triggerer")  # SIGTERM: the triggerer cancels its triggers as it shuts down
    airflow.start_component("triggerer")

    assert finished(api, DEFERRED, run_id) == "success", api.describe_run(DEFERRED, run_id)
    assert dify.control.count("stops") == 0, "a triggerer shutdown stopped the remote run"
    assert len(dify.control.runs()) == 1


def test_a_deferred_wait_past_its_timeout_stops_the_remote_run_and_fails(airflow, dify):
    api = airflow.api
    run_id = api.trigger("e2e_rel_timeout")

    assert finished(api, "e2e_rel_timeout", run_id) == "failed"
    (remote_id,) = dify.control.runs()
    assert dify.control.count("stops") == 1
    assert dify.control.runs()[remote_id]["stop_requested"]
    log = log_of(api, "e2e_rel_timeout", run_id)
    assert "did not finish within 12 s." in log and "Asked Dify to stop run" in log, log[-3000:]
    assert the_ti(api, "e2e_rel_timeout", run_id)["try_number"] == 1
