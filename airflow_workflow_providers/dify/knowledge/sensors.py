"""Sensor that waits for a Dify knowledge-base indexing batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.core.model import Run, RunRef
from airflow_workflow_providers.core.sensor import WorkflowRunSensor
from airflow_workflow_providers.dify.knowledge.api import batch_ref
from airflow_workflow_providers.dify.knowledge.hooks import DifyKnowledgeHook


class DifyKnowledgeIndexingSensor(WorkflowRunSensor):
    """Wait until the documents of an indexing ``batch`` (templated, e.g. from the ingest operator's
    result) are ``completed``, ``error`` or ``paused``.

    Succeeds with ``{"dataset_id", "batch", "run_id", "status", "raw_status", "outputs": {"documents":
    [{"document_id", "indexing_status", "error", "completed_segments", "total_segments"}]}, "error",
    "completed_segments", "total_segments"}``; fails naming the documents that ended in ``error``. Paused
    documents are logged as a warning, not waited on. ``poke_interval``, ``timeout`` and ``deferrable``
    work as on every sensor; indexing is never stopped.

    :param dataset_id: the knowledge base's id (templated).
    :param batch: the batch id a create or update answered (templated).
    :param conn_id: a ``dify_knowledge`` connection (default ``dify_knowledge_default``).
    """

    template_fields: Sequence[str] = ("dataset_id", "batch", "run_id", "conn_id")
    hook_class = DifyKnowledgeHook

    def __init__(self, *, dataset_id: str, batch: str, **kwargs: Any) -> None:
        super().__init__(run_id=batch, **kwargs)
        self.dataset_id = dataset_id
        self.batch = batch

    def run_ref(self) -> RunRef:
        return batch_ref(self.dataset_id, self.batch)

    def completed(self, run: Run) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id, "batch": run.run_id, **run.to_result()}
