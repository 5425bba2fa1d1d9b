"""The batch's pure parts: the AIMD window, the poll schedule, max_failures, journal replay and folding."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_workflow_providers.core.batch import journal as journal_module
from airflow_workflow_providers.core.batch.journal import (
    DONE,
    INTENT,
    PENDING,
    STARTED,
    BatchStore,
    JournalWriter,
)
from airflow_workflow_providers.core.batch.operator import allowed_failures
from airflow_workflow_providers.core.batch.window import ConcurrencyWindow, poll_delay


def test_the_window_halves_once_per_round_and_grows_back_by_one_slot_per_window_never_above_its_ceiling():
    window = ConcurrencyWindow(8)
    assert window.slots == 8
    assert window.shrink(sent_at=1.0, now=2.0) and window.slots == 4
    assert not window.shrink(sent_at=1.5, now=2.1)  # sent before the cut: says nothing new
    assert window.shrink(sent_at=2.5, now=3.0) and window.slots == 2
    for _ in range(3):
        window.grow()  # 2 -> 2.5 -> 2.9 -> 3.24
    assert window.slots == 3
    for _ in range(100):
        window.grow()
    assert window.slots == 8 and window.limit == 8.0
    for n in range(10):
        window.shrink(sent_at=10.0 + n, now=10.0 + n)
    assert window.slots == 1
    with pytest.raises(ValueError):
        ConcurrencyWindow(0)


def test_polls_wait_for_the_expected_end_then_come_quickly_and_never_exceed_the_interval():
    assert (
        poll_delay(0.0, None, 5.0) == 0.5
        and poll_delay(3.0, None, 5.0) == 1.5
        and poll_delay(60, None, 5.0) == 5.0
    )
    assert poll_delay(0.0, 2.0, 5.0) == pytest.approx(1.6)
    assert poll_delay(0.0, 20.0, 5.0) == 5.0
    assert poll_delay(1.7, 2.0, 5.0) == pytest.approx(0.1)
    assert poll_delay(12.0, 2.0, 5.0) == 5.0
    assert poll_delay(2.5, 2.0, 0.05) == 0.05


@pytest.mark.parametrize(
    ("max_failures", "total", "allowed"), [(0, 100, 0), (3, 100, 3), (0.05, 100, 5), (0.05, 10, 0)]
)
def test_max_failures_is_a_count_or_a_fraction(max_failures, total, allowed):
    assert allowed_failures(max_failures, total) == allowed


@pytest.mark.parametrize("wrong", [-1, 1.0, 1.5, True, "5"])
def test_max_failures_rejects_what_it_cannot_mean(wrong):
    with pytest.raises(ValueError):
        allowed_failures(wrong, 10)


def test_replay_is_last_wins_until_done_which_is_final(tmp_path):
    store = BatchStore(str(tmp_path / "out.jsonl"))
    records = [
        {"i": 0, "e": "intent", "t": 1.0},
        {"i": 0, "e": "void"},
        {"i": 1, "e": "intent", "t": 1.0},
        {"i": 1, "e": "run", "run": {"run_id": "r1"}},
        {"i": 2, "e": "intent", "t": 2.0},
        {"i": 3, "e": "done", "r": {"status": "succeeded", "total_tokens": 5}},
        {"i": 3, "e": "intent", "t": 9.0},
        {"i": 4, "e": "done", "r": {"status": "failed", "total_tokens": 2}},
    ]
    store.write_segment("g000001-00000001-aaaaaa.jsonl", records)
    state = store.load(6)
    assert list(state.stage) == [PENDING, STARTED, INTENT, DONE, DONE, PENDING]
    assert state.refs == {1: {"run_id": "r1"}} and state.intents == {2: 2.0}
    assert state.tally.to_json() == {"succeeded": 1, "failed": 1, "usage": {"total_tokens": 7}}
    assert store.next_generation() == 2


def test_a_writer_folds_its_segments_and_a_crash_between_fold_and_delete_replays_the_same(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(journal_module, "COMPACT_EVERY", 3)
    store = BatchStore(str(tmp_path / "out.jsonl"))
    writer = JournalWriter(store, 1)

    async def write():
        for n in range(7):
            await writer.commit({"i": n, "e": "done", "r": {"index": n, "status": "succeeded"}})

    asyncio.run(write())
    names = [p.name for p in store.segments()]
    assert len(names) == 3 and names[0].endswith(f"00000003c-{writer.writer}.jsonl")
    state = store.load(7)
    assert state.done == 7
    # a crash after writing the fold but before deleting what it folded: both are there
    store.write_segment(
        names[0].replace("c-", "-"), [{"i": 0, "e": "done", "r": {"index": 0, "status": "succeeded"}}]
    )
    assert store.load(7).tally.succeeded == 7
    assert store.assemble()["succeeded"] == 7
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(7))


def test_a_flush_cancelled_mid_write_still_stores_its_records_before_the_next_flush_returns(tmp_path):
    """The engine ends by cancelling its periodic flusher, then flushing: records the cancelled flush had
    taken must be stored by the time that last flush returns (the output is assembled right after)."""
    import threading

    class SlowStore(BatchStore):
        def write_segment(self, name, records):
            writing.set()
            release.wait(10)
            super().write_segment(name, records)

    writing, release = threading.Event(), threading.Event()
    store = SlowStore(str(tmp_path / "out.jsonl"))
    writer = JournalWriter(store, 1)

    async def end_of_engine():
        writer.add({"i": 0, "e": "done", "r": {"index": 0, "status": "cancelled"}})
        flusher = asyncio.create_task(writer.flush())
        await asyncio.to_thread(writing.wait, 10)  # the flusher's write is under way
        flusher.cancel()
        threading.Timer(0.2, release.set).start()
        await writer.flush()
        return store.load(1).done  # read here: asyncio.run's end would wait for the write thread anyway

    assert asyncio.run(end_of_engine()) == 1
