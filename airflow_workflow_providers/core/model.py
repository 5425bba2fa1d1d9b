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
    def from_json(cls, data: Any) -> RunRef:
        """The reference ``to_json`` made; raise ``ValueError`` for anything else.

        Ids are strings (integers are accepted as their text); ``None``, booleans, objects and lists
        are refused rather than turned into text such as ``"None"`` that would then be polled.
        """
        if not isinstance(data, Mapping) or not _is_id(data.get("run_id")):
            raise ValueError(f"a run reference is an object with a string run_id, got {data!r:.200}")
        extras = {k: v for k, v in data.items() if k != "run_id" and v is not None}
        if not all(isinstance(k, str) and _is_id(v) for k, v in extras.items()):
            raise ValueError(f"a run reference's extra fields must be strings, got {data!r:.200}")
        return cls(run_id=str(data["run_id"]), extras={k: str(v) for k, v in extras.items()})


def _is_id(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int) and not isinstance(value, bool)


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
    #: the platform's status is one the state table does not know (``state`` is then a guess): a
    #: retry must not take it for a final failure and start a second run beside it
    unknown_status: bool = False

    def to_result(self) -> dict[str, Any]:
        """The operator's return value (XCom), JSON only, the same shape on every platform:
        ``run_id``, ``status``, ``raw_status``, ``outputs`` (always a dict), ``error``, ``elapsed_time``
        (seconds, ``None`` where the platform reports none), then the platform's own figures."""
        result = {
            "run_id": self.run_id,
            "status": self.state.value,
            "raw_status": self.raw_status,
            "outputs": outputs_dict(self.outputs),
            "error": self.error_message,
            "elapsed_time": None,
        }
        result.update(self.usage)
        return result


def outputs_dict(outputs: Any) -> dict[str, Any]:
    """A run's outputs as a dict: none is ``{}``; a single value that is not an object (Arcee's end
    node answering text) is kept under the key ``output``."""
    if outputs is None:
        return {}
    return dict(outputs) if isinstance(outputs, Mapping) else {"output": outputs}


class Log(Protocol):
    """Where the engine logs: a ``logging.Logger`` or Airflow's structured task and trigger loggers."""

    def info(self, msg: str, /, *args: Any) -> Any: ...

    def warning(self, msg: str, /, *args: Any) -> Any: ...

    def error(self, msg: str, /, *args: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class OutputFile:
    """A file among a run's outputs, behind a URL that may expire (see ``core.outputs``)."""

    #: where the file's object sits in ``Run.outputs``: output names and list indexes
    at: tuple[str | int, ...]
    #: an absolute http(s) URL
    url: str
    #: names the stored copy, with ``suffix``: ``<key><suffix>``, e.g. ``image`` + ``.png``
    key: str
    suffix: str = ""


class StartReader(Protocol):
    """Reads a streamed start answer piece by piece until the run's reference is known."""

    def feed(self, chunk: bytes) -> RunRef | None:
        """Take the next piece; return the reference once it is known."""

    def end(self, *, timed_out: bool) -> RunRef:
        """The stream closed (or stayed silent too long) before a reference arrived: raise why."""
