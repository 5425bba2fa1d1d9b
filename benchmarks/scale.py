"""Triggerer scale and saturation: each variant in a fresh triggerer process, interleaved, one emulator."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.emulator import EmulatorProcess, environment, start_runs

#: (N, poll interval) of the scale runs; 10 s is the operator's default interval
FULL_MATRIX = [(100, 10.0), (1000, 10.0), (5000, 10.0), (5000, 5.0), (100, 1.0), (1000, 1.0)]
QUICK_MATRIX = [(100, 5.0), (1000, 5.0), (2000, 5.0)]
#: saturation sweep: SAT_N triggers whose runs never end, at decreasing poll intervals
SAT_N = 1000
SAT_INTERVALS = [4.0, 2.0, 1.0, 0.67, 0.5, 0.33]
LAG_LIMIT = 0.2
#: like for like with the floor, whose triggers only poll: ours polling only (``follow_events=False``).
#: By default ours also follows each Dify run's event stream and polls six times rarer meanwhile, so its
#: CPU per poll is not comparable; the whole-life scenario (lifecycle) and ``benchmarks.progress`` show it.
VARIANTS = ("ours-polling", "floor", "alt")


def launch(emulators: list[EmulatorProcess]) -> subprocess.Popen:
    """A triggerer process, importing while the orchestrator creates its runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.client"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(emulators),
    )


def ready(client: subprocess.Popen) -> None:
    """Wait until the triggerer process has imported everything (its first stdout line)."""
    assert client.stdout is not None
    if client.stdout.readline().strip() != "ready":
        client.kill()
        raise RuntimeError(f"triggerer process failed to start:\n{client.communicate()[1][-3000:]}")


