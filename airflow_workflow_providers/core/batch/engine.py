"""The batch engine: starts and polls a batch's runs on one event loop, journaling as it goes.

The same coroutine runs on the triggerer (deferrable) and, through ``asyncio.run``, on the worker.
Exactly once per item: an item's start intent is stored before its start request and its run right
after the answer, its result when it ends; a resumed engine skips finished items, re-attaches to
started ones and, for an intent without a run, asks the platform for the run that start created
(Dify, Arcee Orchestra) -- where the platform cannot tell (Scade, Flowy), the item is recorded failed
rather than started (and paid for) a second time.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from airflow_workflow_providers.core.batch.journal import (
    INTENT,
    PENDING,
    STARTED,
    BatchStore,
    JournalWriter,
    segment_name,
)
from airflow_workflow_providers.core.batch.window import ConcurrencyWindow, poll_delay
from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    PlatformAPIError,
    PlatformBusyError,
    StartNotConfirmedError,
    WorkflowProviderError,
)
from airflow_workflow_providers.core.model import Log, Run, RunRef
from airflow_workflow_providers.core.outputs import output_root, store_outputs
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.core.transport import AsyncTransport
from airflow_workflow_providers.core.watch import RunWatch, Verdict

#: seconds between progress lines
PROGRESS_EVERY = 30.0
#: failures whose error is logged in full
FAILURES_LOGGED = 5
#: start attempts of one item when the platform cannot be reached (nothing was started)
START_ATTEMPTS = 5
#: HTTP answers to a start that no item can overcome: stop starting (bad key, no credits, quota, unknown app)
HALTING_STATUSES = frozenset({401, 402, 403, 404, 429})
OUTCOMES = frozenset({"completed", "timeout", "halted"})


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    total: int
    concurrency: int
    poll_interval: float
    #: wall-clock deadline of the whole batch (epoch seconds)
    end_time: float
    item_timeout: float
    cancel_on_stop: bool = True


def result_line(
    index: int,
    item_id: Any,
    run_id: str | None,
    status: str,
    outputs: Any = None,
    error: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One line of the output file."""
    return {
        "index": index,
        "id": item_id,
        "run_id": run_id,
        "status": status,
        "outputs": outputs,
        "error": error,
        **(usage or {}),
    }


