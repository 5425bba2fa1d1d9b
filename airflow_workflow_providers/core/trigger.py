"""One deferrable trigger for every platform: polls a remote run until it ends, on the triggerer."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import conf
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_workflow_providers.core.errors import PlatformAPIError
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.registry import hook_class
from airflow_workflow_providers.core.watch import RunWatch


class WorkflowRunTrigger(BaseTrigger):
    """Wait for a remote run and yield exactly one event ``{"status", "platform", "run_id", "message"}``.

    :param platform: platform key, e.g. ``"dify"``.
    :param conn_id: the Airflow connection; the key is looked up on the triggerer, never serialized.
    :param run: the run reference (``RunRef.to_json()``).
    :param poll_interval: seconds between polls.
    :param end_time: wall-clock deadline (epoch seconds). Wall clock, not a monotonic clock, because
        the trigger may resume in another process on another machine after a triggerer restart.
    :param cancel_on_kill: stop the remote run when a user marks the deferred task failed/success or
        clears it (Airflow >= 3.3 calls ``on_kill`` only for such user actions, not for restarts).
    :param max_consecutive_failures: transient poll failures tolerated in a row.
    :param api_options: options of the platform's API description (see ``WorkflowHook``).
    """

    def __init__(
        self,
        *,
        platform: str,
        conn_id: str,
        run: dict[str, Any],
        poll_interval: float,
        end_time: float,
        cancel_on_kill: bool = True,
        max_consecutive_failures: int = 10,
        api_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # Coerced here so that the kwargs are JSON-native by construction and a wrong value fails on
        # the worker, before deferring, rather than on the triggerer.
        self.platform = str(platform)
        self.conn_id = str(conn_id)
        self.run_ref = RunRef.from_json(run)
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time)
        self.cancel_on_kill = bool(cancel_on_kill)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.api_options = json.loads(json.dumps(api_options or {}))
        self._hook()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "platform": self.platform,
                "conn_id": self.conn_id,
                "run": self.run_ref.to_json(),
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "cancel_on_kill": self.cancel_on_kill,
                "max_consecutive_failures": self.max_consecutive_failures,
                "api_options": self.api_options,
            },
        )

    def _hook(self) -> Any:
        return hook_class(self.platform)(conn_id=self.conn_id, api_options=self.api_options)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        watch = RunWatch(
            hook.api.name,
            self.run_ref,
            end_time=self.end_time,
            log=self.log,
            max_consecutive_failures=self.max_consecutive_failures,
        )
        self.log.info(
            "Polling %s run %s every %g s until %s.",
            hook.api.name, self.run_ref.run_id, self.poll_interval, time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.end_time)),
        )
        started = time.monotonic()
        async with hook.async_transport() as transport:
            # A random first-poll phase within one interval: triggers created together (a triggerer
            # restart, a burst of deferrals) then poll spread out instead of all in the same instant.
            await asyncio.sleep(watch.delay(random.uniform(0, self.poll_interval)))
            while True:
                try:
                    verdict = watch.observe(await transport.call(hook.api.status(self.run_ref)))
                except PlatformAPIError as exc:
                    verdict = watch.failed_poll(exc)
                if verdict is not None:
                    await asyncio.sleep(max(0.0, started + _settle_seconds() - time.monotonic()))
                    yield TriggerEvent(verdict.to_event())
                    return
                await asyncio.sleep(watch.delay(self.poll_interval))

    async def on_kill(self) -> None:
        if not self.cancel_on_kill:
            return
        self.log.info("A user acted on the task: stopping its remote run %s.", self.run_ref.run_id)
        await self._hook().acancel_run(self.run_ref)


def _settle_seconds() -> float:
    """How long after it starts the trigger holds back its event.

    Airflow 3.3 fails a task whose trigger fires before the executor has reported the try that
    deferred (apache/airflow#66374); that report lags by up to ``[workers] min_heartbeat_interval``.
    A run that ends sooner is reported once that interval and one scheduler beat have passed.
    """
    return conf.getfloat("workers", "min_heartbeat_interval", fallback=5.0) + 1.0
