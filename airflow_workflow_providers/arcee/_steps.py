"""What the Arcee operator and sensor share: showing the per-node steps of a run once it has ended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_workflow_providers.arcee.api import NAME, describe_step, elapsed_seconds, run_ref, step_summary
from airflow_workflow_providers.core.errors import RunFailed, WorkflowProviderError
from airflow_workflow_providers.core.model import Run, RunRef

if TYPE_CHECKING:
    import logging

    from airflow_workflow_providers.arcee.hooks import ArceeOrchestraHook


class StepLogMixin:
    """Logs a run's steps (node, status, seconds) when it ends, fails or times out; adds them to the result.

    Placed before the engine's operator/sensor class so that its hooks wrap the engine's. Reading the
    steps is best effort: a run's outcome never changes because its steps could not be read.
    """

    workflow_id: str
    hook: ArceeOrchestraHook
    log: logging.Logger

    def log_steps(self, ref: RunRef) -> list[dict[str, Any]] | None:
        """Read, log and return the step summaries of a run; ``None`` when they cannot be read."""
        try:
            steps = [step_summary(step) for step in self.hook.get_run_steps(ref)]
        except WorkflowProviderError as exc:
            self.log.warning("Could not read the steps of %s run %s: %s", NAME, ref.run_id, exc)
            return None
        self.log.info("%s run %s steps (%d):", NAME, ref.run_id, len(steps))
        for step in steps:
            self.log.info("  step %s", describe_step(step))
        return steps

    def completed(self, run: Run) -> dict[str, Any]:
        result = super().completed(run)  # type: ignore[misc]
        result["steps"] = self.log_steps(run_ref(self.workflow_id, run.run_id))
        result["elapsed_time"] = elapsed_seconds(result.get("elapsed_time"), result["steps"])
        return result

    def execute(self, context: Any) -> Any:
        with self._steps_on_failure():
            return super().execute(context)  # type: ignore[misc]

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        with self._steps_on_failure():
            return super().execute_complete(context, event)  # type: ignore[misc]

    @contextmanager
    def _steps_on_failure(self) -> Iterator[None]:
        # The engine raises RunFailed from inside its wait (blocking), its event check (deferred) or a
        # sensor poke, before any per-run hook is called; catching it here covers all three paths.
        try:
            yield
        except RunFailed as exc:
            self.log_steps(run_ref(self.workflow_id, exc.run_id))
            raise

    def on_wait_timeout(self, context: Any, ref: RunRef) -> None:
        self.log_steps(ref)  # shows which node the run is stuck in
        super().on_wait_timeout(context, ref)  # type: ignore[misc]
