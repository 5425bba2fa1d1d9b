"""Hook for Flowy apps."""

from __future__ import annotations

from typing import Any

from airflow_workflow_providers.core.errors import InputValidationError
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.flowy.api import FlowyAPI, input_problems


class FlowyHook(WorkflowHook):
    """Flowy's apps API for one workspace.

    Connection (type ``flowy``): host = base URL (default
    ``https://apis.tryflowy.ai/genstudio-svc-v2/api/v1``), password = a secret API key
    (``flw_sk_...``; browser keys ``flowy_pk_...`` are not for servers).

    Besides the run operations of every hook (``start_run(app_id=..., inputs=...)``, ``get_run``,
    ``wait_for_run`` and their async forms; ``cancel_run`` returns ``False``: Flowy cannot stop a run)
    it lists and reads apps and checks inputs; ``download`` (every hook's) keeps an output file.
    """

    api_class = FlowyAPI
    api: FlowyAPI

    def list_apps(self) -> list[dict[str, Any]]:
        """``GET /apps``: ``[{"id", "slug", "title", "description", "published", "runCount", ...}]``."""
        return self.transport.call(self.api.apps())

    def get_app(self, app_id: str) -> dict[str, Any]:
        """``GET /apps/{app_id}``: the app with its declared ``inputs`` and ``outputs``."""
        return self.transport.call(self.api.app(app_id))

    def check_inputs(self, app_id: str, inputs: Any) -> None:
        """Raise :class:`InputValidationError` naming every input the app would reject."""
        problems = input_problems(self.get_app(app_id), inputs)
        if problems:
            raise InputValidationError(
                f"Flowy inputs for app {app_id} rejected before starting (connection {self.conn_id!r}): "
                + "; ".join(problems)
            )
