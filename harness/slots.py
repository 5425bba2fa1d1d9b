"""Slots: N slow remote runs through a 2-slot pool, deferrable vs blocking, sampled through the REST API.

``python -m harness.slots --repeat 3`` starts a deployment, measures both modes ``repeat`` times and
writes the medians into ``BENCHMARKS.md`` ("Slots: deferrable vs blocking"). The e2e test
``tests/e2e/test_slots.py`` runs :func:`measure` once per mode and asserts the structural facts.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.api import AirflowAPI

POOL = "e2e_two_slots"
POOL_SLOTS = 2
RUNS = 10
RUN_SECONDS = 20
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Sample:
    """What the API showed at one moment: pool occupancy and how many of our task instances are in each state."""

    at: float
    pool: dict[str, int]
    states: dict[str, int]
    settled: bool = True
    """The pool read the same just before and just after the task states (two API calls, not one snapshot)."""


@dataclass
class Measurement:
    dag_id: str
    run_ids: list[str]
    seconds: float
    final_states: dict[str, str]
    samples: list[Sample] = field(default_factory=list)

    def most(self, state: str) -> int:
        return max((s.states.get(state, 0) for s in self.samples), default=0)

    def max_pool(self, key: str) -> int:
        return max((s.pool[key] for s in self.samples), default=0)

    def all_waiting_moments(self) -> list[Sample]:
        """Samples where every run's task was deferred and the pool had every slot open."""
        return [
            s
            for s in self.samples
            if s.settled
            and s.states.get("deferred", 0) == len(self.run_ids)
            and s.pool["running_slots"] == 0
            and s.pool["open_slots"] == POOL_SLOTS
        ]


def measure(
    api: AirflowAPI, dag_id: str, runs: int = RUNS, timeout: float = 600, interval: float = 0.5
) -> Measurement:
    """Trigger ``runs`` runs of ``dag_id`` at once and sample pool and task states until all end."""
    started = time.monotonic()
    run_ids = [api.trigger(dag_id) for _ in range(runs)]
    ours = set(run_ids)
    samples: list[Sample] = []
    deadline = started + timeout
    while True:
        before = _slots(api)
        tis = [
            ti
            for ti in api.get(f"dags/{dag_id}/dagRuns/~/taskInstances", limit=1000)["task_instances"]
            if ti["dag_run_id"] in ours
        ]
        pool = _slots(api)
        states: dict[str, int] = {}
        for ti in tis:
            states[str(ti["state"])] = states.get(str(ti["state"]), 0) + 1
        samples.append(Sample(time.monotonic() - started, pool, states, settled=pool == before))
        finished = {
            ti["dag_run_id"]: ti["state"]
            for ti in tis
            if ti["state"] in ("success", "failed", "upstream_failed")
        }
        if len(finished) == runs:
            ends = [api.wait_for_run(dag_id, run_id, timeout=60)["end_date"] for run_id in run_ids]
            last_end = max(datetime.fromisoformat(end).timestamp() for end in ends)
            return Measurement(dag_id, run_ids, last_end - _wall(started), finished, samples)
        if time.monotonic() > deadline:
            stuck = [api.describe_run(dag_id, run_id) for run_id in run_ids if run_id not in finished]
            raise TimeoutError(
                f"{dag_id}: {len(stuck)} of {runs} runs unfinished after {timeout:.0f} s: {'; '.join(stuck)}"
            )
        time.sleep(interval)


def _slots(api: AirflowAPI) -> dict[str, int]:
    pool = api.pool(POOL)
    return {
        k: pool[k]
        for k in ("running_slots", "queued_slots", "deferred_slots", "occupied_slots", "open_slots")
    }


def _wall(monotonic_at: float) -> float:
    """Convert a monotonic instant to wall-clock epoch seconds."""
    return time.time() - (time.monotonic() - monotonic_at)


def max_overlap(runs: dict[str, dict[str, Any]], seconds: float) -> int:
    """Most remote runs in progress at one instant, from the emulator's run creation times."""
    starts = sorted(run["created_at"] for run in runs.values())
    return max((sum(1 for s in starts if s <= t < s + seconds) for t in starts), default=0)


# -- benchmark ---------------------------------------------------------------------------------------
SECTION = "## Slots: deferrable vs blocking"


def write_section(path: Path, text: str) -> None:
    """Replace (or append) this section of BENCHMARKS.md, leaving other sections alone."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION in current:
        head, _, rest = current.partition(SECTION)
        nxt = rest.find("\n## ")
        current = head + text.rstrip() + "\n" + (rest[nxt:] if nxt >= 0 else "")
    else:
        current = current.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(current)


def report(results: dict[str, list[Measurement]], db: str) -> str:
    import importlib.metadata as md

    def row(mode: str) -> str:
        ms = results[mode]
        secs = [m.seconds for m in ms]
        return (
            f"| {mode} | {len(ms)} | {statistics.median(secs):.1f} | {min(secs):.1f}–{max(secs):.1f} | "
            f"{max(m.max_pool('running_slots') for m in ms)} | {max(m.most('deferred') for m in ms)} |"
        )

    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return "\n".join(
        [
            SECTION,
            "",
            f"{RUNS} DAG runs of one `DifyRunWorkflowOperator` task each, in a pool of {POOL_SLOTS} slots "
            f"(`include_deferred=False`), against the Dify emulator's slow app with `delay: {RUN_SECONDS}` "
            "(each remote run lasts 20 s). Seconds = from the first trigger through the REST API to the last "
            "DAG run's end. Real deployment: api-server, scheduler with LocalExecutor, dag-processor and "
            "triggerer as separate processes (`harness`).",
            "",
            "| mode | repeats | median s | range s | max running pool slots | max tasks deferred at once |",
            "|---|---|---|---|---|---|",
            row("deferrable"),
            row("blocking"),
            "",
            f"Lower bounds: one run's time ({RUN_SECONDS} s) when waiting frees the slot, {RUNS // POOL_SLOTS} rounds "
            f"x {RUN_SECONDS} s = {RUNS // POOL_SLOTS * RUN_SECONDS} s when each wait holds it; the rest is Airflow's "
            "own task start-up and scheduling on this machine.",
            "",
            f"Machine: {platform.machine()}, {cpu} CPUs, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}; apache-airflow {md.version('apache-airflow')}; metadata DB {db}.",
            "",
            "Command: `.venv/bin/python -m harness.slots --repeat 3` (the e2e test `tests/e2e/test_slots.py` "
            "runs one repeat of each and asserts the structural facts instead of times).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from harness.session import e2e_deployment

    parser = argparse.ArgumentParser(prog="python -m harness.slots", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    results: dict[str, list[Measurement]] = {"deferrable": [], "blocking": []}
    with e2e_deployment() as (deployment, emulators):
        for i in range(args.repeat):
            for mode, dag_id in (("deferrable", "e2e_slots_deferred"), ("blocking", "e2e_slots_blocking")):
                emulators.reset()
                m = measure(deployment.api, dag_id)
                results[mode].append(m)
                print(
                    f"repeat {i + 1} {mode}: {m.seconds:.1f} s, max deferred at once {m.most('deferred')}",
                    flush=True,
                )
        text = report(results, deployment.db.name)
    write_section(args.output, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
