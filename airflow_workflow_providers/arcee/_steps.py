"""What the Arcee operator and sensor share: showing the per-node steps of a run once it has ended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_workflow_providers.arcee.api import NAME, describe_step, run_ref, step_summary
from airflow_workflow_providers.core.errors import PlatformAPIError, ResponseFormatError
from airflow_workflow_providers.core.model import Run, RunRef
from airflow_workflow_providers.core.watch import validate_event

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
        except (PlatformAPIError, ResponseFormatError) as exc:
            self.log.warning("Could not read the steps of %s run %s: %s", NAME, ref.run_id, exc)
            return None
        self.log.info("%s run %s steps (%d):", NAME, ref.run_id, len(steps))
        for step in steps:
            self.log.info("  step %s", describe_step(step))
        return steps

    def completed(self, run: Run) -> dict[str, Any]:
        result = super().completed(run)  # type: ignore[misc]
        result["steps"] = self.log_steps(run_ref(self.workflow_id, run.run_id))
        return result

    def finish(self, run: Run) -> dict[str, Any]:
        if run.state.is_terminal and not run.state.is_successful:
            self.log_steps(run_ref(self.workflow_id, run.run_id))
        return super().finish(run)  # type: ignore[misc]

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        event = validate_event(event)
        if event["status"] in ("failed", "cancelled"):
            self.log_steps(RunRef.from_json(event["run"]))
        return super().execute_complete(context, event)  # type: ignore[misc]

    def on_wait_timeout(self, context: Any, ref: RunRef) -> None:
        self.log_steps(ref)  # shows which node the run is stuck in
        super().on_wait_timeout(context, ref)  # type: ignore[misc]
