"""Operator that keeps a Dify knowledge base in sync with documents from a pipeline."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.core.compat import BaseOperator, conf
from airflow_workflow_providers.core.completion import RunCompletionMixin
from airflow_workflow_providers.core.errors import (
    InputValidationError,
    PermanentAPIError,
    RunFailed,
    RunTimedOut,
    StartNotConfirmedError,
    WorkflowProviderError,
)
from airflow_workflow_providers.core.model import RunRef
from airflow_workflow_providers.core.watch import raise_for_event, validate_event
from airflow_workflow_providers.dify.knowledge.api import (
    DEFAULT_PROCESS_RULE,
    NAME,
    SETTLED,
    Step,
    batch_ref,
    document_settings,
    duplicate_names,
    extension_problem,
    plan,
    settings_problems,
    text_problems,
)
from airflow_workflow_providers.dify.knowledge.hooks import DifyKnowledgeHook

_GLOB = frozenset("*?[")
#: the XCom key holding a deferred ingestion's progress (its documents and deadline)
PROGRESS_KEY = "ingestion_progress"


class IndexingFailed(WorkflowProviderError):
    """Some documents could not be uploaded, or Dify could not index them; the message names each."""


@dataclass(frozen=True)
class _Source:
    """One document to ingest: its name and either its text or the path of its file."""

    name: str
    text: str | None = None
    path: Any = None


class DifyKnowledgeIngestOperator(RunCompletionMixin, BaseOperator):
    """Upload documents into a Dify knowledge base (dataset) and wait until they are indexed.

    Documents are matched to the dataset's documents **by name**. Returns ``{"dataset_id", "created",
    "updated", "skipped", "failed", "documents": [{"name", "document_id", "batch", "action",
    "indexing_status", "error"}]}``; the four counts add up to the number of documents. The task fails at
    the end, naming each document, if any could not be uploaded or ended in indexing ``error`` (the
    result is then pushed to XCom under ``report``). Documents paused in Dify are reported (status
    ``paused``, a warning in the log), not waited on: only a person resumes them.

    Everything is checked before the first upload: the documents' shape, that each file exists and has
    an extension Dify indexes, that no two documents share a name, and that the dataset exists.

    :param dataset_id: the knowledge base's id (templated).
    :param documents: ``[{"name", "text"}]`` to ingest as text (templated, e.g. an upstream task's XCom).
    :param source: a file, a folder (its files, not sub-folders) or a glob (``docs/**/*.md``), as a local
        path or an ``ObjectStoragePath`` URI (``s3://bucket/kb/*.pdf``), or a list of them (templated).
        Each file is uploaded as is (``.txt``, ``.md``, ``.pdf``, ``.csv``, ``.docx``, ...); its file name
        is the document's name. Hidden files (``.name``) are left out of folders and globs.
    :param on_existing: for a document whose name the dataset already has: ``"update"`` replaces its
        content in place (same document id, indexed anew; Dify only updates available documents),
        ``"skip"`` leaves it, ``"duplicate"`` creates another document with the same name.
    :param indexing_technique: ``"high_quality"`` or ``"economy"``; default: the dataset's own.
    :param process_rule: Dify's chunking rule, e.g. ``{"mode": "automatic"}``; default: the dataset's
        latest rule, or ``{"mode": "automatic"}`` for a dataset without documents.
    :param doc_form: ``"text_model"``, ``"hierarchical_model"`` or ``"qa_model"``; default: Dify's.
    :param wait_for_indexing: wait until every document is ``completed``, ``error`` or ``paused``;
        ``False`` returns right after the uploads with the states Dify answered them with.
    :param conn_id: a ``dify_knowledge`` connection (default ``dify_knowledge_default``).
    :param deferrable: wait on the triggerer, freeing the worker slot.
    :param poll_interval: seconds between indexing-status polls.
    :param timeout: seconds the indexing may take; then the task fails naming the documents still indexing
        (Dify's API cannot stop indexing).

    .. warning::
        Creating is not idempotent: with ``on_existing="duplicate"`` a task retry creates the documents
        again. With ``"update"`` a retry updates the documents the earlier try created.
    """

    template_fields: Sequence[str] = ("dataset_id", "documents", "source", "conn_id")
    template_fields_renderers = {"documents": "json"}
    hook_class = DifyKnowledgeHook
    hook: DifyKnowledgeHook
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        dataset_id: str,
        documents: list[dict[str, str]] | None = None,
        source: Any = None,
        on_existing: str = "update",
        indexing_technique: str | None = None,
        process_rule: dict[str, Any] | None = None,
        doc_form: str | None = None,
        wait_for_indexing: bool = True,
        conn_id: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float = 6 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        problems = settings_problems(
            on_existing=on_existing,
            indexing_technique=indexing_technique,
            process_rule=process_rule,
            doc_form=doc_form,
        )
        if documents is None and source is None:
            problems.append("give documents, source or both")
        if poll_interval <= 0 or timeout <= 0:
            problems.append(f"poll_interval and timeout must be positive, got {poll_interval} and {timeout}")
        if problems:
            raise ValueError(f"{type(self).__name__} {self.task_id!r}: " + "; ".join(problems))
        self.dataset_id = dataset_id
        self.documents = documents
        self.source = source
        self.on_existing = on_existing
        self.indexing_technique = indexing_technique
        self.process_rule = process_rule
        self.doc_form = doc_form
        self.wait_for_indexing = wait_for_indexing
        self.conn_id = conn_id or self.hook_class.default_conn_name
        self.deferrable = deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)

    # -- ingestion --------------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        sources = self._sources()
        existing = self.hook.list_documents(self.dataset_id)
        self.log.info(
            "%s dataset %s has %d documents; ingesting %d (on_existing=%r).",
            NAME,
            self.dataset_id,
            len(existing),
            len(sources),
            self.on_existing,
        )
        rule = self.process_rule
        if rule is None and not existing:
            rule = dict(DEFAULT_PROCESS_RULE)
            self.log.info("The dataset has no documents, so no chunking rule to inherit: using %s.", rule)
        settings = document_settings(
            indexing_technique=self.indexing_technique, process_rule=rule, doc_form=self.doc_form
        )
        by_name = {source.name: source for source in sources}
        steps = plan(list(by_name), existing, self.on_existing)
        documents = [self._apply(step, by_name[step.name], settings) for step in steps]
        if not self.wait_for_indexing:
            return self._finish(context, documents)
        return self._wait(context, documents, deadline=time.time() + self.timeout)

    def _sources(self) -> list[_Source]:
        """The documents to ingest; raise :class:`InputValidationError` naming every problem."""
        problems = text_problems(self.documents)
        sources = [] if problems else [_Source(d["name"], text=d["text"]) for d in self.documents or []]
        for path in _expand(self.source, problems):
            problem = extension_problem(path.name)
            if problem:
                problems.append(problem)
            sources.append(_Source(path.name, path=path))
        problems += duplicate_names([source.name for source in sources])
        if not sources and not problems:
            problems.append("there is nothing to ingest")
        if problems:
            raise InputValidationError(
                f"{NAME} ingestion into dataset {self.dataset_id} rejected before uploading: "
                + "; ".join(problems)
            )
        return sources

    def _apply(self, step: Step, source: _Source, settings: dict[str, Any]) -> dict[str, Any]:
        """Carry out one step; a refused upload is recorded as that document's error, not raised."""
        entry = {
            "name": step.name,
            "document_id": step.document_id,
            "batch": None,
            "action": step.action,
            "indexing_status": step.indexing_status,
            "error": step.problem,
        }
        if step.problem:
            self.log.error("Not ingesting %r: %s", step.name, step.problem)
            return entry
        if step.action == "skip":
            self.log.info("Skipping %r: the dataset has it as %s.", step.name, step.document_id)
            return entry
        what = "file" if source.path is not None else "text"
        try:
            if step.action == "update":
                accepted = self.hook.update_document(
                    self.dataset_id,
                    step.document_id,
                    name=source.name,
                    text=source.text,
                    path=source.path,
                    settings=settings,
                )
            else:
                accepted = self.hook.create_document(
                    self.dataset_id, name=source.name, text=source.text, path=source.path, settings=settings
                )
        except (PermanentAPIError, StartNotConfirmedError, OSError) as exc:
            entry["error"] = str(exc)
            self.log.error("Could not %s %r (%s): %s", step.action, source.name, what, exc)
            return entry
        entry.update(
            document_id=accepted.document_id, batch=accepted.batch, indexing_status=accepted.indexing_status
        )
        self.log.info(
            "%s %r (%s) as document %s, batch %s.",
            "Updated" if step.action == "update" else "Created",
            source.name,
            what,
            accepted.document_id,
            accepted.batch,
        )
        return entry

    # -- waiting ----------------------------------------------------------------------------------
    def _wait(self, context: Any, documents: list[dict[str, Any]], deadline: float) -> dict[str, Any]:
        """Wait until every batch has settled: on the triggerer one batch at a time (the newest first:
        Dify indexes in order, so the others are usually done by then), or on this worker."""
        pending = self._refresh(documents)
        if pending and time.time() >= deadline:
            self._timed_out(context, documents)
        if pending and self.deferrable:
            # Progress waits in XCom, not in the deferral's kwargs: dag.test() drops those on resume.
            context["ti"].xcom_push(key=PROGRESS_KEY, value={"documents": documents, "deadline": deadline})
            self.defer_until_done(
                pending[-1],
                poll_interval=self.poll_interval,
                wait=deadline - time.time(),
                cancel_on_kill=False,
            )
        for ref in reversed(pending):
            try:
                self.hook.wait_for_run(ref, end_time=deadline, poll_interval=self.poll_interval)
            except RunFailed:
                pass  # a document's indexing error: reported with the others below
            except RunTimedOut:
                self._refresh(documents)
                self._timed_out(context, documents)
        self._refresh(documents)
        return self._finish(context, documents)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger's event: read every batch again, then wait for the rest or finish."""
        event = validate_event(event)
        ti = context["ti"]
        progress = ti.xcom_pull(task_ids=ti.task_id, key=PROGRESS_KEY, map_indexes=ti.map_index)
        documents, deadline = progress["documents"], progress["deadline"]
        if event["status"] == "timeout":
            self._refresh(documents)
            self._timed_out(context, documents)
        if event["status"] == "error":
            raise_for_event(event)
        return self._wait(context, documents, deadline)

    def _refresh(self, documents: list[dict[str, Any]]) -> list[RunRef]:
        """Read each batch with unsettled documents once; return the references still in progress."""
        batches: dict[str, list[dict[str, Any]]] = {}
        for document in documents:
            if document["batch"] and document["indexing_status"] not in SETTLED:
                batches.setdefault(document["batch"], []).append(document)
        pending = []
        for batch, members in batches.items():
            ref = batch_ref(self.dataset_id, batch, [d["document_id"] for d in members])
            run = self.hook.get_run(ref)
            states = {d["document_id"]: d for d in run.outputs["documents"]}
            for document in members:
                state = states[document["document_id"]]
                document["indexing_status"] = state["indexing_status"]
                if state["indexing_status"] == "error":
                    document["error"] = state["error"] or "indexing failed (Dify gave no error text)"
            if not run.state.is_terminal:
                pending.append(ref)
        return pending

    def _timed_out(self, context: Any, documents: list[dict[str, Any]]) -> None:
        waiting = [
            f"{d['name']!r} ({d['indexing_status']})"
            for d in documents
            if d["batch"] and d["indexing_status"] not in SETTLED
        ]
        context["ti"].xcom_push(key="report", value=self._result(documents))
        raise RunTimedOut(
            f"{NAME} dataset {self.dataset_id}: indexing did not finish within {self.timeout:.0f} s; still "
            f"indexing: {', '.join(waiting)}. Dify keeps indexing them."
        )

    # -- result -----------------------------------------------------------------------------------
    def _result(self, documents: list[dict[str, Any]]) -> dict[str, Any]:
        failed = [d for d in documents if d["error"]]
        done = [d for d in documents if not d["error"]]
        count = {action: sum(d["action"] == action for d in done) for action in ("create", "update", "skip")}
        return {
            "dataset_id": self.dataset_id,
            "created": count["create"],
            "updated": count["update"],
            "skipped": count["skip"],
            "failed": len(failed),
            "documents": documents,
        }

    def _finish(self, context: Any, documents: list[dict[str, Any]]) -> dict[str, Any]:
        result = self._result(documents)
        paused = [d["name"] for d in documents if d["indexing_status"] == "paused"]
        if paused:
            self.log.warning(
                "Indexing is paused in Dify for %s: resume it in the Dify console.",
                ", ".join(map(repr, paused)),
            )
        self.log.info(
            "%s dataset %s: %d created, %d updated, %d skipped, %d failed.",
            NAME,
            self.dataset_id,
            result["created"],
            result["updated"],
            result["skipped"],
            result["failed"],
        )
        failed = [f"{d['name']!r}: {d['error']}" for d in documents if d["error"]]
        if failed:
            context["ti"].xcom_push(key="report", value=result)
            raise IndexingFailed(
                f"{NAME} dataset {self.dataset_id}: {len(failed)} of {len(documents)} documents failed: "
                + "; ".join(failed)
            )
        return result


def _expand(source: Any, problems: list[str]) -> list[Any]:
    """The files a ``source`` names, in a stable order; what names no file is added to ``problems``."""
    if source is None:
        return []
    from airflow.sdk import ObjectStoragePath

    entries = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[Any] = []
    for entry in entries:
        text = os.fspath(entry) if isinstance(entry, os.PathLike) else str(entry)
        parts = text.split("/")
        glob_at = next((i for i, part in enumerate(parts) if _GLOB & set(part)), None)
        try:
            if glob_at is not None:
                root = ObjectStoragePath("/".join(parts[:glob_at]) or ".")
                found = [
                    p
                    for p in root.glob("/".join(parts[glob_at:]))
                    if p.is_file() and not p.name.startswith(".")
                ]
            else:
                path = ObjectStoragePath(text)
                if path.is_dir():
                    found = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
                else:
                    found = [path] if path.is_file() else []
        except Exception as exc:  # an unknown storage scheme, missing credentials, ...
            problems.append(f"source {text!r} cannot be read: {exc}")
            continue
        if not found:
            problems.append(f"source {text!r} names no file")
        files += sorted(found, key=str)
    return files