class BatchEngine:
    """Runs one batch to its end (or its deadline, or a halt); :meth:`run` returns the outcome event."""

    def __init__(
        self,
        hook: Any,
        store: BatchStore,
        plan: BatchPlan,
        log: Log,
        keep_outputs: Callable[[Run], Any] | None = None,
    ) -> None:
        self.hook = hook
        self.api = hook.api
        self.store = store
        self.plan = plan
        self.log = log
        self.quiet = logging.getLogger(f"{getattr(log, 'name', __name__)}.runs")
        self.quiet.setLevel(logging.WARNING)  # one line per run state change would drown the progress lines
        self.keep_outputs = keep_outputs
        self.window = ConcurrencyWindow(plan.concurrency)
        self.in_flight = 0
        self.retry: collections.deque[dict[str, Any]] = collections.deque()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping: str | None = None  # why in-flight runs are being stopped (timeout, a user)
        self.stop_event = asyncio.Event()  # bound to the loop that first waits on it (Python >= 3.10)
        self.wake = asyncio.Event()
        self.halted: str | None = None  # why no more items start (quota, bad key)
        self.expected: float | None = None  # typical run duration, for the poll schedule
        self.busy_streak = 0
        self.hold_until = 0.0  # monotonic time before which no item starts (a refusal for load)
        self.finished_here = 0
        self.failures_logged = 0

    # -- the whole batch ------------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        self.state = await asyncio.to_thread(self.store.load, self.plan.total)
        self.journal = JournalWriter(self.store, await asyncio.to_thread(self.store.next_generation))
        self.began = time.monotonic()
        self.log.info(
            "Batch of %d items (%d already finished): %s, at most %d in flight; results go to %s.",
            self.plan.total,
            self.state.done,
            self.api.name,
            self.plan.concurrency,
            self.store.location,
        )
        async with self.hook.async_transport() as polls:
            # Starts are tried once: a refusal for load goes back to the queue (and lowers the window)
            # instead of being retried in place. Both transports share the account's client and pacer,
            # so Retry-After and rate-limit headers hold starts and polls alike.
            starts = AsyncTransport(
                dataclasses.replace(polls.config, policy=RetryPolicy(attempts=1)), self.log
            )
            async with starts:
                self.polls, self.starts = polls, starts
                helpers = [
                    asyncio.create_task(c) for c in (self._report(), self._flusher(), self._deadline())
                ]
                try:
                    await self._resume()
                    await self._schedule()
                    while self.tasks:
                        await asyncio.wait(set(self.tasks))
                finally:
                    for task in [*helpers, *self.tasks]:
                        task.cancel()
                    await asyncio.shield(self.journal.flush())
        return self._outcome()

    def _outcome(self) -> dict[str, Any]:
        not_attempted = self.state.stage.count(PENDING)
        self._log_progress(final=True)
        if self.stopping:
            return {"status": "timeout", "message": self.stopping, "not_attempted": not_attempted}
        if self.halted:
            return {"status": "halted", "message": self.halted, "not_attempted": not_attempted}
        return {"status": "completed", "message": "every item was attempted", "not_attempted": not_attempted}

    async def _specs(self) -> AsyncIterator[dict[str, Any]]:
        """The spec file's lines, read off the event loop a page at a time."""
        lines = self.store.iter_specs()
        while page := await asyncio.to_thread(lambda: list(itertools.islice(lines, 256))):
            for line in page:
                yield line

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.in_flight -= 1
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Batch item task failed unexpectedly: %r", task.exception())

    async def _resume(self) -> None:
        """Re-attach to the runs an earlier engine started, and settle its unanswered starts."""
        if not (self.state.refs or self.state.intents):
            return
        self.log.info(
            "Resuming: re-attaching to %d started runs; %d starts whose answer was not recorded are looked for.",
            len(self.state.refs),
            len(self.state.intents),
        )
        async for line in self._specs():
            index = line["i"]
            if self.state.stage[index] == STARTED:
                self.in_flight += 1
                self._spawn(self._follow(line, RunRef.from_json(self.state.refs[index]), fresh=False))
            elif self.state.stage[index] == INTENT:
                self.in_flight += 1
                self._spawn(self._recover(line, self.state.intents[index]))

    async def _schedule(self) -> None:
        """Start every pending item, at most ``window.slots`` in flight, retried items first."""
        specs = self._specs().__aiter__()
        exhausted = False
        while await self._take_slot():
            line = self.retry.popleft() if self.retry else None
            while line is None and not exhausted:
                line = await anext(specs, None)
                if line is None:
                    exhausted = True
                elif self.state.stage[line["i"]] != PENDING:
                    line = None
                elif "problem" in line:
                    self._fail_unstarted(line, line["problem"])
                    line = None
            if line is None:
                self.in_flight -= 1
                if self.in_flight == 0 and not self.retry:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            self._spawn(self._item(line))

    async def _take_slot(self) -> bool:
        while not (self.stopping or self.halted):
            hold = max(0.0, self.hold_until - time.monotonic(), self.starts.pacer.not_before - time.time())
            if self.in_flight < self.window.slots and not hold:
                self.in_flight += 1
                return True
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), hold or None)
            except asyncio.TimeoutError:
                pass
        return False

    # -- one item -------------------------------------------------------------------------------------
    async def _item(self, line: dict[str, Any]) -> None:
        ref = await self._start(line)
        if ref is not None:
            await self._follow(line, ref, fresh=True)

    async def _start(self, line: dict[str, Any]) -> RunRef | None:
        """Start the item's run; ``None`` when it did not start (then it is re-queued or recorded)."""
        index = line["i"]
        for attempt in range(1, START_ATTEMPTS + 1):
            if self.stopping or self.halted:
                return None
            await self.journal.commit({"i": index, "e": "intent", "t": time.time()})
            sent = time.monotonic()
            try:
                ref = await self.hook.astart_run(self.starts, **line["spec"])
            except PlatformBusyError as exc:
                self._void(index)
                self._busy(exc, sent)
                self.retry.appendleft(line)
                return None
            except PermanentAPIError as exc:
                self._void(index)
                if exc.status_code in HALTING_STATUSES:
                    self._halt(exc)
                else:
                    self._fail_unstarted(line, str(exc))
                return None
            except StartNotConfirmedError as exc:
                self._fail_unstarted(line, str(exc))
                return None
            except PlatformAPIError as exc:  # not reached or gave up before anything was processed
                self._void(index)
                if attempt == START_ATTEMPTS:
                    self._fail_unstarted(line, str(exc))
                    return None
                await asyncio.sleep(self.hook.retry_policy.backoff(attempt))
                continue
            except WorkflowProviderError as exc:  # a start answer that cannot be read: it may have started
                self._fail_unstarted(line, str(exc))
                return None
            self.busy_streak = 0
            self.state.apply({"i": index, "e": "run", "run": ref.to_json()})
            await self.journal.commit({"i": index, "e": "run", "run": ref.to_json()})
            return ref
        return None

    async def _recover(self, line: dict[str, Any], intended_at: float) -> None:
        """An earlier engine stored this item's start intent but not its run: find the run, or decide."""
        index, spec = line["i"], line["spec"]
        if self.api.find_run(since=intended_at, **spec) is None:
            self._fail_unstarted(
                line,
                f"The batch stopped between sending this item's start and recording its answer, and {self.api.name} "
                "offers no way to find the run it may have created; not started again, so it is not paid twice. "
                "Run this item again on its own if it did not run.",
            )
            return
        try:
            ref = await self.hook.afind_started_run(intended_at, spec)
        except PlatformAPIError as exc:
            self._fail_unstarted(
                line, f"Could not look for the run of an unanswered start ({exc}); not started again."
            )
            return
        if ref is None:
            self._void(index)
            ref = await self._start(line)
        else:
            self.log.info(
                "Item %d: found run %s of a start whose answer was not recorded.", index, ref.run_id
            )
            self.state.apply({"i": index, "e": "run", "run": ref.to_json()})
            await self.journal.commit({"i": index, "e": "run", "run": ref.to_json()})
        if ref is not None:
            await self._follow(line, ref, fresh=False)

    async def _follow(self, line: dict[str, Any], ref: RunRef, *, fresh: bool) -> None:
        """Poll the item's run until it ends, its time is up or the batch stops; record its result."""
        began = time.monotonic()
        end_time = min(time.time() + self.plan.item_timeout, self.plan.end_time + 60.0)
        watch = RunWatch(self.api.name, ref, end_time=end_time, log=self.quiet)
        delay = poll_delay(0.0, self.expected, self.plan.poll_interval)
        while True:
            if await self._stopped_within(delay):
                await self._stop_run(line, ref)
                return
            try:
                verdict = watch.observe(await self.polls.call(self.api.status(ref)))
            except PlatformAPIError as exc:
                verdict = watch.failed_poll(exc)
            if verdict is not None:
                break
            delay = poll_delay(time.monotonic() - began, self.expected, self.plan.poll_interval)
        if fresh and verdict.run is not None:
            took = time.monotonic() - began
            self.expected = took if self.expected is None else 0.8 * self.expected + 0.2 * took
        if verdict.status == "timeout":
            await self._cancel(ref)
        self._record(line, await self._result(line, verdict))
        self.window.grow()

    async def _result(self, line: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
        run = verdict.run
        if run is None:
            return result_line(
                line["i"], line["id"], verdict.ref.run_id, verdict.status, error=verdict.message
            )
        outputs, status, error = run.outputs, verdict.status, run.error_message
        if status == "succeeded" and self.keep_outputs is not None:
            try:
                outputs = await asyncio.to_thread(self.keep_outputs, run)
            except Exception as exc:  # the run succeeded, but what it made was not kept
                status, error = "failed", f"the run succeeded but its outputs could not be stored: {exc}"
        elif status != "succeeded":
            error = verdict.message
        return result_line(line["i"], line["id"], run.run_id, status, outputs, error, dict(run.usage))

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.stop_event.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _stop_run(self, line: dict[str, Any], ref: RunRef) -> None:
        stopped = await self._cancel(ref) if self.plan.cancel_on_stop else False
        where = (
            "stopped"
            if stopped
            else f"not stopped ({self.api.name} cannot stop it, or cancel_on_kill is off)"
        )
        self._record(
            line,
            result_line(
                line["i"],
                line["id"],
                ref.run_id,
                "cancelled",
                error=f"The batch stopped ({self.stopping}); the run was {where}.",
            ),
        )

    async def _cancel(self, ref: RunRef) -> bool:
        try:
            return await self.hook.acancel_run(ref)
        except Exception as exc:  # best effort: the result says what happened
            self.log.warning("Could not stop %s run %s: %s", self.api.name, ref.run_id, exc)
            return False

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _record(self, line: dict[str, Any], result: dict[str, Any]) -> None:
        record = {"i": line["i"], "e": "done", "r": result}
        self.journal.add(record)
        self.state.apply(record)
        self.finished_here += 1
        if result["status"] != "succeeded" and self.failures_logged < FAILURES_LOGGED:
            self.failures_logged += 1
            self.log.warning(
                "Item %d (id %r) %s: %s", line["i"], line["id"], result["status"], result["error"]
            )

    def _fail_unstarted(self, line: dict[str, Any], error: str) -> None:
        """Record the item failed with no run id to show (it did not start, or its start was not confirmed)."""
        self._record(line, result_line(line["i"], line["id"], None, "failed", error=error))

    def _void(self, index: int) -> None:
        self.journal.add({"i": index, "e": "void"})
        self.state.apply({"i": index, "e": "void"})

    def _busy(self, exc: PlatformBusyError, sent: float) -> None:
        if self.window.shrink(sent, time.monotonic()):
            self.busy_streak += 1  # rounds of refusals in a row: the wait doubles with each
            self.log.info(
                "%s refused a start for load (%s); at most %d runs in flight now.",
                self.api.name,
                exc,
                self.window.slots,
            )
        # a Retry-After also holds the shared pacer (and so the polls); a refusal without one holds starts only
        hold = exc.retry_after or self.hook.retry_policy.backoff(max(1, min(self.busy_streak, 6)))
        self.hold_until = max(self.hold_until, time.monotonic() + hold)

    def _halt(self, exc: PlatformAPIError) -> None:
        if not self.halted:
            self.halted = f"{self.api.name} refused a start: {exc}"
            self.log.error("No more items will be started: %s. Runs in flight finish.", self.halted)
            self.wake.set()

    async def _deadline(self) -> None:
        await asyncio.sleep(max(0.0, self.plan.end_time - time.time()))
        self.stop("the batch did not finish within its timeout")

    def stop(self, reason: str) -> None:
        """Stop starting, stop every run in flight (where the platform can) and record it cancelled."""
        if not self.stopping:
            self.stopping = reason
            self.log.error("Stopping the batch: %s; stopping %d runs in flight.", reason, self.in_flight)
            self.stop_event.set()
            self.wake.set()

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self.journal.flush()

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            self._log_progress()

    def _log_progress(self, final: bool = False) -> None:
        tally, done, total = self.state.tally, self.state.done, self.plan.total
        minutes = max(1e-9, (time.monotonic() - self.began) / 60)
        rate = self.finished_here / minutes
        left = f", about {(total - done) / rate:.1f} min left" if rate and not final and done < total else ""
        usage = ", ".join(f"{k}={v:g}" for k, v in sorted(tally.usage.items())) or "none reported"
        self.log.info(
            "%s %d/%d done (%d failed), %d in flight (limit %d), %.0f items/min%s; usage so far: %s.",
            "Batch finished:" if final else "Batch progress:",
            done,
            total,
            tally.failed,
            max(0, self.in_flight),
            self.window.slots,
            rate,
            left,
            usage,
        )


def stop_in_flight(hook: Any, store: BatchStore, total: int, reason: str, log: Log) -> int:
    """For a batch whose engine is gone (its trigger cancelled when a user marked or cleared the task): stop
    the runs its journal shows in flight, where the platform can, record them cancelled and write the
    output; returns how many. Synchronous: the trigger's ``on_kill`` calls it in a thread."""
    state = store.load(total)
    if not state.refs:
        store.assemble()
        return 0
    ids = {line["i"]: line["id"] for line in store.iter_specs() if line["i"] in state.refs}
    records = []
    for index, ref_json in state.refs.items():
        ref = RunRef.from_json(ref_json)
        try:
            stopped = hook.cancel_run(ref)
        except Exception as exc:  # best effort: the result line says what happened
            log.warning("Could not stop %s run %s: %s", hook.api.name, ref.run_id, exc)
            stopped = False
        where = "stopped" if stopped else "not stopped (the platform cannot stop it)"
        records.append(
            {
                "i": index,
                "e": "done",
                "r": result_line(
                    index,
                    ids.get(index),
                    ref.run_id,
                    "cancelled",
                    error=f"The batch stopped ({reason}); the run was {where}.",
                ),
            }
        )
    store.write_segment(segment_name(store.next_generation(), 1, secrets.token_hex(3)), records)
    store.assemble()
    log.info("Stopped the batch: %d runs in flight recorded cancelled.", len(records))
    return len(records)


def file_keeper(hook: Any, output_dir: Any, log: Log) -> Callable[[Run], Any]:
    """What copies a succeeded run's file outputs under ``output_dir`` as it ends (``core.outputs``, the
    same copy a single run operator makes), returning the outputs with each file's location."""
    root = output_root(output_dir, "batch")
    return lambda run: store_outputs(hook, run, root, log)
