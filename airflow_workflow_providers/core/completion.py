"""What the operator and the sensor share: how a finished run becomes the task's result or error."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.boundary import fails_fast, is_fail_fast
from airflow_workflow_providers.core.model import Run, RunRef
from airflow_workflow_providers.core.trigger import WorkflowRunTrigger
from airflow_workflow_providers.core.watch import judge_terminal, raise_for_event, validate_event

#: extra time the deferral allows beyond the trigger's own deadline, so the trigger's clean
#: ``timeout`` event (which stops the remote run) wins over Airflow's blunt deferral timeout
DEFER_MARGIN = 60.0

if TYPE_CHECKING:
    from airflow_workflow_providers.core.hook import WorkflowHook


class RunCompletionMixin:
    """Turns a trigger event or a terminal run into the XCom result, or raises the matching error."""

    hook_class: ClassVar[type[WorkflowHook]]
    conn_id: str
    #: the operator's or sensor's task logger
    log: Any
    #: the remote run this task drove and, once it ended, the task's result (what lineage reports)
    _run_ref: RunRef | None = None
    _result: dict[str, Any] | None = None

    if TYPE_CHECKING:  # BaseOperator's, which every class using this mixin derives from

        def defer(
            self,
            *,
            trigger: Any,
            method_name: str,
            kwargs: dict[str, Any] | None = None,
            timeout: timedelta | float | None = None,
        ) -> NoReturn: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every entry point Airflow calls, in every subclass that defines one, maps the provider's
        # unfixable errors to AirflowFailException (core.boundary): no retry, no second paid run.
        # Wrapping what the class resolves, not only what it defines, covers mixins placed before this one.
        super().__init_subclass__(**kwargs)
        for name in ("execute", "execute_complete", "poke"):
            method = getattr(cls, name, None)
            if method is not None and not is_fail_fast(method):
                setattr(cls, name, fails_fast(method))

    @property
    def api_options(self) -> dict[str, Any]:
        """Options of the platform's API description, shared by this task's hook and its trigger."""
        return {}

    @property
    def trigger_options(self) -> dict[str, Any]:
        """Further keyword arguments of this task's trigger, e.g. ``pause_event``."""
        return {}

    @cached_property
    def hook(self) -> WorkflowHook:
        return self.hook_class(conn_id=self.conn_id, api_options=self.api_options)

    def defer_until_done(
        self, ref: RunRef, *, poll_interval: float, wait: float, cancel_on_kill: bool
    ) -> NoReturn:
        """Hand the wait for ``ref`` to the triggerer for at most ``wait`` seconds, freeing the worker slot."""
        self.log.info(
            story.waiting(
                self.hook.api.name,
                ref.run_id,
                deferrable=True,
                poll_interval=poll_interval,
                end_time=time.time() + wait,
            )
        )
        self.defer(
            trigger=WorkflowRunTrigger(
                platform_key=self.hook.api.key,
                conn_id=self.conn_id,
                run=ref.to_json(),
                poll_interval=poll_interval,
                end_time=time.time() + wait,
                cancel_on_kill=cancel_on_kill,
                api_options=self.api_options,
                **self.trigger_options,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=wait + poll_interval + DEFER_MARGIN),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: check the event, then read the finished run once."""
        event = validate_event(event)
        ref = self._run_ref = RunRef.from_json(event["run"])  # the "Remote run" link is built from it
        if event["status"] == "timeout":
            self.on_wait_timeout(context, ref)
        self._raise_for_event(event)
        return self.result_of(self.hook.get_run(ref))

    def finish(self, run: Run) -> dict[str, Any]:
        """The result of a run that has ended; raise ``RunFailed`` for a failed or cancelled one."""
        self._raise_for_event(judge_terminal(self.hook.api.name, RunRef(run.run_id), run).to_event())
        return self.result_of(run)

    def _raise_for_event(self, event: dict[str, Any]) -> None:
        if event["status"] in ("failed", "cancelled", "error"):
            self.log.error(story.ended_badly(event["message"]))  # the reason first, above the traceback
        raise_for_event(event)

    def result_of(self, run: Run) -> dict[str, Any]:
        if run.warning:
            self.log.warning(
                "%s run %s succeeded with a warning: %s (status=%r)",
                self.hook.api.name,
                run.run_id,
                run.warning,
                run.raw_status,
            )
        self._result = self.completed(run)
        self.log.info(story.finished(self.hook.api.name, self._result))
        return self._result

    def completed(self, run: Run) -> dict[str, Any]:
        """The XCom result of a successful run; platforms extend it (log steps, keep media outputs)."""
        return run.to_result()

    def on_wait_timeout(self, context: Any, ref: RunRef) -> None:
        """Called when the wait ran out of time, before the task fails."""

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage's view of the task (called only when its provider is installed): the remote run
        and the files the task stored."""
        from airflow_workflow_providers.core.lineage import run_lineage

        ref = self._run_ref or (RunRef(str(self._result["run_id"])) if self._result else None)
        return run_lineage(self.hook, ref, self._result)
