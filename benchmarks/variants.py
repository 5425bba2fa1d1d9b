"""The three pollers compared, each an Airflow trigger so that all three run through the same
``TriggerRunner`` code path (create from classpath + kwargs, greenback portal, event queue).

- ``ours``: :class:`airflow_workflow_providers.core.trigger.WorkflowRunTrigger` itself.
- ``floor``: the least code that does the same GETs: one shared ``aiohttp`` session per loop, the
  key in the kwargs, no retries, no connection lookup, the same first-poll phase as ours.
- ``alt``: what a user hand-writes today on ``apache-airflow-providers-http``: ``HttpAsyncHook``
  in a loop shaped like the provider's own ``HttpSensorTrigger`` (a ``ClientSession`` per poll,
  first poll at once).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from airflow.triggers.base import BaseTrigger, TriggerEvent

#: Dify statuses after which a run no longer changes
TERMINAL = frozenset({"succeeded", "failed", "stopped", "partial-succeeded"})
OURS = "airflow_workflow_providers.core.trigger.WorkflowRunTrigger"


def classpath(variant: str) -> str:
    return {
        "ours": OURS,
        "ours-polling": OURS,
        "floor": f"{__name__}.FloorTrigger",
        "alt": f"{__name__}.HttpAsyncHookTrigger",
    }[variant]


def trigger_kwargs(
    variant: str, run: dict[str, Any], *, poll_interval: float, end_time: float
) -> dict[str, Any]:
    """The kwargs a deferring task would hand the triggerer for ``run`` (from :mod:`benchmarks.emulator`)."""
    ref = {"run_id": run["run_id"], "task_id": run["task_id"], "user": run["user"]}
    if variant in ("ours", "ours-polling"):
        kwargs = {
            "platform_key": "dify",
            "conn_id": run["conn_id"],
            "run": ref,
            "poll_interval": poll_interval,
            "end_time": end_time,
        }
        # ours follows each run's event stream beside its polls; ours-polling only polls
        return kwargs if variant == "ours" else {**kwargs, "api_options": {"follow_events": False}}
    if variant == "floor":
        return {
            "url": f"{run['base_url']}/workflows/run/{run['run_id']}",
            "key": run["key"],
            "poll_interval": poll_interval,
        }
    return {
        "http_conn_id": run["http_conn_id"],
        "endpoint": f"workflows/run/{run['run_id']}",
        "poll_interval": poll_interval,
    }


class FloorTrigger(BaseTrigger):
    """Bare aiohttp: GET, read JSON, check the status, sleep."""

    _sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def __init__(self, url: str, key: str, poll_interval: float) -> None:
        super().__init__()
        self.url, self.key, self.poll_interval = url, key, poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath("floor"), {"url": self.url, "key": self.key, "poll_interval": self.poll_interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None:
            session = self._sessions[loop] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        headers = {"Authorization": f"Bearer {self.key}"}
        await asyncio.sleep(random.uniform(0, self.poll_interval))
        while True:
            async with session.get(self.url, headers=headers) as answer:
                status = (await answer.json())["status"]
            if status in TERMINAL:
                yield TriggerEvent({"status": status})
                return
            await asyncio.sleep(self.poll_interval)


class HttpAsyncHookTrigger(BaseTrigger):
    """The same polling on ``HttpAsyncHook``, as ``HttpSensorTrigger`` writes it."""

    def __init__(self, http_conn_id: str, endpoint: str, poll_interval: float) -> None:
        super().__init__()
        self.http_conn_id, self.endpoint, self.poll_interval = http_conn_id, endpoint, poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath("alt"), {
            "http_conn_id": self.http_conn_id,
            "endpoint": self.endpoint,
            "poll_interval": self.poll_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.http.hooks.http import HttpAsyncHook

        hook = HttpAsyncHook(method="GET", http_conn_id=self.http_conn_id)
        while True:
            async with aiohttp.ClientSession() as session:
                answer = await hook.run(session=session, endpoint=self.endpoint)
                status = json.loads(await answer.text())["status"]
            if status in TERMINAL:
                yield TriggerEvent({"status": status})
                return
            await asyncio.sleep(self.poll_interval)
