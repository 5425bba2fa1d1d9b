"""Pure data types shared by every platform: requests to send, responses received, runs observed.

Theory of operation
-------------------
A platform is described by a :class:`~airflow_workflow_providers.core.platform.PlatformAPI`: it turns
intentions (start, status, cancel) into :class:`Request` values and turns :class:`Response` values into a
normalized :class:`Run`. Nothing here performs I/O; the transport in ``core.transport`` is the only
place that talks to the network, once synchronously (workers) and once asynchronously (triggerer).

Remote services jump states (queued -> succeeded) and even contradict themselves (a stopped Dify run
still polls as ``running``), so a :class:`Run` is one observation judged on its own; no transition
table is enforced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


class RunState(str, Enum):
    """Normalized remote run state; the platform's raw value is always kept beside it."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)

    @property
    def is_successful(self) -> bool:
        return self is RunState.SUCCEEDED


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, relative to the connection's base URL."""

    method: str
    path: str
    query: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    #: multipart upload as ``(field name, file name, bytes, content type)``
    upload: tuple[str, str, bytes, str] | None = None
    form: Mapping[str, str] | None = None
    #: read the body incrementally (server-sent events) instead of whole
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response as bytes: what the transport hands to the pure parsers."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """Decode the body; raise ``ValueError`` when it is not JSON."""
        return json.loads(self.body.decode("utf-8", errors="replace"))

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class RunRef:
    """What it takes to poll and cancel one remote run; JSON-native so it can cross into a trigger.

    ``run_id`` is the id users see; ``extras`` holds what else a platform needs (Dify's task id and
    end user for stop, Arcee's workflow id for polling). Never a secret.
    """

    run_id: str
    extras: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **dict(self.extras)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRef:
        extras = {k: str(v) for k, v in data.items() if k != "run_id" and v is not None}
        return cls(run_id=str(data["run_id"]), extras=extras)


@dataclass(frozen=True, slots=True)
class Run:
    """One observation of a remote run, normalized."""

    run_id: str
    state: RunState
    raw_status: Any
    outputs: Any = None
    error_message: str | None = None
    #: platform usage/cost figures, e.g. ``total_tokens`` or ``execution_cost``
    usage: Mapping[str, Any] = field(default_factory=dict)
    #: success with reservations, e.g. Dify's ``partial-succeeded``
    warning: str | None = None

    def to_result(self) -> dict[str, Any]:
        """The operator's return value (XCom): JSON only."""
        return {
            "run_id": self.run_id,
            "status": self.state.value,
            "raw_status": self.raw_status,
            "outputs": self.outputs,
            "error": self.error_message,
            **dict(self.usage),
        }


class StartReader(Protocol):
    """Reads a streamed start answer piece by piece until the run's reference is known."""

    def feed(self, chunk: bytes) -> RunRef | None:
        """Take the next piece; return the reference once it is known."""

    def end(self, *, timed_out: bool) -> RunRef:
        """The stream closed (or stayed silent too long) before a reference arrived: raise why."""
