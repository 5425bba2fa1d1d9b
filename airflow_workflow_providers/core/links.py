"""The task's "Remote run" link: the run's page in the platform's own web app, where it has one.

Airflow 3 asks the worker for the link when the task ends (or defers) and stores it in XCom
(``_link_RemoteRunLink``), which the UI reads: the operator builds it from the run it is waiting on,
whether it started that run or re-attached to the run of an earlier try.
"""

from __future__ import annotations

from typing import Any

from airflow_workflow_providers.core.compat import BaseOperatorLink


class RemoteRunLink(BaseOperatorLink):
    """Attached only to the operators of platforms whose API describes a run page (today Dify)."""

    name = "Remote run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        ref = getattr(operator, "_run_ref", None)
        return (operator.run_link(ref) or "") if ref is not None else ""
