"""Sensor that waits for a Flowy app run started elsewhere."""

from __future__ import annotations

from airflow_workflow_providers.core.sensor import WorkflowRunSensor
from airflow_workflow_providers.flowy.hooks import FlowyHook


class FlowyAppRunSensor(WorkflowRunSensor):
    """Wait for an existing Flowy app run (``run_id`` templated); same outcome rules as the operator.

    Succeeds with ``{"run_id", "status", "raw_status", "outputs", "error", "app_id", "app_title",
    "created_at", "updated_at"}`` when the run completes, fails when it fails. Output URLs are returned
    as they are (signed, expiring): copy them soon, or use :class:`FlowyRunAppOperator`'s ``output_dir``.
    """

    hook_class = FlowyHook
