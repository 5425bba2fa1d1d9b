"""Relay's operator: the engine's run operator, told how to build a start from its arguments."""

from __future__ import annotations

from typing import Any

from airflow_workflow_providers.core.errors import InputValidationError
from airflow_workflow_providers.core.operator import WorkflowRunOperator
from tests.relay.hooks import RelayHook


class RelayRunJobOperator(WorkflowRunOperator):
    """Run a Relay job on ``inputs`` and return ``{"run_id", "status", "outputs", "credits", ...}``."""

    hook_class = RelayHook

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {"inputs": self.inputs}

    def check_inputs(self, spec: dict[str, Any]) -> None:
        if not spec["inputs"].get("text"):
            raise InputValidationError("Relay inputs rejected before starting: 'text' is required")
