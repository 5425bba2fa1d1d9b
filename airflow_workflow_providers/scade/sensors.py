"""Sensor that waits for a Scade flow run started elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_workflow_providers.core.sensor import WorkflowRunSensor
from airflow_workflow_providers.scade.api import status_map_option
from airflow_workflow_providers.scade.hooks import ScadeHook


class ScadeFlowRunSensor(WorkflowRunSensor):
    """Wait for an existing Scade flow run (``run_id`` = the task id, templated); same outcome rules as
    the operator, including ``status_map``. The sensor never stops the run."""

    hook_class = ScadeHook

    def __init__(self, *, status_map: Mapping[Any, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status_map = status_map_option(status_map)

    @property
    def api_options(self) -> dict[str, Any]:
        return {"status_map": self.status_map} if self.status_map else {}
