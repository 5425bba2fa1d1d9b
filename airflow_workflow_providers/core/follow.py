"""Following a run's event stream beside the trigger's polls (for platforms whose API describes one).

Polling stays the source of truth: the stream only writes node progress to the task log and wakes
the poller as soon as the run ends (or pauses), so the result is read from the status endpoint at
once instead of at the next interval. While the stream is open, polls are ``STRETCH`` times rarer;
when it closes without the run's end, or cannot be opened at all (an older server: 404), the trigger
polls at its interval. An account has ``connections_per_host`` stream slots: while every one is taken,
the run is polled and its stream opens after a poll that finds a slot free.
"""

from __future__ import annotations

import asyncio
import contextlib

from airflow_workflow_providers.core.errors import PermanentAPIError, PlatformAPIError
from airflow_workflow_providers.core.model import Log, Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI
from airflow_workflow_providers.core.progress import NodeProgress, Progress, ProgressLog, RunEnded, RunPaused
from airflow_workflow_providers.core.transport import AsyncTransport, NoStreamSlot
from airflow_workflow_providers.core.watch import Verdict

#: polls are this many times rarer while the event stream is open
STRETCH = 6.0
#: how often a stream that closed without the run's end is opened again
MAX_OPENS = 3


class EventFollower:
    """``async with EventFollower(api, ref, transport, log) as events: events.follow(); await events.wait(s)``."""

    def __init__(self, api: PlatformAPI, ref: RunRef, transport: AsyncTransport, log: Log) -> None:
        self.api, self.ref, self.transport, self.log = api, ref, transport, log
        self.live = False
        #: the last pause the stream reported (its form), if any
        self.paused: RunPaused | None = None
        #: the stream said something the poller should act on at once (cleared by the next wait)
        self._signalled = False
        self._waker: asyncio.Future[None] | None = None
        self._ended = False
        #: made with the stream: most runs of a busy account are polled only
        self._progress: ProgressLog | None = None
        self._task: asyncio.Task[None] | None = None
        self._describes: bool | None = None
        #: the stream found every stream slot of the account taken: the next ``follow()`` tries again
        self._no_slot = False

    async def __aenter__(self) -> EventFollower:
        return self

    def follow(self) -> None:
        """Open the run's event stream beside the polls, if its API describes one (once; later calls do
        nothing) -- and when every stream slot of the account is taken, not yet: the trigger calls this
        after each poll, so the stream opens once a slot is free."""
        if self._task is not None and not (self._no_slot and self._task.done()):
            return
        if self._describes is None:
            self._describes = self.api.progress(self.ref) is not None
        if self._describes and self.transport.stream_slot_free():
            self._no_slot = False
            self._task = asyncio.create_task(
                self._follow(), name=f"events of {self.api.name} run {self.ref.run_id}"
            )

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def pause_verdict(self, run: Run) -> Verdict | None:
        """For a run polled as paused: a ``paused`` verdict whose reference carries the ``form_token``
        the stream named; None while no form is known, or for the form the task already handled (the
        ``form_token`` of the reference it waits on)."""
        token = self.paused.token if self.paused is not None else None
        if run.state is not RunState.PAUSED or not token or token == self.ref.extras.get("form_token"):
            return None
        assert self.paused is not None
        ref = RunRef(
            self.ref.run_id, {**self.ref.extras, "form_token": token, "form_title": self.paused.title}
        )
        summary = self.paused.summary
        return Verdict("paused", self.api.name, ref, f"{self.api.name} run {ref.run_id} paused: {summary}.")

    def interval(self, poll_interval: float) -> float:
        """Seconds to the next poll: stretched while the stream is open."""
        return poll_interval * STRETCH if self.live else poll_interval

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the stream says the run ended or paused (once per signal).

        A plain sleep without a stream; with one, a future the stream resolves (no task per wait, as
        ``asyncio.wait_for`` would make: thousands of triggers wait at once)."""
        if self._task is None:
            await asyncio.sleep(max(0.0, seconds))
        elif not self._signalled:
            loop = asyncio.get_running_loop()
            self._waker = waker = loop.create_future()
            timer = loop.call_later(max(0.0, seconds), _wake, waker)
            try:
                await waker
            finally:
                timer.cancel()
                self._waker = None
        self._signalled = False

    def _signal(self) -> None:
        self._signalled = True
        if self._waker is not None:
            _wake(self._waker)

    async def _follow(self) -> None:
        what = f"{self.api.name} run {self.ref.run_id}"
        for _ in range(MAX_OPENS):
            call = self.api.progress(self.ref)
            if call is None or call.reader is None:
                return
            try:
                self.live = True
                async for chunk in self.transport.stream(call):
                    for item in call.reader.feed(chunk):  # type: ignore[union-attr]
                        self._take(item)
            except NoStreamSlot:  # taken since follow() saw one free: tried again after the next poll
                self._no_slot = True
                return
            except PermanentAPIError as exc:
                detail = "no events endpoint" if exc.status_code == 404 else f"events refused ({exc})"
                self.log.info("%s: %s; following it by polls only.", what, detail)
                return
            except PlatformAPIError as exc:
                self.log.info("The event stream of %s failed (%s); polling meanwhile.", what, exc)
            finally:
                self.live = False
                self._signal()  # the poller goes back to its own interval at once
            if self.paused is not None or self._ended:
                return
        self.log.info(
            "The event stream of %s closed %d times before the run ended; polling only.", what, MAX_OPENS
        )

    def _take(self, item: Progress) -> None:
        if isinstance(item, NodeProgress):
            self._progress = self._progress or ProgressLog()
            if line := self._progress.line(item):
                self.log.info(line)
        elif isinstance(item, RunEnded):
            self.log.info(
                "The event stream says %s run %s ended (%s); reading its result.",
                self.api.name,
                self.ref.run_id,
                item.status,
            )
            self._ended = True
            self._signal()
        elif isinstance(item, RunPaused):
            self.log.info("%s run %s paused: %s.", self.api.name, self.ref.run_id, item.summary)
            self.paused = item
            self._signal()


def _wake(waker: asyncio.Future[None]) -> None:
    if not waker.done():
        waker.set_result(None)
