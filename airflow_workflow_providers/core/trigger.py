"""One deferrable trigger for every platform: polls a remote run until it ends, on the triggerer."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.compat import AirflowNotFoundException, BaseTrigger, TriggerEvent, conf
from airflow_workflow_providers.core.errors import ConfigurationError, PlatformAPIError
from airflow_workflow_providers.core.flight import Flights, join
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.registry import hook_class
from airflow_workflow_providers.core.registry import platform as platform_info
from airflow_workflow_providers.core.watch import RunWatch, Verdict, before_deadline

if TYPE_CHECKING:
    from airflow_workflow_providers.core.hook import WorkflowHook


class WorkflowRunTrigger(BaseTrigger):
    """Wait for a remote run and yield exactly one event ``{"status", "platform", "run_id", "message"}``.

    :param platform_key: the platform's key, e.g. ``"dify"`` (``core.registry``).
    :param conn_id: the Airflow connection; the key is looked up on the triggerer, never serialized.
    :param run: the run reference (``RunRef.to_json()``).
    :param poll_interval: seconds between polls.
    :param end_time: wall-clock deadline (epoch seconds). Wall clock, not a monotonic clock, because
        the trigger may resume in another process on another machine after a triggerer restart.
    :param cancel_on_kill: stop the remote run when a user marks the deferred task failed/success or
        clears it (Airflow >= 3.3 calls ``on_kill`` only for such user actions, not for restarts).
    :param max_consecutive_failures: transient poll failures tolerated in a row.
    :param api_options: options of the platform's API description (see ``WorkflowHook``).
    :param pause_event: end with a ``paused`` event when the run waits for a person and its event
        stream named the form (the event's ``run`` carries ``form_token``).
    """

    def __init__(
        self,
        *,
        platform_key: str | None = None,
        conn_id: str,
        run: dict[str, Any],
        poll_interval: float,
        end_time: float,
        cancel_on_kill: bool = True,
        max_consecutive_failures: int = 10,
        api_options: dict[str, Any] | None = None,
        platform: str | None = None,
        pause_event: bool = False,
    ) -> None:
        super().__init__()
        # Coerced here so that the kwargs are JSON-native by construction and a wrong value fails on
        # the worker, before deferring, rather than on the triggerer. ``platform`` is the kwarg's name
        # in triggers serialized by 0.1.0, still deferred when the provider is upgraded.
        self.platform_key = str(platform_key or platform)
        self.conn_id = str(conn_id)
        self.run_ref = RunRef.from_json(run)
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time)
        self.cancel_on_kill = bool(cancel_on_kill)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.api_options = json.loads(json.dumps(api_options)) if api_options else {}
        # Only the key is checked here: the triggerer builds triggers on its event loop, so the hook
        # (importing the platform's modules) is built in a thread when the trigger runs.
        #: the platform's name for logs and events ("Dify")
        self.platform_name = platform_info(self.platform_key).name
        self.pause_event = bool(pause_event)

    @property
    def log(self) -> Any:
        """One logger for every trigger of the class: the triggerer sends a trigger's lines to its task's
        log by the trigger id bound in the trigger's context, not by logger, and a restarted triggerer
        need not make thousands of loggers."""
        return type(self).logger()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "platform_key": self.platform_key,
                "conn_id": self.conn_id,
                "run": self.run_ref.to_json(),
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "cancel_on_kill": self.cancel_on_kill,
                "max_consecutive_failures": self.max_consecutive_failures,
                "api_options": self.api_options,
                "pause_event": self.pause_event,
            },
        )

    def _hook(self) -> WorkflowHook:
        return shared_hook(self.platform_key, self.conn_id, self.api_options)

    async def _ahook(self) -> WorkflowHook:
        """The shared hook; the first of its kind is built in a thread (it imports the platform's modules),
        once however many triggers ask for it meanwhile."""
        key = _hook_key(self.platform_key, self.conn_id, self.api_options)
        hook = _HOOKS.get(key)
        return hook if hook is not None else await join(_BUILDS, key, lambda: asyncio.to_thread(self._hook))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield the one event the task waits for, whatever happens: an unexpected exception (a missing
        connection, a wrong configuration, a bug) becomes an ``"error"`` event naming it."""
        started = time.monotonic()
        await asyncio.sleep(_first_poll_delay(self.poll_interval, self.end_time))
        heartbeat = story.heartbeat_every(self.poll_interval)
        watch = RunWatch(
            self.platform_name,
            self.run_ref,
            end_time=self.end_time,
            log=self.log,
            max_consecutive_failures=self.max_consecutive_failures,
            heartbeat=heartbeat,
            started=started,
            # said with the first poll's line, not now: a restarted triggerer creates thousands of
            # triggers at once, and each log line costs the event loop ~0.5 ms
            intro=story.trigger_started(
                self.platform_name,
                self.run_ref.run_id,
                poll_interval=self.poll_interval,
                end_time=self.end_time,
                heartbeat=heartbeat,
            ),
        )
        try:
            verdict = await self._wait(watch)
        except Exception as exc:
            self.log.exception("Waiting on %s run %s failed.", self.platform_name, self.run_ref.run_id)
            verdict = watch.broken(_configuration_error(exc, self.conn_id))
        await asyncio.sleep(max(0.0, started + _settle_seconds() - time.monotonic()))
        yield TriggerEvent(verdict.to_event())

    async def _wait(self, watch: RunWatch) -> Verdict:
        hook = await self._ahook()
        # Imported here, not with this module: the triggerer imports a trigger's module on its event loop,
        # and what the follower needs (transport, platform API) came in with the hook, in a thread.
        from airflow_workflow_providers.core.follow import EventFollower

        async with (
            hook.async_transport() as transport,
            EventFollower(hook.api, self.run_ref, transport, self.log) as events,
        ):
            while True:
                try:
                    run = await transport.call(hook.api.status(self.run_ref), self.end_time)
                    verdict = watch.observe(run) or (events.pause_verdict(run) if self.pause_event else None)
                except PlatformAPIError as exc:
                    verdict = watch.failed_poll(exc)
                if verdict is not None:
                    return verdict
                # the stream opens after the first poll: spread out like the polls, and never for a
                # run that had already ended
                events.follow()
                await events.wait(watch.delay(events.interval(self.poll_interval)))

    async def on_kill(self) -> None:
        """Stop the remote run (a user acted on the task); never raises, and gives up before the
        triggerer's ``[triggerer] on_kill_timeout`` would cut it off."""
        if not self.cancel_on_kill:
            return
        self.log.info("A user acted on the task: stopping its remote run %s.", self.run_ref.run_id)
        deadline = time.time() + max(1.0, conf.getfloat("triggerer", "on_kill_timeout", fallback=30.0) - 2.0)
        try:
            await (await self._ahook()).acancel_run(self.run_ref, deadline=deadline)
        except Exception as exc:
            self.log.warning("Could not stop %s run %s: %s", self.platform_name, self.run_ref.run_id, exc)


def _first_poll_delay(poll_interval: float, end_time: float) -> float:
    """A random point within the first interval, never past the deadline. Until then a trigger is only a
    timer: triggers created together (a restarted triggerer creates thousands at once) build their state
    and poll spread out over the interval, and creating them stays cheap for the event loop."""
    return before_deadline(random.uniform(0, poll_interval), end_time)


def _configuration_error(exc: Exception, conn_id: str) -> Exception:
    """A missing connection as the configuration error it is (no retry fixes it); anything else as is."""
    if isinstance(exc, AirflowNotFoundException):
        return ConfigurationError(
            f"The connection {conn_id!r} is not defined where the triggerer runs: {exc}"
        )
    return exc


#: one hook for every trigger of the same platform, connection and options in this process: a hook
#: holds no per-run state, and 5000 triggers need not build 5000 of them
_HOOKS: dict[tuple[str, str, str], WorkflowHook] = {}
#: hooks being built
_BUILDS: Flights = {}


def _hook_key(platform_key: str, conn_id: str, api_options: dict[str, Any]) -> tuple[str, str, str]:
    return platform_key, conn_id, json.dumps(api_options, sort_keys=True)


def shared_hook(platform_key: str, conn_id: str, api_options: dict[str, Any]) -> WorkflowHook:
    """The process's hook for this platform, connection and options, built on first use."""
    key = _hook_key(platform_key, conn_id, api_options)
    hook = _HOOKS.get(key)
    if hook is None:
        hook = _HOOKS.setdefault(key, hook_class(platform_key)(conn_id=conn_id, api_options=api_options))
    return hook


def _settle_seconds() -> float:
    """How long after it starts the trigger holds back its event.

    Airflow fails a task whose trigger fires before the executor has reported the try that deferred
    (apache/airflow#66374); that report lags by up to ``[workers] min_heartbeat_interval``. A run that
    ends sooner is reported once that interval and one scheduler beat have passed.

    Applies on every supported version: 3.0 and 3.1 have no guard; 3.2.2 and 3.3 guard only a resumed
    try in ``scheduled`` (#66431, backported in #67089), while the ``queued`` fix (#68741) is not in
    3.3.2 and the ``running`` variant (#72716) is still open. Gate it on the release that has both.

    Only the LocalExecutor's late report can hit the resumed try; the CeleryExecutor drops a report it has
    not read once the try is queued again, so there the hold-back costs a few seconds and nothing else
    (docs/reliability.md).
    """
    return conf.getfloat("workers", "min_heartbeat_interval", fallback=5.0) + 1.0
