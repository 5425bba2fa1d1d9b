"""Keep a Dify knowledge base in sync with what a pipeline produces: rows as text, files from a folder.

Connection ``dify_knowledge_default`` (type ``dify_knowledge``): host = the Dify API base URL
(``https://api.dify.ai/v1``, self-hosted ``http://<host>/v1``), password = a workspace **dataset** API
key (``dataset-…``, from Knowledge → Service API; an app key is refused). ``make demo`` points it at the
bundled emulator, whose default knowledge base is the ``dataset_id`` param below; for your own, pass
``{"dataset_id": "<your knowledge base id>"}`` when triggering.

Documents are matched by name: a second run updates them in place instead of duplicating them.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyKnowledgeIngestOperator

with DAG(
    "example_dify_knowledge",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={"dataset_id": "9a92bc83-b1fc-59f0-94c3-a59f45563177"},
    tags=["example", "dify"],
) as dag:

    @task
    def export_faq() -> list[dict]:
        """Rows of a table, one document each (``name`` matches them on the next run)."""
        rows = [
            ("pools", "A pool limits how many tasks run at once."),
            ("retries", "A failed task is retried."),
        ]
        return [{"name": f"faq-{key}.txt", "text": answer} for key, answer in rows]

    @task
    def write_guides() -> str:
        """Files a previous step rendered; any folder, glob or object-storage URI works as ``source``."""
        import pathlib
        import tempfile

        folder = pathlib.Path(tempfile.mkdtemp(prefix="kb-guides-"))
        (folder / "deferrable.md").write_text(
            "# Deferrable operators\n\nThey free the worker slot while waiting.\n"
        )
        (folder / "sensors.txt").write_text("Sensors wait for a condition, e.g. a Dify indexing batch.\n")
        return str(folder)

    ingest = DifyKnowledgeIngestOperator(
        task_id="ingest",
        dataset_id="{{ params.dataset_id }}",
        documents=export_faq(),
        source=write_guides(),
        on_existing="update",
        deferrable=True,
        poll_interval=2,
        timeout=1800,
    )

    @task
    def report(result: dict) -> str:
        """A downstream step that uses the ingestion's result."""
        summary = f"{result['created']} created, {result['updated']} updated, {result['failed']} failed"
        for document in result["documents"]:
            print(f"{document['name']}: {document['action']} -> {document['indexing_status']}")
        return summary

    report(ingest.output)
