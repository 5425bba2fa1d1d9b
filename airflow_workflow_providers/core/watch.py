"""Judging a run while waiting on it, shared by the worker's poll loop, the sensor and the trigger.

Each observation is judged on its own (remote services skip and even contradict states). A transient
poll failure is tolerated until ``max_consecutive_failures`` happen in a row; a permanent one ends the
wait at once. The verdict of a wait is also the trigger's event, whose schema :func:`validate_event`
checks on both sides of the deferral.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.errors import (
    ConfigurationError,
    PermanentAPIError,
    PlatformAPIError,
    RunFailed,
    RunTimedOut,
    TriggerEventError,
    WorkflowProviderError,
)
from airflow_workflow_providers.core.model import Log, Run, RunRef, RunState

#: every status a wait (and so a trigger event) can end with
#: (``paused``: only for a trigger asked for it, the run waits for a person; its ``run`` names the form)
EVENT_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timeout", "error", "paused"})
EVENT_KEYS = frozenset({"status", "platform", "run_id", "message", "run"})
#: what an ``"error"`` event says of its cause, so the task re-raises the same kind: ``permanent`` (an
#: answer no retry changes), ``configuration`` (e.g. the connection is missing) or ``transient``
ERROR_KINDS = frozenset({"permanent", "configuration", "transient"})
ERROR_KEYS = frozenset({"kind", "status_code", "code"})


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a wait ended in ``"error"``: enough to raise the same kind of error on the other side."""

    kind: str
    status_code: int | None = None
    code: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> Cause:
        if isinstance(exc, PermanentAPIError):
            return cls("permanent", exc.status_code, exc.code)
        if isinstance(exc, PlatformAPIError):
            return cls("transient", exc.status_code, exc.code)
        if isinstance(exc, ConfigurationError):
            return cls("configuration")
        return cls("transient")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "status_code": self.status_code, "code": self.code}


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    platform: str
    ref: RunRef
    message: str
    run: Run | None = None
    cause: Cause | None = None

    def to_event(self) -> dict[str, Any]:
        """The trigger event: small, JSON only, carrying the run reference so the task can resume with it."""
        event = {
            "status": self.status,
            "platform": self.platform,
            "run_id": self.ref.run_id,
            "message": self.message,
            "run": self.ref.to_json(),
        }
        if self.cause is not None:
            event["error"] = self.cause.to_json()
        return event


def validate_event(event: Any) -> dict[str, Any]:
    """Check a trigger event against the schema; return it, or raise :class:`TriggerEventError`.

    ``error`` (``{"kind", "status_code", "code"}``) is present only on ``"error"`` events; an
    ``"error"`` event without one (from a trigger of an earlier version) counts as transient.
    """
    if not isinstance(event, Mapping) or not EVENT_KEYS <= set(event) <= EVENT_KEYS | {"error"}:
        raise TriggerEventError(f"Trigger event must be a dict with keys {sorted(EVENT_KEYS)}, got {event!r}")
    texts = [event[k] for k in ("status", "platform", "run_id", "message")]
    run = event["run"]
    if event["status"] not in EVENT_STATUSES or not all(isinstance(v, str) for v in texts):
        raise TriggerEventError(f"Trigger event has an unknown status or a non-string field: {event!r}")
    if (
        not isinstance(run, Mapping)
        or run.get("run_id") != event["run_id"]
        or not all(isinstance(v, str) for v in run.values())
    ):
        raise TriggerEventError(f"Trigger event's run reference does not match its run id: {event!r}")
    if "error" in event and not (event["status"] == "error" and _is_cause(event["error"])):
        raise TriggerEventError(
            f"Trigger event's error must be {sorted(ERROR_KEYS)} on an error event: {event!r}"
        )
    return dict(event)


def _is_cause(cause: Any) -> bool:
    return (
        isinstance(cause, Mapping)
        and set(cause) == ERROR_KEYS
        and cause["kind"] in ERROR_KINDS
        and (
            cause["status_code"] is None
            or (isinstance(cause["status_code"], int) and not isinstance(cause["status_code"], bool))
        )
        and (cause["code"] is None or isinstance(cause["code"], str))
    )


def raise_for_event(event: Mapping[str, Any]) -> None:
    """Raise the error an unsuccessful verdict stands for; return for ``succeeded``.

    An ``"error"`` event raises the kind its cause names, so that an error no retry can fix
    (:class:`PermanentAPIError`, :class:`ConfigurationError`) is not retried after crossing the deferral.
    """
    status, platform, run_id, message = (event[k] for k in ("status", "platform", "run_id", "message"))
    if status in ("failed", "cancelled"):
        raise RunFailed(message, platform=platform, run_id=run_id)
    if status == "timeout":
        raise RunTimedOut(message)
    if status == "error":
        cause = event.get("error") or {"kind": "transient", "status_code": None, "code": None}
        if cause["kind"] == "configuration":
            raise ConfigurationError(message)
        kind = PermanentAPIError if cause["kind"] == "permanent" else PlatformAPIError
        raise kind(
            message, platform=platform, run_id=run_id, status_code=cause["status_code"], code=cause["code"]
        )


