"""Dify's knowledge-base (dataset) Service API, as data (no I/O).

Ground truth is a real Dify 1.14.1 server where it differs from the docs
(``shared/recordings/dify-1.14.1-chatflow-knowledge-human-input.md``):

* keys are workspace-wide ``dataset-…`` keys; an app key on a dataset endpoint is refused (401).
* ``GET /datasets`` and ``GET /datasets/{id}`` fail (400 ``invalid_param``) on a server without its plugin
  daemon, so nothing here depends on them: a dataset is checked by listing its documents.
* every create or update answers a ``batch``; ``GET /datasets/{id}/documents/{batch}/indexing-status``
  reports its documents ``waiting``, ``parsing``, ``cleaning``, ``splitting``, ``indexing``, then
  ``completed`` or ``error``; a document paused in the console reports ``paused`` until someone resumes it.
* an update answers the document's **original** batch, which may hold other documents, so a wait follows
  the documents it touched by id. Dify only updates documents that are ``available``.

An indexing batch is a "run" of the ``dify_knowledge`` platform: its state is the aggregate of its
documents' indexing states, so the engine's trigger, watch and sensor wait on it like on any run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import Request, Response, Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI, json_body, require
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.dify import KNOWLEDGE_PLATFORM

NAME = KNOWLEDGE_PLATFORM.name

ON_EXISTING = ("update", "skip", "duplicate")
INDEXING_TECHNIQUES = ("high_quality", "economy")
DOC_FORMS = ("text_model", "hierarchical_model", "qa_model")
#: what a Dify server indexes (its default ETL plus the Unstructured one); the server has the last word
FILE_EXTENSIONS = frozenset(
    {
        "txt",
        "markdown",
        "md",
        "mdx",
        "pdf",
        "html",
        "htm",
        "xlsx",
        "xls",
        "vtt",
        "properties",
        "doc",
        "docx",
        "csv",
        "eml",
        "msg",
        "pptx",
        "ppt",
        "xml",
        "epub",
    }
)
#: indexing states after which a document's state no longer changes by itself
SETTLED = frozenset({"completed", "error", "paused"})
#: the most documents Dify lists per page
PAGE_LIMIT = 100
#: the process rule used for the first documents of an empty dataset, which has none to inherit
DEFAULT_PROCESS_RULE: Mapping[str, Any] = {"mode": "automatic"}


@dataclass(frozen=True, slots=True)
class Accepted:
    """Dify's answer to a create or update: the document and the batch to follow its indexing by."""

    document_id: str
    batch: str
    indexing_status: str | None


