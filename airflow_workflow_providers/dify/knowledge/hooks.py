"""Hook for Dify knowledge bases (the dataset Service API)."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.core.errors import PermanentAPIError
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.core.model import Run
from airflow_workflow_providers.dify.knowledge.api import (
    NAME,
    Accepted,
    DifyKnowledgeAPI,
    ExistingDocument,
    batch_ref,
    is_missing_plugin_daemon,
)


class DifyKnowledgeHook(WorkflowHook):
    """Dify's knowledge-base (dataset) Service API for one workspace.

    Connection (type ``dify_knowledge``): host = base URL (default ``https://api.dify.ai/v1``), password =
    a workspace dataset API key (``dataset-…``, created under Knowledge → Service API). It is not an app
    key: Dify refuses each kind of key on the other's endpoints.

    An indexing batch is this platform's "run": ``get_run(batch_ref(dataset_id, batch))`` reads its
    documents' indexing states, ``wait_for_run`` and the shared trigger wait on it.
    """

    api_class = DifyKnowledgeAPI
    api: DifyKnowledgeAPI

    def list_documents(self, dataset_id: str) -> list[ExistingDocument]:
        """Every document of the dataset, page by page (an unknown dataset is a 404)."""
        documents: list[ExistingDocument] = []
        page = 1
        while True:
            found, more = self.transport.call(self.api.documents(dataset_id, page=page))
            documents += found
            if not more:
                return documents
            page += 1

    def create_document(
        self,
        dataset_id: str,
        *,
        name: str,
        text: str | None = None,
        path: Any = None,
        settings: dict[str, Any],
    ) -> Accepted:
        """Create a document from ``text`` (create-by-text) or from the file at ``path`` (create-by-file)."""
        return self._send(dataset_id, None, name=name, text=text, path=path, settings=settings)

    def update_document(
        self,
        dataset_id: str,
        document_id: str,
        *,
        name: str,
        text: str | None = None,
        path: Any = None,
        settings: dict[str, Any],
    ) -> Accepted:
        """Replace a document's content in place (update-by-text or update-by-file); it is indexed anew."""
        return self._send(dataset_id, document_id, name=name, text=text, path=path, settings=settings)

    def _send(
        self,
        dataset_id: str,
        document_id: str | None,
        *,
        name: str,
        text: str | None,
        path: Any,
        settings: dict[str, Any],
    ) -> Accepted:
        file = None if path is None else _read(path)
        call = self.api.send_document(
            dataset_id, document_id, name=name, settings=settings, text=None if file else str(text), file=file
        )
        return self.transport.call(call)

    def get_batch(self, dataset_id: str, batch: str, document_ids: Sequence[str] = ()) -> Run:
        """The indexing state of a batch (of ``document_ids`` in it, if given) as a run."""
        return self.get_run(batch_ref(dataset_id, batch, document_ids))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key. A server without its plugin daemon cannot list datasets (400), but answering
        that instead of 401 proves the key is accepted."""
        try:
            description = self.transport.call(self.api.probe())
        except PermanentAPIError as exc:
            if exc.status_code == 400 and is_missing_plugin_daemon(exc.code, str(exc)):
                return (
                    True,
                    f"Connected to {NAME}: the key is accepted (this server cannot list datasets without its plugin daemon; documents work).",
                )
            return False, str(exc)
        except Exception as exc:  # the UI shows the message; any failure means "not connected"
            return False, str(exc)
        return True, f"Connected to {NAME}: {description}."


def _read(path: Any) -> tuple[bytes, str]:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    with path.open("rb") as source:
        return source.read(), content_type
