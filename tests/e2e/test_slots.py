"""Slots stay free: 10 remote runs of 20 s through a pool of 2 slots, deferrable vs blocking.

The structural facts are asserted; the wall-clock comparison goes to BENCHMARKS.md
(``python -m harness.slots --repeat 3``).
"""

from __future__ import annotations

import pytest

from harness.slots import POOL_SLOTS, RUN_SECONDS, RUNS, max_overlap, measure

pytestmark = pytest.mark.e2e


def test_deferred_runs_hold_no_pool_slot_while_ten_remote_runs_proceed_at_once(airflow, dify):
    m = measure(airflow.api, "e2e_slots_deferred")
    print(f"\ndeferrable: {RUNS} runs of {RUN_SECONDS} s through {POOL_SLOTS} slots in {m.seconds:.1f} s")

    assert set(m.final_states.values()) == {"success"}, m.final_states
    assert len(dify.control.runs()) == RUNS
    # never more than the pool's slots running, yet all ten remote runs were in progress together
    assert m.max_pool("running_slots") <= POOL_SLOTS
    assert max_overlap(dify.control.runs(), RUN_SECONDS) == RUNS
    # a moment where every task instance waited in DEFERRED and both slots were open
    waiting = m.all_waiting_moments()
    assert waiting, (
        f"never saw all {RUNS} deferred with the pool empty; samples: {[(s.at, s.states, s.pool) for s in m.samples]}"
    )
    off = [
        (s.at, s.pool) for s in waiting if s.pool["deferred_slots"] != RUNS or s.pool["occupied_slots"] != 0
    ]
    assert not off, off
    # all ten finish in about one run's time plus Airflow's own task start-up, far from 10 x 20 s / 2
    assert m.seconds < RUN_SECONDS * 3, m.seconds


def test_blocking_runs_hold_their_pool_slot_for_the_whole_remote_run(airflow, dify):
    m = measure(airflow.api, "e2e_slots_blocking")
    print(f"\nblocking: {RUNS} runs of {RUN_SECONDS} s through {POOL_SLOTS} slots in {m.seconds:.1f} s")

    assert set(m.final_states.values()) == {"success"}, m.final_states
    assert m.most("deferred") == 0
    assert m.max_pool("running_slots") == POOL_SLOTS
    assert max_overlap(dify.control.runs(), RUN_SECONDS) <= POOL_SLOTS
    assert m.seconds >= RUNS / POOL_SLOTS * RUN_SECONDS