def drive(client: subprocess.Popen, spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        # the runner's log lines go to stdout, drained (and dropped) here
        _, err = client.communicate(
            json.dumps({**spec, "out": out.name}) + "\n", timeout=spec["max_seconds"] + 120
        )
        if client.returncode != 0:
            raise RuntimeError(f"triggerer process failed:\n{err[-3000:]}")
        return json.loads(Path(out.name).read_text())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else {}


def cpu_per_poll(ticks: list[list[float]], start: float, end: float, window: float) -> dict[str, Any]:
    """CPU seconds per poll in the steady window [start, end], overall and per sub-window."""
    inside = [t for t in ticks if start <= t[0] <= end]
    if len(inside) < 2 or inside[-1][2] == inside[0][2]:
        return {"overall": float("nan"), "windows": {}}
    overall = (inside[-1][1] - inside[0][1]) / (inside[-1][2] - inside[0][2])
    windows, first = [], inside[0]
    for tick in inside[1:]:
        if tick[0] - first[0] >= window and tick[2] > first[2]:
            windows.append((tick[1] - first[1]) / (tick[2] - first[2]))
            first = tick
    return {"overall": overall, "windows": spread(windows)}


def summarize(raw: dict[str, Any], runs: list[dict[str, Any]], emulator_cpu: float) -> dict[str, Any]:
    interval, n = raw["poll_interval"], raw["n"]
    lags = raw["lags"]
    # steady state: after every trigger has made its first poll, before the first run ends
    first_end = min(run["ends_at"] for run in runs) - raw["t0_wall"]
    steady = cpu_per_poll(raw["ticks"], raw["create_seconds"] + interval, first_end, max(interval, 2.0))
    delays = [at - runs[int(i)]["ends_at"] for i, at in raw["events"].items()]
    polls, total = raw["polls"], raw["ticks"][-1]
    return {
        "variant": raw["variant"],
        "n": n,
        "poll_interval": interval,
        "lag_p50_ms": 1000 * percentile(lags, 50),
        "lag_p99_ms": 1000 * percentile(lags, 99),
        "lag_max_ms": 1000 * max(lags),
        "cpu_per_poll_us": 1e6 * steady["overall"],
        "cpu_per_poll_windows_us": {k: 1e6 * v for k, v in steady["windows"].items()},
        "cpu_per_poll_all_us": 1e6 * total[1] / max(1, polls),
        "polls": polls,
        "polls_per_s": polls / total[0],
        "connections": raw["connections"],
        "connections_per_poll": raw["connections"] / max(1, polls),
        "rss_per_trigger_kb": (raw["peak_rss"] - raw["rss_before"]) / n / 1024,
        "delay_p50_s": percentile(delays, 50),
        "delay_p99_s": percentile(delays, 99),
        "delay_max_s": max(delays) if delays else float("nan"),
        "events": len(raw["events"]),
        "statuses": raw["statuses"],
        "emulator_cpu_per_poll_us": 1e6 * emulator_cpu / max(1, polls),
        "seconds": total[0],
    }


def scale(
    emulators: list[EmulatorProcess], matrix: list[tuple[int, float]], run_seconds: float, log=print
) -> list[dict[str, Any]]:
    results = []
    for round_no, (n, interval) in enumerate(matrix):
        order = VARIANTS[round_no % 3 :] + VARIANTS[: round_no % 3]  # interleaved, rotating who goes first
        for variant in order:
            client = launch(emulators)
            ready(client)
            runs = start_runs(emulators, n, run_seconds)
            cpu0 = sum(e.cpu_seconds() for e in emulators)
            raw = drive(
                client,
                {
                    "runs": runs,
                    "variant": variant,
                    "poll_interval": interval,
                    "max_seconds": run_seconds + interval + 120,
                },
            )
            result = summarize(raw, runs, sum(e.cpu_seconds() for e in emulators) - cpu0)
            results.append(result)
            log(
                f"  {variant:5} N={n:<5} every {interval:g} s: lag p99 {result['lag_p99_ms']:.1f} ms, "
                f"max {result['lag_max_ms']:.0f} ms; {result['cpu_per_poll_us']:.0f} us CPU/poll; "
                f"{result['connections']} connections; {result['events']}/{n} events"
            )
    return results


def saturation(
    emulators: list[EmulatorProcess], intervals: list[float], n: int, step_seconds: float, log=print
) -> list[dict[str, Any]]:
    """Offered poll rates n/interval; what each variant achieves and at what loop lag."""
    results = []
    for step, interval in enumerate(intervals):
        order = VARIANTS[step % 3 :] + VARIANTS[: step % 3]
        for variant in order:
            client = launch(emulators)
            ready(client)
            runs = start_runs(emulators, n, 3600)
            cpu0, wall0 = sum(e.cpu_seconds() for e in emulators), time.monotonic()
            raw = drive(
                client,
                {
                    "runs": runs,
                    "variant": variant,
                    "poll_interval": interval,
                    "max_seconds": step_seconds + 5,
                    "stop_after": step_seconds,
                },
            )
            emulator_load = (sum(e.cpu_seconds() for e in emulators) - cpu0) / (time.monotonic() - wall0)
            # measure after every trigger has polled once (the first interval spreads the starts)
            settle = min(step_seconds / 2, raw["create_seconds"] + interval)
            lags = [lag for t, lag in zip(raw["lag_times"], raw["lags"]) if t >= settle]
            ticks = [t for t in raw["ticks"] if t[0] >= settle]
            rate = (ticks[-1][2] - ticks[0][2]) / (ticks[-1][0] - ticks[0][0])
            cpu_load = (ticks[-1][1] - ticks[0][1]) / (ticks[-1][0] - ticks[0][0])
            result = {
                "variant": variant,
                "offered_per_s": n / interval,
                "achieved_per_s": rate,
                "lag_p99_ms": 1000 * percentile(lags, 99),
                "lag_max_ms": 1000 * max(lags),
                "client_cpu_load": cpu_load,
                "emulator_cpu_load": emulator_load,
            }
            results.append(result)
            log(
                f"  {variant:5} offered {n / interval:6.0f}/s: achieved {rate:6.0f}/s, lag p99 "
                f"{result['lag_p99_ms']:.0f} ms, client CPU {cpu_load:.2f}, emulator CPU {emulator_load:.2f}"
            )
    return results


def saturation_points(steps: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per variant: the highest achieved poll rate among the steps whose p99 loop lag stayed under 0.2 s."""
    points = {}
    for variant in VARIANTS:
        ok = [s for s in steps if s["variant"] == variant and s["lag_p99_ms"] < 1000 * LAG_LIMIT]
        best = max(ok, key=lambda s: s["achieved_per_s"]) if ok else None
        points[variant] = {
            "polls_per_s": best["achieved_per_s"] if best else 0.0,
            "client_cpu_load": best["client_cpu_load"] if best else 0.0,
            "emulator_cpu_load": best["emulator_cpu_load"] if best else 0.0,
        }
    return points
