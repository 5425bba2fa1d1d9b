"""App definitions and the wall-clock run model shared by every emulator.

Theory of operation: a run is planned once, when it starts. Its app, inputs, duration and outcome are
fixed then, and its state at any moment is *computed from the clock*: queued until
``created_at + queued_seconds``, running until ``ends_at``, then terminal with the planned outcome.
Nothing advances a run, so a closed stream, a dropped connection or a client that never polls
again changes nothing. The one exception is a stop, which ends the run early at the moment it arrives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAILED = "failed"
_WHOLE_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class InputDef:
    """One input of an app. ``type`` uses the platform's own vocabulary (e.g. Dify ``number``)."""

    name: str
    type: str = "text"
    required: bool = True
    label: str | None = None
    default: Any = None
    max_length: int | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputDef:
    """One output of an app. ``value`` is a template: ``"{query}"`` copies that input as is, other strings
    are formatted with the inputs, anything else is returned unchanged."""

    name: str
    value: Any = None
    type: str = "text"
    label: str | None = None


@dataclass(frozen=True)
class AppDef:
    """An app/flow/workflow in an emulator's catalog.

    ``duration_input`` names an input whose number gives the run's duration instead of ``run_seconds``;
    a negative number makes the run fail at once with ``error`` (like a node that crashes).
    ``options`` holds platform-specific knobs, documented in each platform module.
    """

    id: str
    name: str
    description: str = ""
    inputs: tuple[InputDef, ...] = ()
    outputs: tuple[OutputDef, ...] = ()
    run_seconds: float = 0.2
    duration_input: str | None = None
    outcome: str = "succeeded"
    error: str = "Emulated failure."
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: AppDef | None = None) -> AppDef:
        """Build an app from JSON; with ``base``, the given fields update that app (options are merged)."""
        changes = dict(data)
        if "inputs" in changes:
            changes["inputs"] = tuple(InputDef(**_tupled(i)) for i in changes["inputs"])
        if "outputs" in changes:
            changes["outputs"] = tuple(OutputDef(**o) for o in changes["outputs"])
        if base is None:
            return cls(**changes)
        changes["options"] = {**base.options, **changes.get("options", {})}
        return dataclasses.replace(base, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_defaults(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The declared inputs, each given value or else its default (``None`` without one)."""
        return {i.name: inputs[i.name] if i.name in inputs else i.default for i in self.inputs}

    def render_outputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {o.name: render(o.value, inputs) for o in self.outputs}

    def planned_duration(self, inputs: Mapping[str, Any]) -> float:
        """Seconds the run lasts; negative when ``duration_input`` asks for a failure."""
        if self.duration_input is None:
            return self.run_seconds
        try:
            return float(inputs.get(self.duration_input))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return self.run_seconds


def _tupled(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "options": tuple(data.get("options", ()))}


class _Blanks(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: Any, inputs: Mapping[str, Any]) -> Any:
    """Render one output template against the inputs (deterministic, never raises for a missing input)."""
    if not isinstance(template, str):
        return template
    whole = _WHOLE_PLACEHOLDER.fullmatch(template)
    if whole:
        return inputs.get(whole.group(1))
    return template.format_map(_Blanks(inputs))


class Phase(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"


@dataclass
class Run:
    """One run, planned at creation. ``extra`` carries platform data (task ids, numeric ids...)."""

    id: str
    app: AppDef
    inputs: dict[str, Any]
    outcome: str
    outputs: dict[str, Any]
    error: str | None
    created_at: float
    queued_seconds: float
    run_seconds: float
    user: str | None = None
    stop_requested: bool = False
    stopped_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _stop_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def started_at(self) -> float:
        return self.created_at + self.queued_seconds

    @property
    def ends_at(self) -> float:
        return self.started_at + self.run_seconds

    @property
    def finished_at(self) -> float:
        return self.ends_at if self.stopped_at is None else self.stopped_at

    def phase(self, now: float | None = None) -> Phase:
        now = time.time() if now is None else now
        if self.stopped_at is not None and now >= self.stopped_at:
            return Phase.STOPPED
        if now < self.started_at:
            return Phase.QUEUED
        return Phase.RUNNING if now < self.ends_at else Phase.FINISHED

    def is_active(self, now: float | None = None) -> bool:
        return self.phase(now) in (Phase.QUEUED, Phase.RUNNING)

    def elapsed(self, now: float | None = None) -> float:
        """Seconds spent running so far (0 while queued)."""
        now = time.time() if now is None else now
        return max(0.0, min(now, self.finished_at) - self.started_at)

    def stop(self, now: float | None = None) -> None:
        """Record a stop request; it ends the run only if the run is still active."""
        now = time.time() if now is None else now
        self.stop_requested = True
        if self.is_active(now):
            self.stopped_at = now
            self._stop_event.set()

    async def sleep_until(self, moment: float) -> bool:
        """Sleep until wall-clock ``moment`` or until the run is stopped; True when it was stopped."""
        try:
            await asyncio.wait_for(self._stop_event.wait(), max(0.0, moment - time.time()))
        except asyncio.TimeoutError:
            pass
        return self._stop_event.is_set()


def plan_run(
    run_id: str,
    app: AppDef,
    given: Mapping[str, Any],
    *,
    queued_seconds: float,
    multiplier: float,
    user: str | None = None,
) -> Run:
    """Create a run of ``app``: fill defaults, fix the duration, outcome and outputs."""
    inputs = app.with_defaults(given)
    duration = app.planned_duration(inputs)
    outcome = FAILED if duration < 0 else app.outcome
    return Run(
        id=run_id,
        app=app,
        inputs=inputs,
        outcome=outcome,
        outputs=app.render_outputs(inputs),
        error=app.error if outcome == FAILED else None,
        created_at=time.time(),
        queued_seconds=queued_seconds,
        run_seconds=max(0.0, duration) * multiplier,
        user=user,
    )


def utc_iso(timestamp: float, timespec: str = "microseconds", suffix: str = "") -> str:
    """A unix timestamp as an ISO-8601 UTC string without offset, plus ``suffix`` (``"Z"``, ``"+00:00"``)."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec=timespec) + suffix
