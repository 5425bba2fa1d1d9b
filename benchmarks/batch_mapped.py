"""``python -m benchmarks.batch_mapped [--items 1000] [--delay 2]``: the same items on a real deployment
(api-server, scheduler + LocalExecutor, dag-processor, triggerer) as one deferred batch task and as
dynamically mapped deferred run tasks: wall time, scheduler CPU (its own process), worker CPU (its
task processes, forked by the scheduler's LocalExecutor), triggerer CPU (with its trigger runner) and the
task instances created. Writes ``benchmarks/results/batch_mapped.json``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.session import e2e_deployment  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DAGS = Path(__file__).parent / "batch_dags"


def _cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants: the live ones, and the ended ones their parents reaped
    (the triggerer runs its triggers in a child process; the scheduler's LocalExecutor forks the tasks)."""
    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def measure(deployment: Any, dag_id: str, conf: dict[str, Any], timeout: float) -> dict[str, Any]:
    api = deployment.api
    scheduler, triggerer = deployment.processes["scheduler"].pid, deployment.processes["triggerer"].pid
    own = psutil.Process(scheduler)
    s0, w0, t0 = sum(own.cpu_times()[:2]), _cpu(scheduler), _cpu(triggerer)
    started = time.monotonic()
    run_id = api.trigger(dag_id, conf=conf)
    state = api.wait_for_run(dag_id, run_id, timeout=timeout)["state"]
    wall = time.monotonic() - started
    s1, w1, t1 = sum(own.cpu_times()[:2]), _cpu(scheduler), _cpu(triggerer)
    tis = api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1)["total_entries"]
    failed = api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", state="failed", limit=1)[
        "total_entries"
    ]
    return {
        "state": state,
        "failed_task_instances": failed,
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "wall_s": round(wall, 1),
        "scheduler_cpu_s": round(s1 - s0, 1),
        "workers_cpu_s": round((w1 - w0) - (s1 - s0), 1),
        "triggerer_cpu_s": round(t1 - t0, 1),
        "task_instances": tis,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_mapped", description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--parallelism", type=int, default=8, help="LocalExecutor worker slots")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "batch_mapped.json")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"items": args.items, "delay_s": args.delay, "parallelism": args.parallelism}
    with (
        tempfile.TemporaryDirectory(prefix="bench-mapped-") as work,
        e2e_deployment(
            (DAGS,),
            parallelism=args.parallelism,
            config={
                "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, args.items)),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1024",
            },
        ) as (deployment, emulators),
    ):
        dify = emulators["dify"]
        dify.control.settings(queued_seconds=0.0, ping_interval=36000, stream_close_delay=0.0)
        for dag_id in ("bench_batch", "bench_mapped"):
            conf = {"items": args.items, "delay": args.delay, "output_path": f"{work}/{dag_id}.jsonl"}
            dify.control.reset()
            dify.control.settings(queued_seconds=0.0, ping_interval=36000, stream_close_delay=0.0)
            print(f"{dag_id}: {args.items} items of {args.delay:g} s ...", flush=True)
            result[dag_id] = {
                **measure(deployment, dag_id, conf, args.timeout),
                "starts": dify.control.count("starts"),
            }
            print(json.dumps(result[dag_id]), flush=True)
    result["database"] = deployment.db.name
    result["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
