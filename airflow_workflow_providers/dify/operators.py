"""Operator that runs a Dify workflow app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.core.operator import WorkflowRunOperator
from airflow_workflow_providers.dify.hooks import DifyHook


class DifyRunWorkflowOperator(WorkflowRunOperator):
    """Run a Dify workflow app and return its outputs.

    Returns ``{"run_id", "status", "raw_status", "outputs", "error", "total_tokens", "elapsed_time",
    "total_steps"}``; ``run_id`` is also pushed to XCom (key ``run_id``) as soon as the run starts.
    Inputs are checked against the app's input form before anything is submitted.

    :param inputs: the app's input variables (templated).
    :param user: Dify end-user id (templated). Defaults to an id stable across retries of the task
        instance: ``airflow:<dag>:<task>:<run>:<map index>``.
    :param files: Dify ``files`` list (templated), e.g.
        ``[{"type": "document", "transfer_method": "remote_url", "url": "..."}]``.
    :param workflow_id: pin a published workflow version (templated); default: the latest.

    See :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill``.
    """

    hook_class = DifyHook
    template_fields: Sequence[str] = ("inputs", "user", "files", "workflow_id")

    def __init__(
        self,
        *,
        user: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workflow_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.user = user
        self.files = files
        self.workflow_id = workflow_id

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "user": self.user or default_user(context),
            "files": self.files,
            "workflow_id": self.workflow_id,
        }

    def check_inputs(self, spec: dict[str, Any]) -> None:
        self.hook.check_inputs(spec["inputs"])


def default_user(context: Any) -> str:
    """An end-user id that names the task instance and stays the same across its tries."""
    ti = context["ti"]
    return f"airflow:{ti.dag_id}:{ti.task_id}:{ti.run_id}:{ti.map_index}"
