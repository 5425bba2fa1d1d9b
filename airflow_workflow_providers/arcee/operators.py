"""Operator that runs an Arcee Orchestra workflow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.arcee._steps import StepLogMixin
from airflow_workflow_providers.arcee.api import NAME, input_problems
from airflow_workflow_providers.arcee.hooks import ArceeOrchestraHook
from airflow_workflow_providers.core.batch.operator import BatchRunMixin
from airflow_workflow_providers.core.errors import InputValidationError
from airflow_workflow_providers.core.operator import WorkflowRunOperator


class ArceeOrchestraRunWorkflowOperator(StepLogMixin, WorkflowRunOperator):
    """Run an Arcee Orchestra workflow and return its outputs.

    Returns ``{"run_id", "status", "raw_status", "outputs", "error", "elapsed_time", "steps"}``:
    ``outputs`` is the end node's output (a string or an object), ``elapsed_time`` the run's seconds as
    Arcee reports them, ``steps`` one ``{"node", "status", "seconds", "error"}`` per node (``None`` if
    the steps could not be read). ``run_id`` is also pushed to XCom (key ``run_id``) as soon as the run
    starts. The steps are logged when the run ends, fails or times out.

    Before anything is submitted, ``inputs`` must be a flat map of named JSON values and
    ``workflow_id`` a non-empty string; the workflow's own input variables are not checked (the API
    does not document them), Arcee answers HTTP 400 for a missing one.

    :param workflow_id: the workflow to run (templated).
    :param inputs: the workflow's input variables (templated), sent as the execute body.

    See :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill``.

    .. warning::
        Arcee Orchestra has no endpoint to stop a run: on timeout, kill or a user marking the task,
        the task ends but the remote run goes on (and is billed) until it finishes.
    """

    hook_class = ArceeOrchestraHook
    inputs_checked_against = "their shape: named JSON values (Arcee does not publish a workflow's inputs)"
    run_subject = "workflow {workflow_id}"
    template_fields: Sequence[str] = (*WorkflowRunOperator.template_fields, "workflow_id")

    def __init__(self, *, workflow_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow_id = workflow_id

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "inputs": self.inputs}

    def check_inputs(self, spec: dict[str, Any]) -> None:
        problems = input_problems(spec["inputs"])
        workflow_id = spec["workflow_id"]
        if not isinstance(workflow_id, str) or not workflow_id.strip():
            problems.insert(0, f"workflow_id must be a non-empty string, got {workflow_id!r}")
        if problems:
            raise InputValidationError(
                f"{NAME} inputs rejected before starting (task {self.task_id!r}): " + "; ".join(problems)
            )


class ArceeOrchestraBatchRunWorkflowOperator(BatchRunMixin, ArceeOrchestraRunWorkflowOperator):
    """Run an Arcee Orchestra workflow over many items, each item its ``inputs`` (see
    :class:`~airflow_workflow_providers.core.batch.operator.BatchRunMixin`).

    Arcee cannot stop a run: on timeout or kill the runs in flight go on (recorded ``cancelled``). A start
    whose answer was lost is looked for in the workflow's run history (a run with the same inputs).
    """
