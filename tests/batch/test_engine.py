"""The batch engine against the emulators: exactly once across a kill -9, lost starts, adaptive
concurrency under a platform's limit, quota halts, the trigger (serialization, on_kill), progress lines."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from airflow_workflow_providers.core.batch import engine as engine_module
from airflow_workflow_providers.core.batch.blocking import EngineThread
from airflow_workflow_providers.core.batch.engine import BatchEngine, BatchPlan
from airflow_workflow_providers.core.batch.journal import BatchStore
from airflow_workflow_providers.core.batch.trigger import BatchRunTrigger, validate_batch_event
from airflow_workflow_providers.core.registry import hook_class
from harness.processes import wait_until
from tests.batch.conftest import read_output

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOG = logging.getLogger("batch-test")
INPUTS = {
    "dify": lambda n, d: {
        "inputs": {"query": f"q{n}", "delay": d},
        "user": f"u:{n}",
        "files": None,
        "workflow_id": None,
    },
    "flowy": lambda n, d: {
        "app_id": "65f1a2b3c4d5e6f708090a02",
        "inputs": {"prompt": f"q{n}", "seconds": str(d)},
    },
    "scade": lambda n, d: {
        "flow_id": "1608",
        "start_node_id": "Qk3a-start",
        "end_node_id": "Zp9w-end",
        "result_node_id": None,
        "inputs": {"text": f"q{n}", "delay": d},
        "node_settings": None,
    },
    "arcee": lambda n, d: {
        "workflow_id": "0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002",
        "inputs": {"query": f"q{n}", "delay": d},
    },
}
CONN = {
    "dify": "dify_default",
    "flowy": "flowy_default",
    "scade": "scade_default",
    "arcee": "arcee_orchestra_default",
}
KEY = {"arcee": "arcee_orchestra"}


def prepared(tmp_path, platform, total, delay=0.3):
    store = BatchStore(str(tmp_path / "out.jsonl"))
    lines = [{"i": n, "id": f"item-{n}", "spec": INPUTS[platform](n, delay)} for n in range(total)]
    count, fingerprint = store.write_specs(lines)
    store.check_meta(count, fingerprint)
    return store


def engine(store, platform, total, concurrency=4, timeout=120.0, poll=0.2):
    plan = BatchPlan(
        total=total,
        concurrency=concurrency,
        poll_interval=poll,
        end_time=time.time() + timeout,
        item_timeout=60,
    )
    return BatchEngine(hook_class(KEY.get(platform, platform))(CONN[platform]), store, plan, LOG)


def statuses(store):
    return [line["status"] for line in read_output(store.output)]


def test_a_kill_9_mid_batch_then_a_resume_runs_every_item_exactly_once(emulators, tmp_path):
    dify = emulators["dify"]
    store = prepared(tmp_path, "dify", 24, delay=1.0)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.batch.engine_child", str(store.output), "24", "6"],
        cwd=REPO,
        env=os.environ.copy(),
    )
    try:
        deadline = time.time() + 60
        while dify.control.count("starts") < 9 and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert child.poll() is None, "the engine ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    started_before = dify.control.count("starts")
    assert 9 <= started_before < 24
    outcome = asyncio.run(engine(store, "dify", 24, concurrency=6).run())
    assert outcome == {"status": "completed", "message": "every item was attempted", "not_attempted": 0}
    tally = store.assemble()
    lines = read_output(store.output)
    assert sorted(line["index"] for line in lines) == list(range(24)) and tally["succeeded"] == 24
    runs = dify.control.runs()
    assert dify.control.count("starts") == len(runs) == 24, "no item was started twice"
    assert {line["run_id"] for line in lines} == set(runs)
    assert sorted(run["user"] for run in runs.values()) == sorted(f"u:{n}" for n in range(24))
    # a second resume has nothing left to do
    assert (
        asyncio.run(engine(store, "dify", 24).run())["not_attempted"] == 0
        and dify.control.count("starts") == 24
    )


async def intent(store, index, at):
    from airflow_workflow_providers.core.batch.journal import JournalWriter

    await JournalWriter(store, 1).commit({"i": index, "e": "intent", "t": at})


def test_a_start_whose_answer_was_not_recorded_is_found_on_dify_not_started_again(emulators, tmp_path):
    dify = emulators["dify"]
    store = prepared(tmp_path, "dify", 3)
    hook = hook_class("dify")("dify_default")
    lost = hook.start_run(**INPUTS["dify"](1, 0.3))  # the start went out; the engine died before recording it
    asyncio.run(intent(store, 1, time.time() - 1))
    asyncio.run(engine(store, "dify", 3).run())
    store.assemble()
    lines = {line["index"]: line for line in read_output(store.output)}
    assert lines[1]["run_id"] == lost.run_id and lines[1]["status"] == "succeeded"
    assert dify.control.count("starts") == 3


def test_a_start_whose_answer_was_not_recorded_is_failed_on_scade_rather_than_paid_twice(emulators, tmp_path):
    scade = emulators["scade"]
    store = prepared(tmp_path, "scade", 3)
    asyncio.run(intent(store, 0, time.time() - 1))
    asyncio.run(engine(store, "scade", 3).run())
    store.assemble()
    lines = {line["index"]: line for line in read_output(store.output)}
    assert lines[0]["status"] == "failed" and "offers no way to find the run" in lines[0]["error"]
    assert scade.control.count("starts") == 2


@pytest.mark.parametrize("platform", ["dify", "flowy", "scade", "arcee"])
def test_under_the_platforms_concurrency_limit_the_batch_lowers_its_window_and_every_item_succeeds(
    emulators, tmp_path, caplog, platform
):
    emulator = emulators[platform]
    emulator.control.settings(max_concurrent_runs=2)
    store = prepared(tmp_path, platform, 12, delay=0.5)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        outcome = asyncio.run(engine(store, platform, 12, concurrency=8).run())
    assert outcome["status"] == "completed"
    assert store.assemble()["succeeded"] == 12
    refusals = [
        r for r in emulator.control.state()["requests"] if r["method"] == "POST" and r["status"] in (400, 429)
    ]
    assert refusals, "the limit was reached"
    assert len(emulator.control.runs()) == 12
    assert "refused a start for load" in caplog.text and "at most 1 runs in flight now" in caplog.text


def test_a_quota_error_stops_new_starts_and_reports_what_was_not_attempted(emulators, tmp_path):
    dify = emulators["dify"]
    store = prepared(tmp_path, "dify", 5)
    dify.control.inject(
        "status",
        "/workflows/run",
        method="POST",
        status=429,
        code="rate_limit_error",
        message="You have reached the limit of your plan.",
    )
    outcome = asyncio.run(engine(store, "dify", 5, concurrency=1).run())
    assert outcome["status"] == "halted" and outcome["not_attempted"] == 5
    assert "rate_limit_error" in outcome["message"]
    assert dify.control.runs() == {}


def test_flowy_out_of_credits_halts_the_batch_and_running_items_finish(emulators, tmp_path):
    flowy = emulators["flowy"]
    store = prepared(tmp_path, "flowy", 6, delay=1.0)

    async def scenario():
        batch = asyncio.create_task(engine(store, "flowy", 6, concurrency=2).run())
        while len(flowy.control.runs()) < 2:
            await asyncio.sleep(0.05)
        flowy.control.settings(credits_exhausted=True)
        return await batch

    outcome = asyncio.run(scenario())
    assert outcome["status"] == "halted" and outcome["not_attempted"] == 4 and "402" in outcome["message"]
    store.assemble()
    assert statuses(store) == ["succeeded", "succeeded"]


def test_the_trigger_kwargs_are_small_json_and_name_no_item_nor_key(emulators, tmp_path):
    store = prepared(tmp_path, "dify", 50)
    trigger = BatchRunTrigger(
        platform="dify",
        conn_id="dify_default",
        output_path=str(store.output),
        total=50,
        concurrency=4,
        poll_interval=0.2,
        end_time=time.time() + 60,
        item_timeout=60,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_workflow_providers.core.batch.trigger.BatchRunTrigger"
    text = str(kwargs)
    assert len(text) < 600 and "q1" not in text and "app-slow" not in text
    assert BatchRunTrigger(**kwargs).serialize() == (path, kwargs)


def test_the_trigger_runs_the_batch_and_on_kill_stops_the_runs_in_flight(emulators, tmp_path):
    dify = emulators["dify"]
    store = prepared(tmp_path, "dify", 6, delay=30)
    kwargs = {
        "platform": "dify",
        "conn_id": "dify_default",
        "output_path": str(store.output),
        "total": 6,
        "concurrency": 3,
        "poll_interval": 0.2,
        "end_time": time.time() + 120,
        "item_timeout": 60,
    }

    async def scenario():
        trigger = BatchRunTrigger(**kwargs)
        running = asyncio.create_task(anext(trigger.run()))
        while len(dify.control.runs()) < 3:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the run records reach the journal
        running.cancel()  # what the triggerer does first when a user marks the task
        await asyncio.gather(running, return_exceptions=True)
        await trigger.on_kill()

    asyncio.run(scenario())
    assert dify.control.count("stops") == 3 and dify.control.count("starts") == 3
    assert statuses(store) == ["cancelled"] * 3
    assert {line["id"] for line in read_output(store.output)} == {"item-0", "item-1", "item-2"}


def test_a_worker_engine_stopped_from_another_thread_stops_its_runs_and_one_stopped_early_starts_none(
    emulators, tmp_path
):
    dify = emulators["dify"]
    worker = EngineThread(engine(prepared(tmp_path / "a", "dify", 6, delay=30), "dify", 6, concurrency=3))
    stopper = threading.Thread(target=stop_once_in_flight, args=(worker, dify, 3))
    stopper.start()
    outcome = worker.run()
    stopper.join()
    assert (outcome["status"], outcome["message"], outcome["not_attempted"]) == (
        "timeout",
        "a test stopped it",
        3,
    )
    assert dify.control.count("stops") == 3 and dify.control.count("starts") == 3

    early = EngineThread(engine(prepared(tmp_path / "b", "dify", 2), "dify", 2))
    assert not early.stop("stopped before it ran", 0)
    assert early.run()["not_attempted"] == 2 and dify.control.count("starts") == 3


def stop_once_in_flight(worker, dify, runs):
    try:
        wait_until(lambda: len(dify.control.runs()) == runs, 60, f"{runs} runs in flight")
    finally:
        worker.stop("a test stopped it", 30)


def test_the_trigger_event_schema(emulators, tmp_path):
    store = prepared(tmp_path, "dify", 2)
    trigger = BatchRunTrigger(
        platform="dify",
        conn_id="dify_default",
        output_path=str(store.output),
        total=2,
        concurrency=2,
        poll_interval=0.2,
        end_time=time.time() + 60,
        item_timeout=60,
    )

    async def first():
        return await anext(trigger.run())

    event = validate_batch_event(asyncio.run(first()).payload)
    assert event == {
        "status": "completed",
        "message": "every item was attempted",
        "not_attempted": 0,
        "output_path": str(store.output),
        "total": 2,
    }
    with pytest.raises(Exception, match="unknown status"):
        validate_batch_event({**event, "status": "done"})
    with pytest.raises(Exception, match="must be a dict"):
        validate_batch_event({**event, "items": []})


def test_progress_lines_say_done_failed_in_flight_rate_and_usage(emulators, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(engine_module, "PROGRESS_EVERY", 0.3)
    store = prepared(tmp_path, "dify", 8, delay=0.4)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        asyncio.run(engine(store, "dify", 8, concurrency=2).run())
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Batch progress:")]
    assert progress, caplog.text
    assert (
        "in flight (limit 2)" in progress[-1]
        and "items/min" in progress[-1]
        and "usage so far: elapsed_time=" in progress[-1]
    )
    assert "Batch finished: 8/8 done (0 failed)" in caplog.text
