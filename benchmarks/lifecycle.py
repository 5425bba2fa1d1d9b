"""A trigger's whole life and a triggerer restart, ours beside the floor (issue: cheap triggers).

- **Whole life**: 1000 triggers polling every second on runs of about ten seconds, so ten polls each;
  CPU per poll counts everything the triggerer process spends from handing the triggers over to the
  last event: creation, connection lookup, polls, events.
- **Restart**: 5000 deferred runs handed to a fresh triggerer at once, as after a restart; loop lag
  while the runner creates the triggers, and the time until every run has been polled once.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.emulator import EmulatorProcess, start_runs
from benchmarks.scale import drive, launch, percentile, ready

VARIANTS = ("ours", "floor")
#: the whole life also measures ours polling only (``follow_events=False``): like for like with the floor,
#: whose triggers only poll, where ours also follows each run's event stream and so polls less often
WHOLE_LIFE_VARIANTS = ("ours", "ours-polling", "floor")


def whole_life(
    emulators: list[EmulatorProcess],
    n: int = 1000,
    interval: float = 1.0,
    polls: int = 10,
    rounds: int = 3,
    log=print,
) -> dict[str, Any]:
    variants = WHOLE_LIFE_VARIANTS
    samples: dict[str, list[float]] = {v: [] for v in variants}
    per_trigger: dict[str, list[float]] = {v: [] for v in variants}
    for round_no in range(rounds):
        for variant in variants[round_no % 3 :] + variants[: round_no % 3]:
            client = launch(emulators)
            ready(client)
            runs = start_runs(emulators, n, polls * interval)
            raw = drive(
                client,
                {
                    "runs": runs,
                    "variant": variant,
                    "poll_interval": interval,
                    "max_seconds": polls * interval + 120,
                },
            )
            cpu = raw["ticks"][-1][1] - raw["ticks"][0][1]
            samples[variant].append(1e6 * cpu / max(1, raw["polls"]))
            per_trigger[variant].append(1e6 * cpu / n)
            log(
                f"  {variant:12} N={n} every {interval:g} s, whole life: {samples[variant][-1]:.0f} us CPU/poll, "
                f"{raw['polls'] / n:.1f} polls per trigger, {len(raw['events'])}/{n} events"
            )
    medians = {v: statistics.median(s) for v, s in samples.items()}
    return {
        "n": n,
        "poll_interval": interval,
        "polls_per_trigger": polls,
        "samples_us": samples,
        "median_us": medians,
        "median_per_trigger_us": {v: statistics.median(s) for v, s in per_trigger.items()},
        "ratio": medians["ours-polling"] / medians["floor"],
    }


def restart(
    emulators: list[EmulatorProcess], n: int = 5000, interval: float = 5.0, rounds: int = 2, log=print
) -> dict[str, Any]:
    rows = []
    for round_no in range(rounds):
        for variant in VARIANTS[round_no % 2 :] + VARIANTS[: round_no % 2]:
            client = launch(emulators)
            ready(client)
            runs = start_runs(emulators, n, 3600)
            raw = drive(
                client,
                {
                    "runs": runs,
                    "variant": variant,
                    "poll_interval": interval,
                    "max_seconds": 3 * interval + 5,
                    "stop_after": 3 * interval,
                },
            )
            creating = [lag for t, lag in zip(raw["lag_times"], raw["lags"]) if t <= raw["create_seconds"]]
            first = raw["first_polls"]
            row = {
                "variant": variant,
                "n": n,
                "poll_interval": interval,
                "create_seconds": raw["create_seconds"],
                "lag_max_creating_ms": 1000 * max(creating, default=0.0),
                "lag_p99_creating_ms": 1000 * percentile(creating, 99),
                "polled_once": len(first),
                "all_polled_s": first[-1] if len(first) >= n else float("inf"),
                "all_polled_intervals": (first[-1] if len(first) >= n else float("inf")) / interval,
            }
            rows.append(row)
            log(
                f"  {variant:12} restart N={n}: created in {row['create_seconds']:.1f} s, lag max "
                f"{row['lag_max_creating_ms']:.0f} ms while creating; every run polled after "
                f"{row['all_polled_s']:.1f} s ({row['all_polled_intervals']:.2f} intervals)"
            )
    return {"n": n, "poll_interval": interval, "rows": rows}
