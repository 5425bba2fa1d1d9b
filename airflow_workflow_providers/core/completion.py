"""What the operator and the sensor share: how a finished run becomes the task's result or error."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow_workflow_providers.core.model import Run, RunRef
from airflow_workflow_providers.core.trigger import WorkflowRunTrigger
from airflow_workflow_providers.core.watch import judge_terminal, raise_for_event, validate_event

#: extra time the deferral allows beyond the trigger's own deadline, so the trigger's clean
#: ``timeout`` event (which stops the remote run) wins over Airflow's blunt deferral timeout
DEFER_MARGIN = 60.0

if TYPE_CHECKING:
    import logging

    from airflow_workflow_providers.core.hook import WorkflowHook


class RunCompletionMixin:
    """Turns a trigger event or a terminal run into the XCom result, or raises the matching error."""

    hook_class: ClassVar[type[WorkflowHook]]
    conn_id: str
    log: logging.Logger

    @property
    def api_options(self) -> dict[str, Any]:
        """Options of the platform's API description, shared by this task's hook and its trigger."""
        return {}

    @cached_property
    def hook(self) -> WorkflowHook:
        return self.hook_class(conn_id=self.conn_id, api_options=self.api_options)

    def defer_until_done(self, ref: RunRef, *, poll_interval: float, wait: float, cancel_on_kill: bool) -> NoReturn:
        """Hand the wait for ``ref`` to the triggerer for at most ``wait`` seconds, freeing the worker slot."""
        self.defer(  # type: ignore[attr-defined]
            trigger=WorkflowRunTrigger(
                platform=self.hook.api.key,
                conn_id=self.conn_id,
                run=ref.to_json(),
                poll_interval=poll_interval,
                end_time=time.time() + wait,
                cancel_on_kill=cancel_on_kill,
                api_options=self.api_options,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=wait + poll_interval + DEFER_MARGIN),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: check the event, then read the finished run once."""
        event = validate_event(event)
        ref = RunRef.from_json(event["run"])
        if event["status"] == "timeout":
            self.on_wait_timeout(context, ref)
        raise_for_event(event)
        return self.result_of(self.hook.get_run(ref))

    def finish(self, run: Run) -> dict[str, Any]:
        """The result of a run that has ended; raise ``RunFailed`` for a failed or cancelled one."""
        raise_for_event(judge_terminal(self.hook.api.name, RunRef(run.run_id), run).to_event())
        return self.result_of(run)

    def result_of(self, run: Run) -> dict[str, Any]:
        if run.warning:
            self.log.warning(
                "%s run %s succeeded with a warning: %s (status=%r)", self.hook.api.name, run.run_id, run.warning, run.raw_status
            )
        self.log.info("%s run %s finished: %s.", self.hook.api.name, run.run_id, run.state.value)
        return self.completed(run)

    def completed(self, run: Run) -> dict[str, Any]:
        """The XCom result of a successful run; platforms extend it (log steps, keep media outputs)."""
        return run.to_result()

    def on_wait_timeout(self, context: Any, ref: RunRef) -> None:
        """Called when the wait ran out of time, before the task fails."""
