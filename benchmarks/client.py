"""One triggerer process under test: ``python -m benchmarks.client < spec.json`` writes one JSON result to ``spec["out"]``.

The triggers are handed to Airflow's own ``TriggerRunner`` as the triggerer's supervisor hands them
(``RunTrigger`` workloads with serialized kwargs; ``create_triggers()`` rebuilds each from its
classpath and runs it as a task of one asyncio loop). The runner's supervisor link (DB, comms) is not
started: connections come from ``AIRFLOW_CONN_*`` variables. Measured in-process:

- loop lag: a task sleeping 10 ms, lag = how late it wakes;
- CPU: ``time.process_time()`` of this process, divided by the polls made (every HTTP request
  through ``aiohttp`` is counted by a counter wrapped around ``ClientSession._request``);
- TCP connections opened: calls of the loop's ``create_connection``;
- peak RSS: ``ru_maxrss`` minus the RSS before the triggers were created;
- completion delay: when each event reached the runner's event queue minus the run's planned end;
- first polls: when each run's status URL (``/workflows/run/{id}``) was first requested, after the triggers
  were handed over.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections import deque
from typing import Any

LAG_PERIOD = 0.01


class _TimedEvents(deque):
    """The runner's outbound event queue, noting when each trigger's event arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[int, float] = {}

    def append(self, entry: Any) -> None:
        self.at.setdefault(entry.trigger_id, time.time())
        super().append(entry)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    loop = asyncio.get_running_loop()
    counts: dict[str, Any] = {"polls": 0, "connections": 0, "first_polls": {}}
    create_connection, request = loop.create_connection, aiohttp.ClientSession._request

    async def counted_connection(*args: Any, **kwargs: Any) -> Any:
        counts["connections"] += 1
        return await create_connection(*args, **kwargs)

    def counted_request(self: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        counts["polls"] += 1
        if "/workflows/run/" in str(url):  # a status poll (not a start, nor an event stream)
            counts["first_polls"].setdefault(str(url), time.monotonic())
        return request(self, method, url, *args, **kwargs)

    loop.create_connection = counted_connection  # type: ignore[method-assign]
    aiohttp.ClientSession._request = counted_request  # type: ignore[method-assign]
    try:
        return await _drive(spec, counts)
    finally:
        aiohttp.ClientSession._request = request  # type: ignore[method-assign]


async def _drive(spec: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    from airflow.executors.workloads import RunTrigger
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    from benchmarks.variants import classpath, trigger_kwargs

    runs, variant, interval = spec["runs"], spec["variant"], spec["poll_interval"]
    runner = TriggerRunner()
    runner.events = _TimedEvents()
    path = classpath(variant)
    for index, run in enumerate(runs):
        kwargs = trigger_kwargs(variant, run, poll_interval=interval, end_time=run["ends_at"] + 600)
        runner.to_create.append(RunTrigger(id=index, classpath=path, encrypted_kwargs=json.dumps(kwargs)))

    lags: list[tuple[float, float]] = []  # (time since start, lag)
    ticks: list[tuple[float, float, int]] = []  # (time since start, cpu seconds, polls) every ~1 s
    stop = asyncio.Event()

    async def sample() -> None:
        next_tick = 0.0
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(LAG_PERIOD)
            now = time.monotonic()
            lags.append((now - t0, now - before - LAG_PERIOD))
            if now - t0 >= next_tick:
                ticks.append((now - t0, time.process_time(), counts["polls"]))
                next_tick += 1.0

    rss_before = _rss()
    t0, t0_wall = time.monotonic(), time.time()
    sampler = asyncio.create_task(sample())
    await runner.create_triggers()
    created = time.monotonic() - t0
    deadline = t0 + spec["max_seconds"]
    while time.monotonic() < deadline:
        if spec.get("stop_after") is None and len(runner.events.at) >= len(runs):
            break
        if spec.get("stop_after") is not None and time.monotonic() - t0 >= spec["stop_after"]:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await sampler
    ticks.append((time.monotonic() - t0, time.process_time(), counts["polls"]))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for details in runner.triggers.values():
        details["task"].cancel()
    await asyncio.gather(*(d["task"] for d in runner.triggers.values()), return_exceptions=True)
    from benchmarks.variants import FloorTrigger

    for session in FloorTrigger._sessions.values():
        await session.close()
    statuses: dict[str, int] = {}
    for entry in runner.events:
        status = (
            entry.event.payload.get("status")
            if isinstance(entry.event.payload, dict)
            else str(entry.event.payload)
        )
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "variant": variant,
        "n": len(runs),
        "poll_interval": interval,
        "create_seconds": created,
        "t0_wall": t0_wall,
        "lags": [round(lag, 5) for _, lag in lags],
        "lag_times": [round(t, 3) for t, _ in lags],
        "ticks": ticks,
        "polls": counts["polls"],
        "connections": counts["connections"],
        "rss_before": rss_before,
        "peak_rss": peak_rss,
        "events": {str(i): at for i, at in runner.events.at.items()},
        "statuses": statuses,
        "failed_triggers": len(runner.failed_triggers),
        "first_polls": sorted(at - t0 for at in counts["first_polls"].values()),
    }


def main() -> None:
    # imports happen before the spec arrives (the runs are created meanwhile) and before the RSS
    # baseline, as in a triggerer that already runs other triggers
    import contextlib

    import airflow.jobs.triggerer_job_runner  # noqa: F401

    with contextlib.suppress(ImportError):  # the alternative's provider: only with the bench extra
        import airflow.providers.http.hooks.http  # noqa: F401

    from airflow.sdk.log import configure_logging, reset_logging

    import airflow_workflow_providers.core.trigger  # noqa: F401
    import airflow_workflow_providers.dify.hooks  # noqa: F401
    import benchmarks.variants  # noqa: F401

    # the trigger runner's logging as a triggerer sets it up: JSON lines to the supervisor (here: stdout,
    # drained by the orchestrator), not the console renderer of an unconfigured process
    reset_logging()
    configure_logging(json_output=True, output=sys.stdout.buffer, sending_to_supervisor=True)
    print("ready", flush=True)
    spec = json.loads(sys.stdin.readline())
    result = asyncio.run(drive(spec))
    with open(spec["out"], "w") as out:  # stdout belongs to the runner's log lines
        json.dump(result, out)


if __name__ == "__main__":
    main()
