"""Sensor that waits for a Dify workflow run started elsewhere."""

from __future__ import annotations

from airflow_workflow_providers.core.sensor import WorkflowRunSensor
from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.knowledge.sensors import (
    DifyKnowledgeIndexingSensor as DifyKnowledgeIndexingSensor,
)


class DifyWorkflowRunSensor(WorkflowRunSensor):
    """Wait for an existing Dify workflow run (``run_id`` templated); same outcome rules as the operator."""

    hook_class = DifyHook
