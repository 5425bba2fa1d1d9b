"""Judging a run while waiting on it, shared by the worker's poll loop, the sensor and the trigger.

Each observation is judged on its own (remote services skip and even contradict states). A transient
poll failure is tolerated until ``max_consecutive_failures`` happen in a row; a permanent one ends the
wait at once. The verdict of a wait is also the trigger's event, whose schema :func:`validate_event`
checks on both sides of the deferral.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    PlatformAPIError,
    RunFailed,
    RunTimedOut,
    TriggerEventError,
)
from airflow_workflow_providers.core.model import Run, RunRef, RunState

#: every status a wait (and so a trigger event) can end with
EVENT_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timeout", "error"})
EVENT_KEYS = frozenset({"status", "platform", "run_id", "message", "run"})


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    platform: str
    ref: RunRef
    message: str
    run: Run | None = None

    def to_event(self) -> dict[str, Any]:
        """The trigger event: small, JSON only, carrying the run reference so the task can resume with it."""
        return {
            "status": self.status,
            "platform": self.platform,
            "run_id": self.ref.run_id,
            "message": self.message,
            "run": self.ref.to_json(),
        }


def validate_event(event: Any) -> dict[str, Any]:
    """Check a trigger event against the schema; return it, or raise :class:`TriggerEventError`."""
    if not isinstance(event, Mapping) or set(event) != EVENT_KEYS:
        raise TriggerEventError(f"Trigger event must be a dict with keys {sorted(EVENT_KEYS)}, got {event!r}")
    texts = [event[k] for k in ("status", "platform", "run_id", "message")]
    run = event["run"]
    if event["status"] not in EVENT_STATUSES or not all(isinstance(v, str) for v in texts):
        raise TriggerEventError(f"Trigger event has an unknown status or a non-string field: {event!r}")
    if not isinstance(run, Mapping) or run.get("run_id") != event["run_id"] or not all(isinstance(v, str) for v in run.values()):
        raise TriggerEventError(f"Trigger event's run reference does not match its run id: {event!r}")
    return dict(event)


def raise_for_event(event: Mapping[str, Any]) -> None:
    """Raise the error an unsuccessful verdict stands for; return for ``succeeded``."""
    status, platform, run_id, message = (event[k] for k in ("status", "platform", "run_id", "message"))
    if status in ("failed", "cancelled"):
        raise RunFailed(message, platform=platform, run_id=run_id)
    if status == "timeout":
        raise RunTimedOut(message)
    if status == "error":
        raise PlatformAPIError(message, platform=platform, run_id=run_id)


def judge_terminal(platform: str, ref: RunRef, run: Run) -> Verdict:
    """The verdict on a run that has ended."""
    what = f"{platform} run {ref.run_id}"
    if run.state is RunState.SUCCEEDED:
        return Verdict("succeeded", platform, ref, f"{what} succeeded.", run)
    verb = "failed" if run.state is RunState.FAILED else "was cancelled"
    detail = run.error_message or "the platform gave no error text"
    return Verdict(run.state.value, platform, ref, f"{what} {verb}: {detail} (status={run.raw_status!r})", run)


class RunWatch:
    """Judges the polls of one run until it ends, its deadline passes, or polling keeps failing."""

    def __init__(
        self,
        platform: str,
        ref: RunRef,
        *,
        end_time: float,
        log: logging.Logger,
        max_consecutive_failures: int = 10,
    ) -> None:
        self.platform = platform
        self.ref = ref
        self.end_time = end_time
        self.log = log
        self.max_consecutive_failures = max_consecutive_failures
        self.failures = 0
        self.last_status: Any = None

    @property
    def run_id(self) -> str:
        return self.ref.run_id

    def observe(self, run: Run) -> Verdict | None:
        self.failures = 0
        if run.raw_status != self.last_status:
            self.log.info("%s run %s is %s (status=%r).", self.platform, self.run_id, run.state.value, run.raw_status)
            self.last_status = run.raw_status
        if run.state.is_terminal:
            return judge_terminal(self.platform, self.ref, run)
        return self._expired()

    def failed_poll(self, exc: PlatformAPIError) -> Verdict | None:
        if isinstance(exc, PermanentAPIError):
            return Verdict("error", self.platform, self.ref, str(exc))
        self.failures += 1
        if self.failures >= self.max_consecutive_failures:
            return Verdict(
                "error", self.platform, self.ref,
                f"Polling {self.platform} run {self.run_id} failed {self.failures} times in a row; last: {exc}",
            )
        self.log.warning(
            "Poll of %s run %s failed (%d in a row, giving up at %d): %s; still waiting.",
            self.platform, self.run_id, self.failures, self.max_consecutive_failures, exc,
        )
        return self._expired()

    def delay(self, poll_interval: float) -> float:
        """Seconds to the next poll: the interval, but never past the deadline."""
        return max(0.0, min(poll_interval, self.end_time - time.time()))

    def conclude(self, verdict: Verdict) -> Run:
        """Return the finished run of a successful verdict; raise for any other."""
        raise_for_event(verdict.to_event())
        assert verdict.run is not None
        return verdict.run

    def _expired(self) -> Verdict | None:
        if time.time() < self.end_time:
            return None
        return Verdict(
            "timeout", self.platform, self.ref,
            f"{self.platform} run {self.run_id} did not finish before the timeout (last status={self.last_status!r}).",
        )
