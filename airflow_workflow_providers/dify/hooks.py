"""Hook for Dify workflow apps (Service API)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from airflow_workflow_providers.core.errors import InputValidationError
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.dify.api import DifyAPI, input_problems


class DifyHook(WorkflowHook):
    """Dify Service API for one workflow app.

    Connection (type ``dify``): host = base URL (default ``https://api.dify.ai/v1``; self-hosted:
    ``http://<host>/v1``), password = the app's API key. Dify issues one key per app, so use one
    connection per app.

    Besides the run operations of every hook (``start_run``, ``get_run``, ``cancel_run`` and their
    async forms) it reads the app's parameters and info, uploads files and lists runs.
    """

    api_class = DifyAPI
    api: DifyAPI
    default_conn_name = "dify_default"
    conn_type = "dify"
    hook_name = "Dify"

    def get_parameters(self) -> dict[str, Any]:
        """The app's ``GET /parameters``: its ``user_input_form`` and upload limits."""
        return self.transport.call(self.api.parameters())

    def get_app_info(self) -> dict[str, Any]:
        return self.transport.call(self.api.app_info())

    def upload_file(self, path: str | Path, *, user: str, content_type: str | None = None) -> dict[str, Any]:
        """Upload a local file; use the returned ``id`` as ``upload_file_id`` in a ``local_file`` input."""
        path = Path(path)
        kind = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self.transport.call(self.api.upload(name=path.name, content=path.read_bytes(), content_type=kind, user=user))

    def list_runs(
        self, *, user: str | None = None, status: str | None = None, page: int = 1, limit: int = 20
    ) -> dict[str, Any]:
        """``GET /workflows/logs``: runs, newest first, optionally of one end user."""
        return self.transport.call(self.api.logs(user=user, status=status, page=page, limit=limit))

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """Raise :class:`InputValidationError` naming every input the app's form would reject."""
        problems = input_problems(self.get_parameters().get("user_input_form") or [], inputs)
        if problems:
            raise InputValidationError(
                f"Dify inputs rejected before starting (connection {self.conn_id!r}): " + "; ".join(problems)
            )
