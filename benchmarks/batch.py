"""Batch runs: ``python -m benchmarks.batch [--items 10000] [--concurrency 50] [--run-seconds 2] [--quick]``.

The batch engine -- the coroutine the batch trigger runs on the triggerer -- drives N items through the
Dify emulator (its own process) at ``concurrency``; the engine runs in this process's event loop
beside a loop-lag probe. Reports throughput against the ideal (concurrency / run time), the loop's lag
(p50/p99/max), and the process's memory when 1,000 and when N items are done. Writes
``benchmarks/results/batch.json``; ``--mapped`` adds the side-by-side on a real deployment
(:mod:`benchmarks.batch_mapped`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.emulator import SLOW_KEY, EmulatorProcess

RESULTS = Path(__file__).parent / "results"
PROBE_EVERY = 0.01


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


async def _probe(lags: list[float]) -> None:
    """How late the loop wakes a task that asked to sleep PROBE_EVERY: the lag every trigger suffers."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(PROBE_EVERY)
        lags.append(loop.time() - before - PROBE_EVERY)


def run(items: int, concurrency: int, run_seconds: float, poll_interval: float, work: Path) -> dict[str, Any]:
    from airflow_workflow_providers.core.batch.engine import BatchEngine, BatchPlan
    from airflow_workflow_providers.core.batch.journal import BatchStore
    from airflow_workflow_providers.dify.hooks import DifyHook

    emulator = EmulatorProcess()
    try:
        os.environ["AIRFLOW_CONN_DIFY_BATCH_BENCH"] = json.dumps(
            {"conn_type": "dify", "host": emulator.base_url, "password": SLOW_KEY}
        )
        store = BatchStore(str(work / "results.jsonl"))
        lines = (
            {
                "i": n,
                "id": n,
                "spec": {
                    "inputs": {"query": f"item-{n}", "delay": run_seconds},
                    "user": f"bench:{n}",
                    "files": None,
                    "workflow_id": None,
                },
            }
            for n in range(items)
        )
        total, fingerprint = store.write_specs(lines)
        store.check_meta(total, fingerprint)
        plan = BatchPlan(
            total=total,
            concurrency=concurrency,
            poll_interval=poll_interval,
            end_time=time.time() + 24 * 3600,
            item_timeout=600,
        )
        log = logging.getLogger("benchmarks.batch")
        engine = BatchEngine(DifyHook("dify_batch_bench"), store, plan, log)
        me = psutil.Process()
        lags: list[float] = []
        memory: dict[str, float] = {}

        async def watch() -> None:
            while True:
                await asyncio.sleep(0.2)
                done = engine.state.done if hasattr(engine, "state") else 0
                if done >= min(1000, items) and "at_1000_mb" not in memory:
                    memory["at_1000_mb"] = me.memory_info().rss / 2**20
                memory["peak_mb"] = max(memory.get("peak_mb", 0.0), me.memory_info().rss / 2**20)

        async def main() -> dict[str, Any]:
            probe, watcher = asyncio.create_task(_probe(lags)), asyncio.create_task(watch())
            cpu0, started = me.cpu_times(), time.monotonic()
            outcome = await engine.run()
            elapsed = time.monotonic() - started
            memory["at_end_mb"] = me.memory_info().rss / 2**20
            cpu1 = me.cpu_times()
            probe.cancel()
            watcher.cancel()
            return {
                "outcome": outcome,
                "elapsed_s": elapsed,
                "cpu_s": cpu1.user + cpu1.system - cpu0.user - cpu0.system,
            }

        emulator_cpu0 = emulator.cpu_seconds()
        raw = asyncio.run(main())
        tally = store.assemble()
        counts = {
            k: v for k, v in emulator.control.state()["counts"].items() if k in ("starts", "polls", "stops")
        }
        ideal = concurrency / run_seconds
        throughput = items / raw["elapsed_s"]
        return {
            "items": items,
            "concurrency": concurrency,
            "run_seconds": run_seconds,
            "poll_interval": poll_interval,
            "outcome": raw["outcome"]["status"],
            "succeeded": tally["succeeded"],
            "failed": tally["failed"],
            "elapsed_s": round(raw["elapsed_s"], 1),
            "throughput_per_s": round(throughput, 2),
            "ideal_per_s": ideal,
            "ratio_to_ideal": round(throughput / ideal, 3),
            "lag_p50_ms": round(1000 * _percentile(lags, 50), 2),
            "lag_p99_ms": round(1000 * _percentile(lags, 99), 2),
            "lag_max_ms": round(1000 * max(lags, default=0.0), 1),
            "rss_at_1000_mb": round(memory.get("at_1000_mb", 0.0), 1),
            "rss_at_end_mb": round(memory["at_end_mb"], 1),
            "rss_growth_mb": round(memory["at_end_mb"] - memory.get("at_1000_mb", memory["at_end_mb"]), 1),
            "engine_cpu_s": round(raw["cpu_s"], 1),
            "emulator_cpu_s": round(emulator.cpu_seconds() - emulator_cpu0, 1),
            "emulator_counts": counts,
            "polls_per_item": round(counts.get("polls", 0) / items, 2),
            "journal_segments": len(store.segments()),
        }
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.batch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--run-seconds", type=float, default=2.0)
    parser.add_argument(
        "--poll-interval", type=float, default=5.0, help="the longest pause between two polls of a run"
    )
    parser.add_argument("--quick", action="store_true", help="500 items: about 30 s")
    parser.add_argument("--out", type=Path, default=RESULTS / "batch.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    items = 500 if args.quick else args.items
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as work:
        result = run(items, args.concurrency, args.run_seconds, args.poll_interval, Path(work))
    result["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
