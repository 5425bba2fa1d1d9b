"""Hook for Arcee Orchestra workflows."""

from __future__ import annotations

from typing import Any

from airflow_workflow_providers.arcee.api import ArceeOrchestraAPI, run_ref
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.core.model import Run, RunRef


class ArceeOrchestraHook(WorkflowHook):
    """Arcee Orchestra's workflow API.

    Connection (type ``arcee_orchestra``): host = base URL (default
    ``https://orchestra.arcee.ai/api/v1/workflow``), password = the API key, sent as
    ``Authorization: Bearer <key>``. One key reaches every workflow of its account.

    Besides the run operations of every hook (``start_run(workflow_id=..., inputs=...)``, ``get_run``,
    ``wait_for_run`` and their async forms) it lists workflows, a run's per-node steps, a workflow's run
    history and its diagram. A run reference carries the workflow id (``RunRef(run_id, {"workflow_id":
    ...})``, see :meth:`run_ref`): runs are polled under their workflow. ``cancel_run`` returns
    ``False``: Arcee Orchestra has no endpoint to stop a run.
    """

    api_class = ArceeOrchestraAPI
    api: ArceeOrchestraAPI

    @staticmethod
    def run_ref(workflow_id: str, run_id: str) -> RunRef:
        """The reference ``get_run``/``wait_for_run``/``get_run_steps`` take for a run of a workflow."""
        return run_ref(workflow_id, run_id)

    def get_workflow_run(self, workflow_id: str, run_id: str) -> Run:
        """``get_run`` by workflow and run id."""
        return self.get_run(run_ref(workflow_id, run_id))

    def list_workflows(self) -> list[dict[str, Any]]:
        """``GET /workflows``: the workflows the key can see (``workflow_id``, ``name``, ``status``, ``graph``...)."""
        return self.transport.call(self.api.workflows())

    def get_run_steps(self, ref: RunRef) -> list[dict[str, Any]]:
        """The run's per-node steps (``node_id``, ``status``, ``elapsed_time``, ``error``, ``outputs``...)."""
        return self.transport.call(self.api.steps(ref))

    def list_runs(self, workflow_id: str, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """A workflow's run history, most recent first (run objects as the API gives them)."""
        return self.transport.call(self.api.runs(workflow_id, limit=limit, offset=offset))

    def get_diagram(self, workflow_id: str) -> str:
        """The workflow's graph as Mermaid text."""
        return self.transport.call(self.api.diagram(workflow_id))