def judge_terminal(platform: str, ref: RunRef, run: Run) -> Verdict:
    """The verdict on a run that has ended."""
    what = f"{platform} run {ref.run_id}"
    if run.state is RunState.SUCCEEDED:
        return Verdict("succeeded", platform, ref, f"{what} succeeded.", run)
    verb = "failed" if run.state is RunState.FAILED else "was cancelled"
    detail = run.error_message or "the platform gave no error text"
    return Verdict(
        run.state.value, platform, ref, f"{what} {verb}: {detail} (status={run.raw_status!r})", run
    )


def before_deadline(seconds: float, end_time: float) -> float:
    """``seconds``, but never past ``end_time`` (epoch seconds) and never negative."""
    return max(0.0, min(seconds, end_time - time.time()))


class RunWatch:
    """Judges the polls of one run until it ends, its deadline passes, or polling keeps failing."""

    def __init__(
        self,
        platform: str,
        ref: RunRef,
        *,
        end_time: float,
        log: Log,
        max_consecutive_failures: int = 10,
        heartbeat: float = story.HEARTBEAT_MAX,
        intro: str | None = None,
        started: float | None = None,
    ) -> None:
        self.platform = platform
        self.ref = ref
        self.end_time = end_time
        self.log = log
        self.max_consecutive_failures = max_consecutive_failures
        self.failures = 0
        self.last_status: Any = None
        #: seconds without a state change before a "still running" line
        self.heartbeat = heartbeat
        self.polls = 0
        #: said in front of the first line this watch logs
        self.intro = intro
        #: when the wait began (``time.monotonic()``), if not now
        self._started = self._last_said = time.monotonic() if started is None else started

    @property
    def run_id(self) -> str:
        return self.ref.run_id

    def observe(self, run: Run) -> Verdict | None:
        self.failures = 0
        self.polls += 1
        now = time.monotonic()
        if run.raw_status != self.last_status:
            self.log.info(
                self._introduced(
                    story.state_changed(
                        self.platform, self.run_id, run.state.value, run.raw_status, now - self._started
                    )
                )
            )
            self.last_status, self._last_said = run.raw_status, now
        elif now - self._last_said >= self.heartbeat:
            self.log.info(
                story.still_running(
                    self.platform, self.run_id, run.state.value, now - self._started, self.polls
                )
            )
            self._last_said = now
        if run.state.is_terminal:
            return judge_terminal(self.platform, self.ref, run)
        return self._expired()

    def failed_poll(self, exc: PlatformAPIError) -> Verdict | None:
        if isinstance(exc, PermanentAPIError):
            return self.broken(exc)
        self.failures += 1
        if self.failures >= self.max_consecutive_failures:
            return Verdict(
                "error",
                self.platform,
                self.ref,
                f"Polling {self.platform} run {self.run_id} failed {self.failures} times in a row; last: {exc}",
                cause=Cause.of(exc),
            )
        self.log.warning(
            self._introduced(
                f"Poll of {self.platform} run {self.run_id} failed ({self.failures} in a row, giving up at "
                f"{self.max_consecutive_failures}): {exc}; still waiting."
            )
        )
        return self._expired()

    def _introduced(self, line: str) -> str:
        intro, self.intro = self.intro, None
        return f"{intro} {line}" if intro else line

    def broken(self, exc: BaseException) -> Verdict:
        """The verdict when waiting cannot go on (a permanent answer, a missing connection, a bug)."""
        detail = str(exc) if isinstance(exc, WorkflowProviderError) else f"{type(exc).__name__}: {exc}"
        return Verdict("error", self.platform, self.ref, detail, cause=Cause.of(exc))

    def delay(self, poll_interval: float) -> float:
        """Seconds to the next poll: the interval, but never past the deadline."""
        return before_deadline(poll_interval, self.end_time)

    def conclude(self, verdict: Verdict) -> Run:
        """Return the finished run of a successful verdict; raise for any other."""
        raise_for_event(verdict.to_event())
        assert verdict.run is not None
        return verdict.run

    def _expired(self) -> Verdict | None:
        if time.time() < self.end_time:
            return None
        return Verdict(
            "timeout",
            self.platform,
            self.ref,
            f"{self.platform} run {self.run_id} did not finish before the timeout (last status={self.last_status!r}).",
        )
