"""A 500-item deferred Dify batch on the real deployment survives a kill -9 of its triggerer: after a
restart every item ends in the output exactly once and the platform saw exactly 500 starts -- with the
items and the output on local disk, and in an S3-compatible store (moto in server mode). A blocking batch
marked failed or success, sent SIGTERM or cleared stops every run in flight and writes them cancelled."""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest
import requests

from harness.processes import wait_until
from tests.e2e.test_contract import clear, mark
from tests.e2e.test_reliability import finished, the_ti

pytestmark = pytest.mark.e2e

BATCH = "e2e_batch_dify"
TOTAL = 500
ITEMS = "".join(json.dumps({"query": f"item-{n}", "delay": 2}) + "\n" for n in range(TOTAL))


def run_with_a_triggerer_crash(airflow, dify, items: str, output_path: str) -> str:
    api = airflow.api
    run_id = api.trigger(BATCH, conf={"items": items, "output_path": output_path})
    wait_until(
        lambda: dify.control.count("starts") >= TOTAL // 2,
        300,
        "half of the items started",
        interval=0.5,
        describe=lambda: api.describe_run(BATCH, run_id),
    )
    ti = next(ti for ti in api.task_instances(BATCH, run_id) if ti["task_id"] == "batch")
    assert ti["state"] == "deferred", "the batch runs on the triggerer, holding no worker slot"
    airflow.kill_component("triggerer")
    killed_at = dify.control.count("starts")
    airflow.start_component("triggerer")
    state = api.wait_for_run(BATCH, run_id, timeout=600)["state"]
    assert state == "success", api.describe_run(BATCH, run_id)
    assert killed_at < TOTAL, "the kill came before the batch was done"
    return run_id


def check(airflow, dify, run_id: str, lines: list[str]) -> None:
    results = [json.loads(line) for line in lines]
    assert sorted(r["index"] for r in results) == list(range(TOTAL)), "every item exactly once"
    assert all(r["status"] == "succeeded" for r in results)
    runs = dify.control.runs()
    assert dify.control.count("starts") == len(runs) == TOTAL, "no item was started twice"
    assert {r["run_id"] for r in results} == set(runs)
    summary = airflow.api.xcom(BATCH, run_id, "batch")
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (TOTAL, TOTAL, 0)
    ti = next(ti for ti in airflow.api.task_instances(BATCH, run_id) if ti["task_id"] == "batch")
    assert ti["try_number"] == 1, "the batch resumed without a task retry"


