"""What a run's event stream says while the trigger waits on it, free of I/O.

A platform that streams a run's events describes the stream with ``PlatformAPI.progress(ref)``: a
streaming call whose reader turns bytes into the items below. Polling stays the source of truth: an
item only makes the trigger log progress, or poll at once instead of at the next interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class NodeProgress:
    """A step of the run started or ended; ``key`` names the step's execution (one per node run)."""

    key: str
    title: str
    status: str
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RunEnded:
    """The stream says the run ended: poll now for the result."""

    status: str


@dataclass(frozen=True, slots=True)
class RunPaused:
    """The stream says the run waits for a person; ``form`` is what the platform asks them (JSON),
    ``summary`` says it in one line for the task log, ``token`` identifies the form."""

    form: Mapping[str, Any] = field(default_factory=dict)
    summary: str = "the run waits for input"
    token: str | None = None
    title: str = ""


Progress = NodeProgress | RunEnded | RunPaused


class ProgressReader(Protocol):
    def feed(self, chunk: bytes) -> list[Progress]:
        """Take the next piece of the stream; return what it completed."""


class ProgressLog:
    """Formats node progress for the task log, once per step execution and status."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def line(self, item: NodeProgress) -> str | None:
        if (item.key, item.status) in self.seen:
            return None
        self.seen.add((item.key, item.status))
        took = f" in {item.seconds:.2f} s" if item.seconds is not None and item.status != "running" else ""
        return f"Node {item.title!r}: {item.status}{took}."
