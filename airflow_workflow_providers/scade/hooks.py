"""Hook for Scade flows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_workflow_providers.core.errors import PermanentAPIError
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.scade.api import ScadeAPI, status_map_option


class ScadeHook(WorkflowHook):
    """Scade's flow API.

    Connection (type ``scade``): host = base URL (default ``https://api.scade.pro/api/v1``), password =
    the server key from Scade's settings, sent verbatim as ``Authorization: Basic <key>`` (it already is
    the encoded credential). One key reaches every flow of the account.

    Besides the run operations of every hook (``start_run(flow_id=..., start_node_id=...,
    end_node_id=..., result_node_id=..., inputs=..., node_settings=...)``, ``get_run``, ``wait_for_run``
    and their async forms) it reads raw task records (:meth:`get_task`). ``cancel_run`` always returns
    ``False``: Scade has no endpoint to stop a flow run.

    :param status_map: overrides of the task status table, e.g. ``{"6": "succeeded"}`` (merged into
        ``api_options``, so a trigger built from this hook's options gets it too).
    """

    api_class = ScadeAPI
    api: ScadeAPI

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        status_map: Mapping[Any, Any] | None = None,
        api_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        options = dict(api_options or {})
        if status_map:
            options["status_map"] = {**options.get("status_map", {}), **status_map_option(status_map)}
        super().__init__(conn_id, api_options=options, **kwargs)

    def get_task(self, task_id: str | int) -> dict[str, Any]:
        """The raw task record of ``GET /task/{task_id}`` (``data``, ``created``, ``finished``, ...)."""
        return self.transport.call(self.api.task(task_id))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key without running a flow: read task 0, which a working key sees as Scade's 404.

        Scade offers no free "who am I" call; reading a task costs nothing, and a bad key gets 401.
        """
        try:
            description = self.transport.call(self.api.probe())
        except PermanentAPIError as exc:
            if not self.api.probe_accepts(exc):
                return False, str(exc)
            description = "the key was accepted (task 0 does not exist, as expected; no flow was run)"
        except Exception as exc:  # the UI shows the message; any failure means "not connected"
            return False, str(exc)
        return True, f"Connected to Scade: {description}."
