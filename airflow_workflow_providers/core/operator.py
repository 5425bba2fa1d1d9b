"""The operator every platform's run operator derives from: validate, start, wait, return the result."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.compat import BaseOperator, conf, warn_missing
from airflow_workflow_providers.core.completion import RunCompletionMixin
from airflow_workflow_providers.core.errors import InputValidationError, PermanentAPIError, RunTimedOut
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.resume import Resume, StoredRun, resume
from airflow_workflow_providers.core.watch import validate_event


class WorkflowRunOperator(RunCompletionMixin, BaseOperator):
    """Start a remote run and (by default) wait for it; returns ``{"run_id", "status", "outputs", ...}``.

    Subclasses say how to build the start from their arguments (:meth:`start_spec`) and may check
    inputs before anything is submitted (:meth:`check_inputs`).

    :param inputs: the workflow's inputs (templated).
    :param conn_id: the Airflow connection (host = base URL, password = API key; templated, so one DAG
        can use per-environment connections).
    :param wait_for_completion: wait for the run to end; ``False`` returns right after the start.
    :param deferrable: wait on the triggerer, freeing the worker slot
        (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds the run may take; when it passes the remote run is stopped (where the
        platform allows) and the task fails.
    :param cancel_on_kill: stop the remote run when the task is killed or marked failed/success.

    .. warning::
        Runs cost credits. A task retry re-attaches to the run a previous try started when Airflow's
        ``task_state_store`` is available (Airflow >= 3.3) instead of starting and paying for another --
        unless that run failed, or the task stopped it (``timeout``, ``on_kill``, or its trigger's
        ``on_kill`` when a user cleared or marked the deferred task). A task that succeeded leaves
        nothing to re-attach to: clearing it runs the workflow again. A try that dies after its run
        succeeded but before it cleaned up re-attaches to that run; one that dies after cleaning up but
        before Airflow recorded the success starts (and pays for) one more run on retry.
    """

    template_fields: Sequence[str] = ("inputs", "conn_id")
    template_fields_renderers = {"inputs": "json"}
    ui_color = "#e8f0fe"
    #: the task_state_store key holding the started run's reference
    state_key = "remote_run"
    #: for the task log: what :meth:`check_inputs` checks against, and what a run runs (both are
    #: filled from the start spec and the run reference, see :func:`story.describe`)
    inputs_checked_against = "nothing: this platform publishes no input form"
    run_subject = ""

    def __init__(
        self,
        *,
        inputs: dict[str, Any] | None = None,
        conn_id: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float = 6 * 3600.0,
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if poll_interval <= 0 or timeout <= 0:
            raise ValueError(f"poll_interval and timeout must be positive, got {poll_interval} and {timeout}")
        self.inputs = inputs if inputs is not None else {}
        self.conn_id = conn_id or self.hook_class.default_conn_name
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.cancel_on_kill = cancel_on_kill
        self._run_ref: RunRef | None = None
        self._state: Any = None  # this try's task_state_store (None before Airflow 3.3)
        self._stored: StoredRun | None = None

    # -- what a platform fills in -----------------------------------------------------------------
    def start_spec(self, context: Any) -> dict[str, Any]:
        """Keyword arguments for the platform's ``start`` call, from the rendered operator fields."""
        raise NotImplementedError

    def check_inputs(self, spec: dict[str, Any]) -> None:
        """Reject bad inputs before anything is submitted (raise ``InputValidationError``)."""

    # -- execution ----------------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        self._state = context.get("task_state_store")
        ref = self._resumable_run() or self._start(context)
        self._run_ref = ref
        context["ti"].xcom_push(key="run_id", value=ref.run_id)
        if not self.wait_for_completion:
            result = self.hook.get_run(ref).to_result()
            self._forget()
            return result
        if self.deferrable:
            self._remember(ref, "trigger")
            if self.cancel_on_kill:
                warn_missing(self.log, "trigger_on_kill")
            self.defer_until_done(
                ref, poll_interval=self.poll_interval, wait=self.timeout, cancel_on_kill=self.cancel_on_kill
            )
        self.log.info(
            story.waiting(
                self.hook.api.name,
                ref.run_id,
                deferrable=False,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout,
            )
        )
        try:
            run = self.wait(context, ref, end_time=time.time() + self.timeout)
        except RunTimedOut:
            self.on_wait_timeout(context, ref)
            raise
        result = self.finish(run)
        self._forget()
        return result

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        self._state = context.get("task_state_store")
        event = validate_event(event)
        if event["status"] == "error":
            # the trigger gave up polling but did not stop the run: a retry may wait on it again
            self._remember(RunRef.from_json(event["run"]), "worker")
        result = super().execute_complete(context, event)
        self._forget()
        return result

    def wait(self, context: Any, ref: RunRef, *, end_time: float) -> Any:
        """Wait on the worker until the run ends (``RunTimedOut`` at ``end_time``); return the run."""
        return self.hook.wait_for_run(ref, end_time=end_time, poll_interval=self.poll_interval)

    def _start(self, context: Any) -> RunRef:
        spec = self.start_spec(context)
        try:
            self.check_inputs(spec)
        except InputValidationError as exc:
            self.log.error(story.inputs_rejected(str(exc)))  # the reason first, above the traceback
            raise
        name = self.hook.api.name
        self.log.info(story.inputs_checked(name, story.describe(self.inputs_checked_against, spec)))
        ref = self.hook.start_run(**spec)
        subject = story.describe(self.run_subject, {**spec, **ref.extras})
        self.log.info(story.run_started(name, ref.run_id, subject, self.run_link(ref)))
        self._remember(ref, "trigger" if self.deferrable and self.wait_for_completion else "worker")
        if self._state is None:
            warn_missing(self.log, "task_state_store")
        return ref

    def run_link(self, ref: RunRef) -> str | None:
        """The run's page for the task log and the "Remote run" extra link; ``None`` without a page."""
        return self.hook.run_url(ref)

    def _resumable_run(self) -> RunRef | None:
        """The run an earlier try of this task started, if this try may wait on it (see :func:`resume`)."""
        stored_value = self._state.get(self.state_key) if self._state is not None else None
        if not stored_value:
            return None
        name = self.hook.api.name
        try:
            stored = StoredRun.from_json(stored_value)
        except ValueError as exc:
            self.log.warning(
                "Ignoring the stored %s run of an earlier try (%s); starting a new run.", name, exc
            )
            return None
        ref = stored.ref
        try:
            run = self.hook.get_run(ref)
        except PermanentAPIError as exc:
            if exc.status_code != 404:
                raise
            self.log.warning(
                "The %s run %s of an earlier try no longer exists (%s); starting a new run.",
                name,
                ref.run_id,
                exc,
            )
            return None
        stoppable = self.cancel_on_kill and self.hook.api.cancel(ref) is not None
        decision = resume(stored, run, stoppable=stoppable)
        if decision is Resume.REATTACH:
            self.log.info(
                "Re-attaching to %s run %s started by an earlier try (%s); not starting another.",
                name,
                ref.run_id,
                run.state.value,
            )
            self._stored = stored
            return ref
        if decision is Resume.STOP_AND_RESTART:
            self.log.info(
                "The %s run %s of an earlier try was stopped by this task (or by its trigger, when the deferred "
                "task was cleared or marked); making sure it is stopped and starting a new run.",
                name,
                ref.run_id,
            )
            self._cancel(ref)
        else:
            self.log.info(
                "The %s run %s of an earlier try ended %s; starting a new run.",
                name,
                ref.run_id,
                run.state.value,
            )
        return None

    def on_wait_timeout(self, context: Any, ref: RunRef) -> None:
        # what happens to the run next (stopped, or why it cannot be) is logged by the hook's cancel
        self.log.error(
            "%s run %s did not finish within %.0f s.", self.hook.api.name, ref.run_id, self.timeout
        )
        self._stop(ref)

    def on_kill(self) -> None:
        if self._run_ref is not None and self.cancel_on_kill:
            self._stop(self._run_ref)

    def _stop(self, ref: RunRef) -> None:
        """Stop the run for good: no later try waits on it, and neither does this one's wait loop.

        The stop is recorded first, so that a kill in between still keeps the next try off the run. A
        try that can no longer record it -- Airflow moves a cleared try out of the way before killing
        it -- leaves the run going: the next try re-attaches to it rather than wait on a stopped run.
        """
        if self.hook.api.cancel(ref) is not None:
            try:
                self._remember(ref, "stopped")
            except Exception as exc:
                self.log.warning(
                    "Cannot record the stop of %s run %s for later tries (%s); leaving it running for the next try "
                    "to re-attach to.",
                    self.hook.api.name,
                    ref.run_id,
                    exc,
                )
                return
        self._cancel(ref)

    def _cancel(self, ref: RunRef) -> None:
        """Best effort: a failed stop is logged, never raised over the task's own error."""
        try:
            self.hook.cancel_run(ref)
        except Exception as exc:
            self.log.warning("Could not stop %s run %s: %s", self.hook.api.name, ref.run_id, exc)

    # -- task_state_store -----------------------------------------------------------------------------
    def _remember(self, ref: RunRef, waiter: str) -> None:
        stored = StoredRun(ref, waiter)
        if self._state is not None and stored != self._stored:
            self._state.set(self.state_key, stored.to_json())
            self._stored = stored

    def _forget(self) -> None:
        """The task has its result: nothing is left for a later try (e.g. after a clear) to re-attach to."""
        if self._state is not None:
            self._state.delete(self.state_key)
            self._stored = None