def test_a_500_item_batch_survives_a_kill_9_of_its_triggerer_with_every_item_once(airflow, dify, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(ITEMS)
    output = tmp_path / "results.jsonl"
    run_id = run_with_a_triggerer_crash(airflow, dify, str(items), str(output))
    check(airflow, dify, run_id, output.read_text().splitlines())
    assert "Resuming: re-attaching to" in airflow.api.task_log(BATCH, run_id, "batch", 1)


@pytest.fixture
def s3(airflow):
    """A moto S3 server on loopback, a bucket, and the Airflow connection ``e2e_s3`` that reaches it."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="batch")
    body = {
        "connection_id": "e2e_s3",
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": json.dumps({"endpoint_url": endpoint, "region_name": "us-east-1"}),
    }
    try:
        airflow.api.request("POST", "connections", json=body)
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code != 409:
            raise
        airflow.api.request("PATCH", "connections/e2e_s3", json=body)
    yield client
    server.stop()


def test_the_same_batch_with_items_output_and_journal_in_s3(airflow, dify, s3):
    s3.put_object(Bucket="batch", Key="in/items.jsonl", Body=ITEMS.encode())
    run_id = run_with_a_triggerer_crash(
        airflow, dify, "s3://e2e_s3@batch/in/items.jsonl", "s3://e2e_s3@batch/out/results.jsonl"
    )
    lines = s3.get_object(Bucket="batch", Key="out/results.jsonl")["Body"].read().decode().splitlines()
    check(airflow, dify, run_id, lines)
    journal = s3.list_objects_v2(Bucket="batch", Prefix="out/results.jsonl.batch/journal/")
    assert journal["KeyCount"] > 0, "the progress was checkpointed in S3 objects"


BLOCKING = "e2e_batch_dify_blocking"
IN_FLIGHT = 5  # the blocking DAG's concurrency


def sigterm(airflow, run_id):
    """What a kill (a worker's warm shutdown) sends the task process."""
    (pid,) = airflow.task_processes(the_ti(airflow.api, BLOCKING, run_id, "batch")["id"])
    os.kill(pid, signal.SIGTERM)


STOPS = {
    "marked failed": lambda airflow, run_id: mark(airflow.api, BLOCKING, run_id, "failed", "batch"),
    "marked success": lambda airflow, run_id: mark(airflow.api, BLOCKING, run_id, "success", "batch"),
    "killed": sigterm,
}


def running_blocking_batch(airflow, dify, tmp_path, delays):
    """A blocking batch of items lasting ``delays`` seconds, once its first runs are in flight: (run id, output)."""
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"query": f"item-{n}", "delay": d}) + "\n" for n, d in enumerate(delays))
    )
    output = tmp_path / "results.jsonl"
    api = airflow.api
    run_id = api.trigger(BLOCKING, conf={"items": str(items), "output_path": str(output)})
    wait_until(
        lambda: dify.control.count("starts") >= IN_FLIGHT,
        120,
        "the blocking batch's first runs started",
        interval=0.5,
        describe=lambda: api.describe_run(BLOCKING, run_id),
    )
    assert the_ti(api, BLOCKING, run_id, "batch")["state"] == "running"
    return run_id, output


def results(output):
    return {line["index"]: line for line in map(json.loads, output.read_text().splitlines())}


@pytest.mark.parametrize("action", sorted(STOPS))
def test_a_blocking_batch_stopped_by_airflow_stops_every_run_in_flight_and_writes_them_cancelled(
    airflow, dify, tmp_path, action
):
    run_id, output = running_blocking_batch(airflow, dify, tmp_path, [300] * 20)

    STOPS[action](airflow, run_id)

    wait_until(lambda: output.exists() and output.read_text().count("\n") == IN_FLIGHT, 60, "the output")
    assert finished(airflow.api, BLOCKING, run_id) == ("success" if action == "marked success" else "failed")
    lines = list(results(output).values())
    assert all(
        line["status"] == "cancelled" and "Airflow stopped the task" in line["error"] for line in lines
    ), lines
    runs = dify.control.runs()
    assert {line["run_id"] for line in lines} == set(runs) and all(r["stop_requested"] for r in runs.values())
    assert dify.control.count("starts") == IN_FLIGHT == dify.control.count("stops"), (
        "no run started after the stop"
    )


def test_a_blocking_batch_cleared_mid_way_stops_its_runs_in_flight_and_the_next_try_runs_only_the_rest(
    airflow, dify, tmp_path
):
    run_id, output = running_blocking_batch(airflow, dify, tmp_path, [300] * IN_FLIGHT + [1] * 10)

    clear(airflow.api, BLOCKING, run_id, "batch")

    assert finished(airflow.api, BLOCKING, run_id) == "failed"  # 5 cancelled items; max_failures is 0
    assert the_ti(airflow.api, BLOCKING, run_id, "batch")["try_number"] == 2
    lines = results(output)
    assert sorted(lines) == list(range(15)), "every item once"
    assert {n: lines[n]["status"] for n in range(IN_FLIGHT)} == dict.fromkeys(range(IN_FLIGHT), "cancelled")
    assert all(lines[n]["status"] == "succeeded" for n in range(IN_FLIGHT, 15))
    assert (dify.control.count("starts"), dify.control.count("stops")) == (15, IN_FLIGHT)