@dataclass(frozen=True, slots=True)
class ExistingDocument:
    """One document of a dataset's listing."""

    document_id: str
    name: str
    indexing_status: str | None
    display_status: str | None


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with one document to ingest: ``action`` is ``create``, ``update`` or ``skip``;
    ``problem`` says why it cannot be done (the document is reported failed without a request)."""

    name: str
    action: str
    document_id: str | None = None
    indexing_status: str | None = None
    problem: str | None = None


def batch_ref(dataset_id: str, batch: str, document_ids: Collection[str] = ()) -> RunRef:
    """A batch as a run reference; ``document_ids`` limits the wait to the documents a task touched."""
    extras = {"dataset_id": str(dataset_id)}
    if document_ids:
        extras["documents"] = ",".join(sorted(document_ids))
    return RunRef(str(batch), extras)


def parse_batch(payload: Any, batch: str, document_ids: Collection[str] = ()) -> Run:
    """An ``indexing-status`` answer as one run: in progress while any document is, ``failed`` when a
    document ended in ``error``, otherwise ``succeeded`` (with a warning naming paused documents).

    A status this module does not know keeps the batch waiting (bounded by the task's timeout).
    """
    entries = require(payload, "data", NAME, f"batch {batch}")
    if not isinstance(entries, list):
        raise ResponseFormatError(f"{NAME} batch {batch}: 'data' should be a list")
    documents = [_indexing(entry, batch) for entry in entries]
    if document_ids:
        seen = {d["document_id"] for d in documents}
        documents = [d for d in documents if d["document_id"] in document_ids]
        documents += [
            {
                "document_id": missing,
                "indexing_status": "error",
                "error": "the document is no longer in its batch (deleted?)",
                "completed_segments": None,
                "total_segments": None,
            }
            for missing in sorted(set(document_ids) - seen)
        ]
    statuses = Counter(d["indexing_status"] for d in documents)
    failed = [d for d in documents if d["indexing_status"] == "error"]
    paused = [d["document_id"] for d in documents if d["indexing_status"] == "paused"]
    if not statuses.keys() <= SETTLED:
        state = RunState.QUEUED if set(statuses) == {"waiting"} else RunState.RUNNING
    else:
        state = RunState.FAILED if failed else RunState.SUCCEEDED
    return Run(
        run_id=batch,
        state=state,
        raw_status=", ".join(f"{count} {status}" for status, count in sorted(statuses.items())),
        outputs={"documents": documents},
        error_message="; ".join(
            f"document {d['document_id']}: {d['error'] or 'no error text'}" for d in failed
        )
        or None,
        usage={key: sum(d[key] or 0 for d in documents) for key in ("completed_segments", "total_segments")},
        warning=f"indexing paused in Dify for {', '.join(paused)}"
        if paused and state is RunState.SUCCEEDED
        else None,
    )


def _indexing(entry: Any, batch: str) -> dict[str, Any]:
    document_id = str(require(entry, "id", NAME, f"batch {batch} document"))
    status = require(entry, "indexing_status", NAME, f"document {document_id}")
    if not isinstance(status, str):
        raise ResponseFormatError(
            f"{NAME} document {document_id}: indexing_status should be a string, got {status!r}"
        )
    return {
        "document_id": document_id,
        "indexing_status": status,
        "error": str(entry["error"]) if entry.get("error") else None,
        "completed_segments": entry.get("completed_segments"),
        "total_segments": entry.get("total_segments"),
    }


def parse_accepted(payload: Any) -> Accepted:
    document = require(payload, "document", NAME, "document answer")
    return Accepted(
        document_id=str(require(document, "id", NAME, "document")),
        batch=str(require(payload, "batch", NAME, "document answer")),
        indexing_status=document.get("indexing_status"),
    )


def parse_documents(payload: Any) -> tuple[list[ExistingDocument], bool]:
    """One page of ``GET /datasets/{id}/documents``: its documents, and whether another page may follow."""
    entries = require(payload, "data", NAME, "document list")
    if not isinstance(entries, list):
        raise ResponseFormatError(f"{NAME} document list: 'data' should be a list")
    documents = [
        ExistingDocument(
            document_id=str(require(entry, "id", NAME, "listed document")),
            name=str(require(entry, "name", NAME, "listed document")),
            indexing_status=entry.get("indexing_status"),
            display_status=entry.get("display_status"),
        )
        for entry in entries
    ]
    return documents, bool(payload.get("has_more")) and bool(documents)


def document_settings(
    *, indexing_technique: str | None, process_rule: Mapping[str, Any] | None, doc_form: str | None
) -> dict[str, Any]:
    """The indexing settings of a create or update, without the ones left to the dataset."""
    settings = {"indexing_technique": indexing_technique, "process_rule": process_rule, "doc_form": doc_form}
    return {key: value for key, value in settings.items() if value is not None}


def settings_problems(
    *, on_existing: str, indexing_technique: str | None, process_rule: Any, doc_form: str | None
) -> list[str]:
    """Everything wrong with the operator's indexing options."""
    problems = []
    if on_existing not in ON_EXISTING:
        problems.append(f"on_existing must be one of {ON_EXISTING}, got {on_existing!r}")
    if indexing_technique not in (None, *INDEXING_TECHNIQUES):
        problems.append(
            f"indexing_technique must be one of {INDEXING_TECHNIQUES}, got {indexing_technique!r}"
        )
    if doc_form not in (None, *DOC_FORMS):
        problems.append(f"doc_form must be one of {DOC_FORMS}, got {doc_form!r}")
    if process_rule is not None and not (isinstance(process_rule, Mapping) and process_rule.get("mode")):
        problems.append(
            f"process_rule must be a dict with a 'mode' (e.g. {dict(DEFAULT_PROCESS_RULE)}), got {process_rule!r}"
        )
    return problems


def text_problems(documents: Any) -> list[str]:
    """Everything wrong with a ``documents`` argument: a list of ``{"name", "text"}``."""
    if documents is None:
        return []
    if not isinstance(documents, Sequence) or isinstance(documents, (str, bytes)):
        return [f"documents must be a list of {{'name', 'text'}} dicts, got {type(documents).__name__}"]
    problems = []
    for index, document in enumerate(documents):
        if not isinstance(document, Mapping):
            problems.append(
                f"documents[{index}] must be a dict with 'name' and 'text', got {type(document).__name__}"
            )
            continue
        if not isinstance(document.get("name"), str) or not document["name"].strip():
            problems.append(f"documents[{index}] needs a non-empty string 'name'")
        if not isinstance(document.get("text"), str):
            problems.append(f"documents[{index}] ({document.get('name')!r}) needs a string 'text'")
        unknown = sorted(set(document) - {"name", "text"})
        if unknown:
            problems.append(f"documents[{index}] has unknown keys {unknown} (only 'name' and 'text')")
    return problems


def extension_problem(name: str) -> str | None:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in FILE_EXTENSIONS:
        return None
    return f"{name!r}: Dify does not index {'.' + extension if extension else 'files without an extension'} files (it takes {', '.join(sorted(FILE_EXTENSIONS))})"


def duplicate_names(names: Sequence[str]) -> list[str]:
    counts = Counter(names)
    return [
        f"two documents are named {name!r} (documents are matched by name)"
        for name, n in counts.items()
        if n > 1
    ]


def plan(names: Sequence[str], existing: Sequence[ExistingDocument], on_existing: str) -> list[Step]:
    """What to do with each document to ingest, given the dataset's documents (matched by name)."""
    by_name: dict[str, list[ExistingDocument]] = {}
    for document in existing:
        by_name.setdefault(document.name, []).append(document)
    steps = []
    for name in names:
        matches = by_name.get(name, [])
        if not matches or on_existing == "duplicate":
            steps.append(Step(name, "create"))
            continue
        if len(matches) > 1:
            ids = ", ".join(m.document_id for m in matches)
            steps.append(
                Step(
                    name,
                    on_existing,
                    problem=f"the dataset has {len(matches)} documents named {name!r} ({ids}); cannot tell which to {on_existing}",
                )
            )
            continue
        match = matches[0]
        if on_existing == "skip":
            steps.append(Step(name, "skip", match.document_id, match.indexing_status))
        elif match.display_status != "available":
            steps.append(
                Step(
                    name,
                    "update",
                    match.document_id,
                    match.indexing_status,
                    problem=f"Dify only updates available documents; {match.document_id} is {match.display_status!r} "
                    "(re-index or delete it in Dify)",
                )
            )
        else:
            steps.append(Step(name, "update", match.document_id))
    return steps


class DifyKnowledgeAPI(PlatformAPI):
    info = KNOWLEDGE_PLATFORM

    def status(self, ref: RunRef) -> Call[Run]:
        dataset_id = ref.extras.get("dataset_id")
        if not dataset_id:
            raise ValueError(f"{NAME} batch {ref.run_id}: the reference names no dataset_id")
        document_ids = frozenset(filter(None, ref.extras.get("documents", "").split(",")))
        return Call(
            Request("GET", f"/datasets/{dataset_id}/documents/{ref.run_id}/indexing-status"),
            lambda response: parse_batch(json_body(response, NAME), ref.run_id, document_ids),
            run_id=ref.run_id,
        )

    def why_no_cancel(self, ref: RunRef) -> str:
        return "Dify's dataset API cannot stop indexing (a document can be paused in the Dify console)"

    def probe(self) -> Call[str]:
        return Call(Request("GET", "/datasets", query={"page": 1, "limit": 1}), _describe_datasets)

    def documents(self, dataset_id: str, *, page: int = 1) -> Call[tuple[list[ExistingDocument], bool]]:
        request = Request(
            "GET", f"/datasets/{dataset_id}/documents", query={"page": page, "limit": PAGE_LIMIT}
        )
        return Call(request, lambda response: parse_documents(json_body(response, NAME)))

    def send_document(
        self,
        dataset_id: str,
        document_id: str | None = None,
        *,
        name: str,
        settings: Mapping[str, Any],
        text: str | None = None,
        file: tuple[bytes, str] | None = None,
    ) -> Call[Accepted]:
        """Create a document (``document_id`` None) or replace one's content in place, from ``text`` or
        from ``file`` (``(content, content type)``). A create is not idempotent (a repeat makes a second
        document); retrying an update re-indexes the same content, so it is safe."""
        how = "by-text" if file is None else "by-file"
        if document_id is None:
            path = f"/datasets/{dataset_id}/document/create-{how}"
        else:
            path = f"/datasets/{dataset_id}/documents/{document_id}/update-{how}"
        if file is None:
            request = Request("POST", path, json={"name": name, "text": text, **settings})
        else:
            form = {"data": json.dumps(dict(settings))}
            request = Request("POST", path, upload=("file", name, *file), form=form)
        return Call(request, _accepted, idempotent=document_id is not None)


def is_missing_plugin_daemon(code: str | None, message: str) -> bool:
    """Whether an error is a server's lack of a plugin daemon (dataset listing needs one; documents do not)."""
    return code == "invalid_param" and "plugin daemon" in message


def _accepted(response: Response) -> Accepted:
    return parse_accepted(json_body(response, NAME))


def _describe_datasets(response: Response) -> str:
    body = json_body(response, NAME)
    total = body.get("total") if isinstance(body, Mapping) else None
    return f"{total} knowledge bases visible" if isinstance(total, int) else "knowledge bases visible"
