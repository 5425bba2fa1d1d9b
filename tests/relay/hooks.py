"""Relay's hook: the engine's hook with Relay's API description."""

from __future__ import annotations

from airflow_workflow_providers.core.hook import WorkflowHook
from tests.relay.api import RelayAPI


class RelayHook(WorkflowHook):
    """Relay jobs through one connection (type ``relay``): host = base URL, password = the key."""

    api_class = RelayAPI
