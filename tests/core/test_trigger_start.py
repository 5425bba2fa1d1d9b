"""A trigger's start on the triggerer: nothing but a timer until its first poll, which triggers started
together make spread out over one interval (core.trigger) -- over real HTTP."""

from __future__ import annotations

import asyncio
import time

from airflow_workflow_providers.core import trigger as trigger_module
from airflow_workflow_providers.core.transport import _SharedClients
from airflow_workflow_providers.core.trigger import WorkflowRunTrigger
from tests.core.test_shared_clients import finished_runs
from tests.flowy.conftest import flowy  # noqa: F401 - the fixture

N = 40
INTERVAL = 2.0


def test_triggers_started_together_build_nothing_until_their_first_polls_which_spread_over_one_interval(
    flowy,
):
    flowy.control.settings(rate_limit_per_minute=10_000, max_concurrent_runs=1000)
    refs = finished_runs(flowy, N)
    trigger_module._HOOKS.clear()
    first = len(flowy.control.state()["requests"])
    triggers = [
        WorkflowRunTrigger(
            platform_key="flowy",
            conn_id="flowy_default",
            run=ref.to_json(),
            poll_interval=INTERVAL,
            end_time=time.time() + 60,
        )
        for ref in refs
    ]

    async def main() -> tuple[float, list[dict]]:
        started = time.time()
        waits = [asyncio.ensure_future(anext(t.run())) for t in triggers]
        await asyncio.sleep(0)  # every trigger has run up to its first suspension, none past a timer
        # no hook built or being built (a connection lookup), no client made: a restarted triggerer
        # creating thousands of triggers pays for none of it while it creates them
        assert trigger_module._BUILDS == {} and trigger_module._HOOKS == {}
        loop = asyncio.get_running_loop()
        assert [key for key in _SharedClients._accounts if key[0] is loop] == []
        return started, [event.payload for event in await asyncio.gather(*waits)]

    started, events = asyncio.run(main())
    assert [e["status"] for e in events] == ["succeeded"] * N
    polls = [r["at"] - started for r in flowy.control.state()["requests"][first:]]
    assert len(polls) == N  # one poll each: the runs had ended
    # spread over the first interval, not all at once (40 random points on 2 s: a range under 0.8 s has
    # a chance of about 1e-14), and none later than the interval plus the first connection lookup
    assert max(polls) - min(polls) > 0.8
    assert max(polls) < INTERVAL + 3
