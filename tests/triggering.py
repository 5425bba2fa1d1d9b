"""Driving the shared trigger as the triggerer does, for every platform's trigger tests."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.trigger import WorkflowRunTrigger


def trigger_for(
    platform: str,
    ref: RunRef,
    *,
    seconds: float = 30,
    conn_id: str | None = None,
    api_options: dict | None = None,
) -> WorkflowRunTrigger:
    """A trigger polling ``ref`` every 0.2 s for ``seconds``, on the platform's default connection."""
    return WorkflowRunTrigger(
        platform_key=platform,
        conn_id=conn_id or f"{platform}_default",
        run=ref.to_json(),
        poll_interval=0.2,
        end_time=time.time() + seconds,
        api_options=api_options,
    )


def rebuilt(trigger: WorkflowRunTrigger) -> WorkflowRunTrigger:
    """The trigger the triggerer would build from ``serialize()``, after a trip through JSON."""
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))


def events_of(trigger: WorkflowRunTrigger) -> list[dict[str, Any]]:
    """Every event the trigger yields, run to its end in a fresh event loop."""

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())
