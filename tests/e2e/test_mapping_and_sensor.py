"""Dynamic task mapping and the operator + sensor split, on the real deployment."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

MAPPED = 20


def test_expand_over_20_inputs_runs_20_remote_runs_each_result_in_its_own_mapped_xcom(airflow, dify):
    api = airflow.api
    run_id = api.trigger("e2e_mapped")
    run = api.wait_for_run("e2e_mapped", run_id, timeout=240)
    assert run["state"] == "success", api.describe_run("e2e_mapped", run_id)

    mapped = sorted(
        (ti for ti in api.task_instances("e2e_mapped", run_id) if ti["task_id"] == "run"),
        key=lambda ti: ti["map_index"],
    )
    assert [ti["map_index"] for ti in mapped] == list(range(MAPPED))
    results = [api.xcom("e2e_mapped", run_id, "run", map_index=i) for i in range(MAPPED)]
    assert [r["outputs"]["result"] for r in results] == [f"item {i:02d}" for i in range(MAPPED)]
    assert [r["status"] for r in results] == ["succeeded"] * MAPPED
    remote_ids = {r["run_id"] for r in results}
    assert len(remote_ids) == MAPPED
    assert remote_ids == set(dify.control.runs()), "each mapped task instance started exactly one remote run"
    assert api.xcom("e2e_mapped", run_id, "collect") == [f"item {i:02d}" for i in range(MAPPED)]


def test_start_without_waiting_then_a_deferred_sensor_completes_the_same_run(airflow, dify):
    api = airflow.api
    run_id = api.trigger("e2e_sensor")
    run = api.wait_for_run("e2e_sensor", run_id, timeout=120)
    assert run["state"] == "success", api.describe_run("e2e_sensor", run_id)

    started = api.xcom("e2e_sensor", run_id, "start")
    assert started["status"] == "running", "the start task returned without waiting"
    waited = api.xcom("e2e_sensor", run_id, "wait")
    assert waited["run_id"] == started["run_id"]
    assert waited["status"] == "succeeded"
    assert waited["outputs"]["result"] == "started upstream"
    assert list(dify.control.runs()) == [started["run_id"]], "the sensor started nothing of its own"

    wait_ti = next(ti for ti in api.task_instances("e2e_sensor", run_id) if ti["task_id"] == "wait")
    log = api.task_log("e2e_sensor", run_id, "wait", wait_ti["try_number"])
    assert "Pausing task as DEFERRED" in log and f"run {started['run_id']} state: succeeded" in log
