"""What a task remembers of its remote run across tries, and whether a later try may wait on it again.

Pure: no Airflow, no I/O. The operator keeps one :class:`StoredRun` in Airflow's ``task_state_store``
(Airflow >= 3.3) from the start until the task has its result; the next try of the same task instance
reads it back and asks :func:`resume` whether to re-attach or start a new run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from airflow_workflow_providers.core.model import Run, RunRef

#: who waits on the run: the task's own process, a trigger on the triggerer, or nobody since the task stopped it
WAITERS = frozenset({"worker", "trigger", "stopped"})


@dataclass(frozen=True, slots=True)
class StoredRun:
    """The stored reference of a started run and who waits on it (``worker``, ``trigger``, ``stopped``).

    ``trigger`` matters because a trigger's ``on_kill`` (a user cleared or marked the deferred task)
    stops the run without being able to say so in the store: a later try then finds ``trigger`` and
    knows that the run may have been stopped.
    """

    ref: RunRef
    waiter: str = "worker"

    def to_json(self) -> dict[str, Any]:
        return {"run": self.ref.to_json(), "waiter": self.waiter}

    @classmethod
    def from_json(cls, data: Any) -> StoredRun:
        """Read a stored value back; the bare reference earlier versions stored counts as ``worker``.

        Raises ``ValueError`` for a value that is neither.
        """
        if isinstance(data, Mapping) and "run" in data:
            if data.get("waiter") not in WAITERS:
                raise ValueError(f"stored run has an unknown waiter: {data!r:.200}")
            return cls(RunRef.from_json(data["run"]), data["waiter"])
        return cls(RunRef.from_json(data))


class Resume(str, Enum):
    """What a new try does with the run of an earlier try."""

    #: wait on it (or take its result): it may still succeed, or has
    REATTACH = "reattach"
    #: start a new run: this one ended without success
    RESTART = "restart"
    #: stop it (again, to be sure) and start a new run: the provider stopped it, or may have
    STOP_AND_RESTART = "stop_and_restart"


def resume(stored: StoredRun, run: Run, *, stoppable: bool) -> Resume:
    """Decide from the run as it is now and who waited on it.

    ``stoppable``: the task stops runs on kill (``cancel_on_kill``) and the platform can stop this one.
    A run that succeeded is always taken (no second payment). A terminal status the platform's state
    table does not know is not taken for a final failure: the run may still be going, so a second one
    is not started beside it (the wait reports the status again). A run the provider stopped, or whose
    trigger may have stopped it, is never waited on again -- a stopped Dify run polls as ``running``.
    """
    if run.state.is_successful:
        return Resume.REATTACH
    if run.state.is_terminal:
        return Resume.REATTACH if run.unknown_status else Resume.RESTART
    if stored.waiter == "stopped" or (stored.waiter == "trigger" and stoppable):
        return Resume.STOP_AND_RESTART
    return Resume.REATTACH
