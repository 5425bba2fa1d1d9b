"""The task log's story of a remote run, worded in one place.

Every platform's task log reads the same way, in this order::

    inputs checked (against what) -> run started (id, what runs, where to look)
    -> waiting (where: triggerer or worker; poll interval; deadline; whether the worker slot is free)
    -> state changes -> a heartbeat while the state stays the same -> finished (state, elapsed,
    usage, output keys and sizes), or why it did not.

The functions here only build the lines (pure, no Airflow, no I/O); the engine logs them.
"""

from __future__ import annotations

import string
import time
from collections.abc import Mapping
from typing import Any, TypeGuard

#: the result keys every platform's run operator returns (README "Results"); the rest are its own
RESULT_KEYS = ("run_id", "status", "raw_status", "outputs", "error", "elapsed_time")
#: a heartbeat is logged at least this often (and at most every ``HEARTBEAT_POLLS`` polls)
HEARTBEAT_MIN, HEARTBEAT_MAX, HEARTBEAT_POLLS = 30.0, 300.0, 30


def heartbeat_every(poll_interval: float) -> float:
    """Seconds between "still running" lines: every 30 polls, kept within 30 s and 5 min."""
    return min(HEARTBEAT_MAX, max(HEARTBEAT_MIN, HEARTBEAT_POLLS * poll_interval))


def describe(template: str, values: Mapping[str, Any]) -> str:
    """``template`` filled from ``values``; a field ``values`` lacks reads "unknown"."""

    class _Known(dict):
        def __missing__(self, key: str) -> str:
            return "unknown"

    return string.Formatter().vformat(
        template, (), _Known({k: v for k, v in values.items() if v is not None})
    )


def inputs_checked(platform: str, against: str) -> str:
    return f"{platform} inputs checked against {against}: no problem found; starting the run."


def inputs_rejected(message: str) -> str:
    return f"Nothing was submitted (no credits spent). {message}"


def run_started(platform: str, run_id: str, subject: str, link: str | None) -> str:
    line = f"Started {platform} run {run_id}" + (f" ({subject})." if subject else ".")
    if link:
        line += f' Follow it at {link} (in Airflow: the task\'s Details tab, Extra Links, "Remote run").'
    return line


def waiting(platform: str, run_id: str, *, deferrable: bool, poll_interval: float, end_time: float) -> str:
    """Where and how long the task waits, and what that means for the worker slot."""
    how = f"a poll every {duration(poll_interval)} until {clock(end_time)} (the task's timeout)"
    if deferrable:
        return (
            f"Waiting for {platform} run {run_id} on the triggerer: {how}. "
            "The task is deferred: the worker slot is free until the run ends."
        )
    return (
        f"Waiting for {platform} run {run_id} on this worker (deferrable=False): {how}. "
        "The worker slot stays in use until the run ends."
    )


def trigger_started(
    platform: str, run_id: str, *, poll_interval: float, end_time: float, heartbeat: float
) -> str:
    return (
        f"Triggerer watching {platform} run {run_id}: a poll every {duration(poll_interval)} until "
        f"{clock(end_time)}; a state change is logged at once, an unchanged state every {duration(heartbeat)}."
    )


def state(platform: str, run_id: str, state: str, raw_status: Any) -> str:
    """``Scade run 7 state: running (Scade status 2)``: the platform's own status only where it differs."""
    said = "" if str(raw_status) == state else f" ({platform} status {raw_status!r})"
    return f"{platform} run {run_id} state: {state}{said}"


def state_changed(platform: str, run_id: str, state_now: str, raw_status: Any, elapsed: float) -> str:
    return f"{state(platform, run_id, state_now, raw_status)}, {duration(elapsed)} into the wait."


def still_running(platform: str, run_id: str, state: str, elapsed: float, polls: int) -> str:
    return f"{platform} run {run_id} still {state} after {duration(elapsed)}, polled {polls} times."


def finished(platform: str, result: Mapping[str, Any]) -> str:
    """The last line of a successful run: state, elapsed time, usage figures, output keys and sizes."""
    elapsed = result.get("elapsed_time")
    took = f" in {duration(float(elapsed))}" if _number(elapsed) else ""
    usage = ", ".join(f"{k}={v}" for k, v in result.items() if k not in RESULT_KEYS and _number(v))
    outputs = result.get("outputs") or {}
    shown = (
        ", ".join(f"{k} ({size(v)})" for k, v in outputs.items())
        if isinstance(outputs, Mapping)
        else size(outputs)
    )
    return (
        f"{platform} run {result.get('run_id')} finished: {result.get('status')}{took}; "
        f"usage: {usage or 'none reported'}; outputs: {shown or 'none'}."
    )


def ended_badly(message: str) -> str:
    """The run did not succeed: its message, as the first thing a reader sees of the failure."""
    return f"The task fails: {message}"


# -- formatting --------------------------------------------------------------------------------------
def duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``12 min``, ``2 h 5 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds // 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"


def clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def size(value: Any) -> str:
    """How big an output is, in the unit a reader expects for its type."""
    if value is None:
        return "empty"
    if isinstance(value, str):
        return f"{len(value)} chars"
    if isinstance(value, Mapping):
        return f"{len(value)} keys"
    if isinstance(value, (list, tuple)):
        return f"{len(value)} items"
    return repr(value)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
