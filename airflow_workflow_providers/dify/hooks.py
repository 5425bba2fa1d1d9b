"""Hook for Dify workflow apps (Service API)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from airflow_workflow_providers.core.errors import ConfigurationError, InputValidationError
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.progress import RunPaused
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.dify import chat_api, forms
from airflow_workflow_providers.dify.api import DifyAPI, input_problems
from airflow_workflow_providers.dify.knowledge.hooks import DifyKnowledgeHook as DifyKnowledgeHook


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

    def get_parameters(self) -> dict[str, Any]:
        """The app's ``GET /parameters``: its ``user_input_form`` and upload limits."""
        return self.transport.call(self.api.parameters())

    def get_app_info(self) -> dict[str, Any]:
        return self.transport.call(self.api.app_info())

    def upload_file(self, path: str | Path, *, user: str, content_type: str | None = None) -> dict[str, Any]:
        """Upload a local file; use the returned ``id`` as ``upload_file_id`` in a ``local_file`` input."""
        path = Path(path)
        kind = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self.transport.call(
            self.api.upload(name=path.name, content=path.read_bytes(), content_type=kind, user=user)
        )

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

    def check_app_mode(self, operator: str) -> str:
        """The app's mode (``GET /info``); raise :class:`ConfigurationError` naming the right operator
        when ``operator`` cannot run it."""
        info = self.get_app_info()
        problem = chat_api.mode_problem(info, operator)
        if problem:
            raise ConfigurationError(f"Connection {self.conn_id!r}: {problem}.")
        return str(info.get("mode"))

    def get_answer(self, ref: RunRef) -> str | None:
        """The answer of a chatflow run's message, from ``GET /messages``; None when it is not listed."""
        conversation_id, message_id = ref.extras.get("conversation_id"), ref.extras.get("message_id")
        if not (conversation_id and message_id):
            return None
        page = self.transport.call(chat_api.messages(conversation_id, ref.extras.get("user", "")))
        return chat_api.answer_of(page, message_id)

    def send_message(self, call: Call[dict[str, Any]], timeout: float) -> dict[str, Any]:
        """Send a streamed chat/completion message and read its answer to ``message_end`` (at most
        ``timeout`` seconds; the call's reader knows the task id to stop it meanwhile)."""
        return self.transport.start_streamed(call, timeout)  # type: ignore[arg-type]

    def paused_form(self, ref: RunRef) -> RunPaused:
        """The form a paused run waits on, from its event stream's snapshot (the poll does not name it)."""
        return self.transport.start_streamed(forms.paused_form(ref), self.start_wait)  # type: ignore[arg-type]

    def stop_message(self, mode: str, task_id: str, user: str) -> None:
        self.transport.call(chat_api.stop_message(mode, task_id, user))
        self.log.info("Asked Dify to stop message task %s.", task_id)
