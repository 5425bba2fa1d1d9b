"""The operator every platform's run operator derives from: validate, start, wait, return the result."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, conf

from airflow_workflow_providers.core.completion import RunCompletionMixin
from airflow_workflow_providers.core.errors import RunTimedOut
from airflow_workflow_providers.core.links import RUN_URL_KEY, RemoteRunLink
from airflow_workflow_providers.core.model import RunRef

class WorkflowRunOperator(RunCompletionMixin, BaseOperator):
    """Start a remote run and (by default) wait for it; returns ``{"run_id", "status", "outputs", ...}``.

    Subclasses say how to build the start from their arguments (:meth:`start_spec`) and may check
    inputs before anything is submitted (:meth:`check_inputs`).

    :param inputs: the workflow's inputs (templated).
    :param conn_id: the Airflow connection (host = base URL, password = API key).
    :param wait_for_completion: wait for the run to end; ``False`` returns right after the start.
    :param deferrable: wait on the triggerer, freeing the worker slot
        (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds the run may take; when it passes the remote run is stopped (where the
        platform allows) and the task fails.
    :param cancel_on_kill: stop the remote run when the task is killed or marked failed/success.

    .. warning::
        Runs cost credits. A task retry re-attaches to the run a previous try started when Airflow's
        ``task_state_store`` is available (Airflow >= 3.3) instead of starting and paying for another.
    """

    template_fields: Sequence[str] = ("inputs",)
    operator_extra_links = (RemoteRunLink(),)
    ui_color = "#e8f0fe"
    #: the task_state_store key holding the started run's reference
    state_key = "remote_run"

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

    # -- what a platform fills in -----------------------------------------------------------------
    def start_spec(self, context: Any) -> dict[str, Any]:
        """Keyword arguments for the platform's ``start`` call, from the rendered operator fields."""
        raise NotImplementedError

    def check_inputs(self, spec: dict[str, Any]) -> None:
        """Reject bad inputs before anything is submitted (raise ``InputValidationError``)."""

    # -- execution ----------------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        ref = self._resumable_run(context) or self._start(context)
        self._run_ref = ref
        context["ti"].xcom_push(key="run_id", value=ref.run_id)
        if url := self.hook.run_url(ref):
            context["ti"].xcom_push(key=RUN_URL_KEY, value=url)
        if not self.wait_for_completion:
            return self.hook.get_run(ref).to_result()
        if self.deferrable:
            self.defer_until_done(
                ref, poll_interval=self.poll_interval, wait=self.timeout, cancel_on_kill=self.cancel_on_kill
            )
        try:
            run = self.hook.wait_for_run(ref, end_time=time.time() + self.timeout, poll_interval=self.poll_interval)
        except RunTimedOut:
            self.on_wait_timeout(context, ref)
            raise
        return self.finish(run)

    def _start(self, context: Any) -> RunRef:
        spec = self.start_spec(context)
        self.check_inputs(spec)
        ref = self.hook.start_run(**spec)
        self.log.info("Started %s run %s.", self.hook.api.name, ref.run_id)
        store = context.get("task_state_store")
        if store is not None:
            store.set(self.state_key, ref.to_json())
        return ref

    def _resumable_run(self, context: Any) -> RunRef | None:
        """The run an earlier try of this task started, if it can still be waited on."""
        store = context.get("task_state_store")
        stored = store.get(self.state_key) if store is not None else None
        if not stored:
            return None
        ref = RunRef.from_json(stored)
        run = self.hook.get_run(ref)
        if run.state.is_terminal and not run.state.is_successful:
            self.log.info(
                "The %s run %s of an earlier try ended %s; starting a new run.", self.hook.api.name, ref.run_id, run.state.value
            )
            return None
        self.log.info(
            "Re-attaching to %s run %s started by an earlier try (%s); not starting another.",
            self.hook.api.name, ref.run_id, run.state.value,
        )
        return ref

    def on_wait_timeout(self, context: Any, ref: RunRef) -> None:
        # what happens to the run next (stopped, or why it cannot be) is logged by the hook's cancel
        self.log.error("%s run %s did not finish within %.0f s.", self.hook.api.name, ref.run_id, self.timeout)
        self._stop(context, ref)

    def on_kill(self) -> None:
        if self._run_ref is not None and self.cancel_on_kill:
            self._stop(None, self._run_ref)

    def _stop(self, context: Any, ref: RunRef) -> None:
        """Best effort: a failed stop is logged, never raised over the task's own error."""
        try:
            self.hook.cancel_run(ref)
        except Exception as exc:
            self.log.warning("Could not stop %s run %s: %s", self.hook.api.name, ref.run_id, exc)
        store = context.get("task_state_store") if context else None
        if store is not None:
            # A stopped run must not be re-attached to by the next try (a stopped Dify run polls as running).
            store.delete(self.state_key)
