"""Live progress vs polling only: ``python -m benchmarks.progress [--n 1000] [--run-seconds 30] [--interval 10]``.

N concurrent runs on the Dify emulator (own process), each waited on by our ``WorkflowRunTrigger`` in
a fresh triggerer process (Airflow's ``TriggerRunner``, as in :mod:`benchmarks.scale`), once following
the runs' event streams (``ours``, the default) and once polling only (``ours-polling``:
``api_options={"follow_events": False}``). Measured: delay from each run's planned end to its trigger
event, status polls per run (counted by the emulator), and triggerer CPU per run (process CPU from
creating the triggers to the last event, over N). Writes ``benchmarks/results/progress.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.emulator import EmulatorProcess, start_runs
from benchmarks.scale import drive, launch, percentile, ready

OUT = Path(__file__).parent / "results" / "progress.json"
VARIANTS = ("ours", "ours-polling")


def measure(
    emulator: EmulatorProcess, variant: str, n: int, run_seconds: float, interval: float
) -> dict[str, Any]:
    client = launch([emulator])
    ready(client)
    runs = start_runs([emulator], n, run_seconds)
    raw = drive(
        client,
        {
            "runs": runs,
            "variant": variant,
            "poll_interval": interval,
            "max_seconds": run_seconds + 6 * interval + 120,
        },
    )
    counts = emulator.control.state()["counts"]
    delays = [at - runs[int(i)]["ends_at"] for i, at in raw["events"].items()]
    first, last = raw["ticks"][0], raw["ticks"][-1]
    return {
        "variant": variant,
        "n": n,
        "run_seconds": run_seconds,
        "poll_interval": interval,
        "events": len(raw["events"]),
        "statuses": raw["statuses"],
        "delay_p50_s": percentile(delays, 50),
        "delay_p99_s": percentile(delays, 99),
        "delay_max_s": max(delays) if delays else float("nan"),
        "polls_per_run": counts.get("polls", 0) / n,
        "event_streams_per_run": counts.get("GET /workflow/{workflow_run_id}/events", 0) / n,
        "cpu_ms_per_run": 1000 * (last[1] - first[1]) / n,
        "lag_p99_ms": 1000 * percentile(raw["lags"], 99),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.progress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--run-seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval (the operator's default)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    emulator = EmulatorProcess()
    try:
        results = [
            measure(emulator, variant, args.n, args.run_seconds, args.interval) for variant in VARIANTS
        ]
    finally:
        emulator.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(
        "| variant | N | events | delay p50 / p99 / max (s) | polls per run | event streams per run | triggerer CPU per run (ms) | loop lag p99 (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['variant']} | {r['n']} | {r['events']} | {r['delay_p50_s']:.2f} / {r['delay_p99_s']:.2f} / "
            f"{r['delay_max_s']:.2f} | {r['polls_per_run']:.2f} | {r['event_streams_per_run']:.2f} | "
            f"{r['cpu_ms_per_run']:.1f} | {r['lag_p99_ms']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
