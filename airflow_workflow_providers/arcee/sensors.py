"""Sensor that waits for an Arcee Orchestra workflow run started elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.arcee._steps import StepLogMixin
from airflow_workflow_providers.arcee.api import run_ref
from airflow_workflow_providers.arcee.hooks import ArceeOrchestraHook
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.sensor import WorkflowRunSensor


class ArceeOrchestraWorkflowRunSensor(StepLogMixin, WorkflowRunSensor):
    """Wait for an existing Arcee Orchestra run; same result and outcome rules as the operator.

    :param workflow_id: the workflow the run belongs to (templated): runs are polled under it.
    :param run_id: the run id (templated), e.g. ``"{{ ti.xcom_pull(task_ids='start', key='run_id') }}"``.

    See :class:`~airflow_workflow_providers.core.sensor.WorkflowRunSensor` for ``conn_id``,
    ``deferrable``, ``poke_interval`` and ``timeout``.
    """

    hook_class = ArceeOrchestraHook
    template_fields: Sequence[str] = ("workflow_id", *WorkflowRunSensor.template_fields)

    def __init__(self, *, workflow_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow_id = workflow_id

    def run_ref(self) -> RunRef:
        return run_ref(self.workflow_id, self.run_id)
