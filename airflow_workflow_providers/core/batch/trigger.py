"""The batch's trigger: runs the batch engine on the triggerer and yields one event when the batch ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow_workflow_providers.core.batch.engine import (
    OUTCOMES,
    BatchEngine,
    BatchPlan,
    file_keeper,
    stop_in_flight,
)
from airflow_workflow_providers.core.batch.journal import BatchStore
from airflow_workflow_providers.core.compat import BaseTrigger, TriggerEvent
from airflow_workflow_providers.core.errors import TriggerEventError
from airflow_workflow_providers.core.registry import hook_class
from airflow_workflow_providers.core.trigger import _settle_seconds

EVENT_KEYS = frozenset({"status", "message", "not_attempted", "output_path", "total"})


class BatchRunTrigger(BaseTrigger):
    """Start and poll every pending item of a batch; yield ``{"status", "message", "not_attempted",
    "output_path", "total"}`` once.

    The kwargs are small and JSON-native: the items are not in them (the engine reads the start
    arguments the worker spilled next to the output), nor is any secret.

    :param platform: platform key, e.g. ``"dify"``.
    :param conn_id: the Airflow connection; the key is looked up on the triggerer.
    :param output_path: the batch's output (its progress lives beside it).
    :param total: how many items the batch has.
    :param concurrency: most runs in flight.
    :param poll_interval: longest pause between two polls of a run.
    :param end_time: wall-clock deadline of the whole batch (epoch seconds).
    :param item_timeout: seconds one run may take.
    :param cancel_on_kill: stop the runs in flight when a user marks or clears the task, or it times out.
    :param api_options: options of the platform's API description.
    :param output_dir: where file outputs are copied (``core.outputs``), if anywhere.
    """

    def __init__(
        self,
        *,
        platform: str,
        conn_id: str,
        output_path: str,
        total: int,
        concurrency: int,
        poll_interval: float,
        end_time: float,
        item_timeout: float,
        cancel_on_kill: bool = True,
        api_options: dict[str, Any] | None = None,
        output_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.kwargs = json.loads(
            json.dumps(
                {
                    "platform": str(platform),
                    "conn_id": str(conn_id),
                    "output_path": str(output_path),
                    "total": int(total),
                    "concurrency": int(concurrency),
                    "poll_interval": float(poll_interval),
                    "end_time": float(end_time),
                    "item_timeout": float(item_timeout),
                    "cancel_on_kill": bool(cancel_on_kill),
                    "api_options": api_options or {},
                    "output_dir": output_dir,
                }
            )
        )
        hook_class(self.kwargs["platform"])  # an unknown platform fails on the worker, not the triggerer

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", dict(self.kwargs)

    def _hook(self) -> Any:
        return hook_class(self.kwargs["platform"])(
            conn_id=self.kwargs["conn_id"], api_options=self.kwargs["api_options"]
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        k = self.kwargs
        hook = self._hook()
        started = time.monotonic()
        store = await asyncio.to_thread(BatchStore, k["output_path"])
        keeper = file_keeper(hook, k["output_dir"], self.log) if k["output_dir"] else None
        plan = BatchPlan(
            total=k["total"],
            concurrency=k["concurrency"],
            poll_interval=k["poll_interval"],
            end_time=k["end_time"],
            item_timeout=k["item_timeout"],
            cancel_on_stop=k["cancel_on_kill"],
        )
        outcome = await BatchEngine(hook, store, plan, self.log, keeper).run()
        await asyncio.sleep(max(0.0, started + _settle_seconds() - time.monotonic()))
        yield TriggerEvent({**outcome, "output_path": k["output_path"], "total": k["total"]})

    async def on_kill(self) -> None:
        if not self.kwargs["cancel_on_kill"]:
            return
        k = self.kwargs
        await asyncio.to_thread(
            lambda: stop_in_flight(
                self._hook(), BatchStore(k["output_path"]), k["total"], "a user stopped the task", self.log
            )
        )


def validate_batch_event(event: Any) -> dict[str, Any]:
    """Check a batch trigger event against its schema; return it, or raise :class:`TriggerEventError`."""
    if not isinstance(event, Mapping) or set(event) != EVENT_KEYS:
        raise TriggerEventError(
            f"Batch trigger event must be a dict with keys {sorted(EVENT_KEYS)}, got {event!r}"
        )
    if (
        event["status"] not in OUTCOMES
        or not isinstance(event["message"], str)
        or not isinstance(event["output_path"], str)
        or not all(
            isinstance(event[k], int) and not isinstance(event[k], bool) for k in ("not_attempted", "total")
        )
    ):
        raise TriggerEventError(
            f"Batch trigger event has an unknown status or a wrongly typed field: {event!r}"
        )
    return dict(event)
