"""The Dify emulator's knowledge-base (dataset) API, as a real Dify 1.14.1 serves it without a plugin daemon.

It follows ``shared/recordings/dify-1.14.1-chatflow-knowledge-human-input.md`` (section 4): dataset keys
(``dataset-…``) are workspace-wide and refused on app endpoints, app keys are refused here (401);
``GET /datasets`` and ``GET /datasets/{id}`` answer 400 "Failed to request plugin daemon" unless the
``plugin_daemon`` setting is on; a dataset with Service API access turned off answers 403. Documents are
indexed by the clock: ``parsing``, ``splitting``, ``indexing`` over ``indexing_seconds``, then
``completed``; an update answers the document's original batch, ``waiting``/``queuing`` and
``created_from: "web"``, and is refused unless the document is available. Retrieval (``/retrieve``,
``/hit-testing``) answers keyword searches only, as a server without a vector database does
(``testing/dify_retrieval.py``). A document whose name matches a
glob of the ``indexing_outcomes`` setting ends otherwise: ``"paused"`` pauses it half-way (the
indexing-status endpoint then says ``paused``, the list keeps its stage with ``display_status: "paused"``),
any other text fails it with that error.

Default: the key ``DATASET_KEY`` and an empty economy dataset ``DATASET_ID`` (``airflow-kb``).
Console stand-ins (no auth): ``POST /console/api/datasets/api-keys`` (a new dataset key),
``DELETE /console/api/datasets/api-keys/{id}``, ``POST /console/api/datasets/{id}/api-keys/enable|disable``.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_workflow_providers.testing import dify_retrieval as retrieval
from airflow_workflow_providers.testing._server import Route

if TYPE_CHECKING:
    from airflow_workflow_providers.testing.dify import DifyEmulator

DATASET_KEY = "dataset-emulator"
_NS = uuid.UUID("0d1f5a8e-3c47-4b5e-9f0e-7a2b6c9d4e13")
DATASET_ID = str(uuid.uuid5(_NS, "dataset:airflow-kb"))
_ACCOUNT_ID = str(uuid.uuid5(_NS, "account"))
SETTINGS: Mapping[str, Any] = {
    "indexing_seconds": 0.3,  # parsing -> splitting -> indexing -> outcome, scaled by run_seconds_multiplier
    "indexing_outcomes": {},  # document-name glob -> "paused" or an indexing error text
    "plugin_daemon": False,  # without one, listing and reading datasets fail as recorded
}
_STAGES = ("parsing", "splitting", "indexing")
_EXTENSIONS = frozenset(
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
    }
)
_FILE_LIMIT = 15 * 1024 * 1024
_PLUGIN_DAEMON = (
    "Failed to request plugin daemon, url: plugin/3a03a68f-8770-41fe-864e-f2105fb40d86/management/models"
)
_FLASK_404 = (
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
)
_BAD_JSON = "The browser (or proxy) sent a request that this server could not understand."
_PYDANTIC = "https://errors.pydantic.dev/2.12/v/"


@dataclass
class _Document:
    id: str
    position: int
    name: str
    batch: str
    content: bytes
    mime_type: str
    created_at: int
    #: when its current indexing was queued, how long it waits, how long it takes, and how it ends
    queued_at: float
    wait: float
    duration: float
    outcome: str
    created_from: str = "api"
    doc_form: str = "text_model"
    previous_word_count: int | None = None
    upload_file_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    upload_created_at: float = field(default_factory=time.time)

    @property
    def extension(self) -> str:
        return self.name.rsplit(".", 1)[-1] if "." in self.name else ""

    def progress(self, now: float) -> float:
        """Indexing progress, 0..1 (negative while waiting)."""
        started = self.queued_at + self.wait
        if now < started:
            return -1.0
        return (now - started) / self.duration if self.duration > 0 else 1.0

    def stage(self, now: float) -> str:
        """The ``indexing_status`` column: the stage reached, or how it ended."""
        progress = self.progress(now)
        if progress < 0:
            return "waiting"
        if self.outcome == "paused":
            progress = min(progress, 0.5)
        if progress < 1:
            return _STAGES[min(2, int(progress * 3))]
        return "completed" if self.outcome == "completed" else "error"

    def paused(self, now: float) -> bool:
        return self.outcome == "paused" and self.progress(now) >= 0.5

    def display_status(self, now: float) -> str:
        stage = self.stage(now)
        if self.paused(now):
            return "paused"
        return {"waiting": "queuing", "completed": "available", "error": "error"}.get(stage, "indexing")

    def moment(self, fraction: float, now: float) -> int | None:
        """When the indexing passed ``fraction`` of its work (epoch seconds), if it has."""
        if self.progress(now) < fraction or (self.paused(now) and fraction > 0.5):
            return None
        return int(self.queued_at + self.wait + fraction * self.duration)


@dataclass
class _Dataset:
    id: str
    name: str
    indexing_technique: str | None
    description: str = ""
    permission: str = "only_me"
    enable_api: bool = True
    process_rule: Mapping[str, Any] | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))
    documents: dict[str, _Document] = field(default_factory=dict)


class Knowledge:
    """The dataset API state and handlers of one Dify emulator (``emulator.knowledge``)."""

    def __init__(self, emulator: DifyEmulator) -> None:
        self.emulator = emulator
        self.reset()

    def reset(self) -> None:
        #: dataset key -> its console id
        self.keys = {DATASET_KEY: str(uuid.uuid5(_NS, "key:" + DATASET_KEY))}
        self.datasets = {DATASET_ID: _Dataset(DATASET_ID, "airflow-kb", "economy")}

    def owns(self, request: web.Request) -> bool:
        """Whether the request is for the dataset API (and so takes a dataset key, not an app key)."""
        return self.emulator.relative(request.path).startswith("/datasets")

    def authenticate(self, request: web.Request) -> bool:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and key in self.keys

    def api_routes(self) -> list[Route]:
        dataset, document = "/datasets/{dataset_id}", "/datasets/{dataset_id}/documents/{document_id}"
        return [
            Route("POST", "/datasets", self._create_dataset),
            Route("GET", "/datasets", self._needs_plugin_daemon),
            Route("GET", dataset, self._needs_plugin_daemon),
            Route("DELETE", dataset, self._delete_dataset),
            Route("POST", dataset + "/document/create-by-text", self._create_by_text),
            Route("POST", dataset + "/document/create-by-file", self._create_by_file),
            Route("GET", dataset + "/documents", self._list_documents),
            Route("GET", document, self._document_detail),
            Route("DELETE", document, self._delete_document),
            Route("POST", document + "/update-by-text", self._update_by_text),
            Route("POST", document + "/update-by-file", self._update_by_file),
            Route("GET", dataset + "/documents/{batch}/indexing-status", self._indexing_status),
            Route("POST", dataset + "/retrieve", self._retrieve),
            Route("POST", dataset + "/hit-testing", self._retrieve),
        ]

    def root_routes(self) -> list[Route]:
        return [
            Route("POST", "/console/api/datasets/api-keys", self._create_key),
            Route("DELETE", "/console/api/datasets/api-keys/{key_id}", self._delete_key),
            Route("POST", "/console/api/datasets/{dataset_id}/api-keys/{action}", self._api_access),
        ]

    # -- console stand-ins ----------------------------------------------------------------------
    async def _create_key(self, request: web.Request) -> web.Response:
        """A new workspace dataset key (the console allows 10)."""
        if len(self.keys) >= 10:
            return self._error(
                400, "Cannot create more than 10 API keys for this resource type.", "max_keys_exceeded"
            )
        token, key_id = f"dataset-{uuid.uuid4().hex[:24]}", str(uuid.uuid4())
        self.keys[token] = key_id
        return web.json_response(
            {
                "id": key_id,
                "type": "dataset",
                "token": token,
                "last_used_at": None,
                "created_at": int(time.time()),
            }
        )

    async def _delete_key(self, request: web.Request) -> web.Response:
        token = next((t for t, key_id in self.keys.items() if key_id == request.match_info["key_id"]), None)
        if token is None:
            return self._error(404, "API key not found", "not_found")
        del self.keys[token]
        return web.Response(status=204, content_type="application/json")

    # -- datasets -------------------------------------------------------------------------------
    async def _create_dataset(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return self._error(400, _BAD_JSON, "bad_request")
        technique = body.get("indexing_technique")
        if technique not in (None, "high_quality", "economy"):
            return self._error(400, _literal_error("DatasetCreatePayload", "indexing_technique", technique))
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return self._error(400, _missing("DatasetCreatePayload", "name", body))
        if any(d.name == name for d in self.datasets.values()):
            return self._error(
                409,
                "The dataset name already exists. Please modify your dataset name.",
                "dataset_name_duplicate",
            )
        dataset = _Dataset(
            str(uuid.uuid4()),
            name,
            technique,
            body.get("description") or "",
            body.get("permission") or "only_me",
        )
        self.datasets[dataset.id] = dataset
        return web.json_response(_dataset_view(dataset))

    async def _needs_plugin_daemon(self, request: web.Request) -> web.Response:
        if not self.emulator.settings["plugin_daemon"]:
            return self._error(400, _PLUGIN_DAEMON)
        if "dataset_id" not in request.match_info:
            items = [_dataset_view(d) for d in self.datasets.values()]
            return web.json_response(
                {"data": items, "has_more": False, "limit": 20, "total": len(items), "page": 1}
            )
        found = self._dataset(request)
        return found if isinstance(found, web.Response) else web.json_response(_dataset_view(found))

    async def _delete_dataset(self, request: web.Request) -> web.Response:
        found = self._dataset(request)
        if isinstance(found, web.Response):
            return found
        del self.datasets[found.id]
        return web.Response(status=204, content_type="application/json")

    async def _api_access(self, request: web.Request) -> web.Response:
        dataset = self.datasets.get(request.match_info["dataset_id"])
        action = request.match_info["action"]
        if dataset is None or action not in ("enable", "disable"):
            return self._error(404, _FLASK_404)
        dataset.enable_api = action == "enable"
        return web.json_response({"result": "success"})

    # -- documents ------------------------------------------------------------------------------
    async def _create_by_text(self, request: web.Request) -> web.Response:
        found = await self._dataset_and_body(request)
        if isinstance(found, web.Response):
            return found
        dataset, body = found
        for name in ("name", "text"):
            if not isinstance(body.get(name), str):
                return self._error(400, _missing("DocumentTextCreatePayload", name, body))
        refusal = self._check_settings(dataset, body)
        if refusal:
            return refusal
        document = self._add(dataset, body["name"], body["text"].encode(), "text/plain", body)
        return self._accepted(document)

    async def _create_by_file(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        if isinstance(dataset, web.Response):
            return dataset
        upload = await self._upload(request)
        if isinstance(upload, web.Response):
            return upload
        settings, name, content, mime_type = upload
        if name is None:
            return self._error(400, "Please upload your file.", "no_file_uploaded")
        refusal = self._check_settings(dataset, settings) or self._check_file(name, content)
        if refusal:
            return refusal
        if settings.get("process_rule") is None and dataset.process_rule is None:
            return self._error(400, "process_rule is required.")
        return self._accepted(self._add(dataset, name, content, mime_type, settings))

    async def _update_by_text(self, request: web.Request) -> web.Response:
        found = self._document(request)
        if isinstance(found, web.Response):
            return found
        dataset, document = found
        body = await _json_body(request)
        if not isinstance(body, dict):
            return self._error(400, _BAD_JSON, "bad_request")
        if body.get("text") is not None and not body.get("name"):
            return self._error(
                400,
                "1 validation error for DocumentTextUpdate\n  Value error, name is required when "
                f"text is provided [type=value_error, input_value={_short(body)}, input_type=dict]\n"
                f"    For further information visit {_PYDANTIC}value_error",
            )
        refusal = self._check_available(document)
        if refusal:
            return refusal
        text = body.get("text")
        self._reindex(
            dataset,
            document,
            body.get("name") or document.name,
            document.content if text is None else str(text).encode(),
            document.mime_type,
            body,
        )
        return self._accepted(document)

    async def _update_by_file(self, request: web.Request) -> web.Response:
        found = self._document(request)
        if isinstance(found, web.Response):
            return found
        dataset, document = found
        upload = await self._upload(request)
        if isinstance(upload, web.Response):
            return upload
        settings, name, content, mime_type = upload
        refusal = (self._check_file(name, content) if name is not None else None) or self._check_available(
            document
        )
        if refusal:
            return refusal
        if name is None:
            name, content, mime_type = document.name, document.content, document.mime_type
        self._reindex(dataset, document, name, content, mime_type, settings)
        return self._accepted(document)

    async def _list_documents(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        if isinstance(dataset, web.Response):
            return dataset
        query = request.query
        page, limit = _integer(query.get("page"), 1), min(_integer(query.get("limit"), 20), 100)
        keyword = query.get("keyword")
        documents = sorted(
            (d for d in dataset.documents.values() if not keyword or keyword in d.name),
            key=lambda d: (d.created_at, d.position),
            reverse=True,
        )
        chosen = documents[(page - 1) * limit : page * limit]
        now = time.time()
        return web.json_response(
            {
                "data": [_document_view(d, now) for d in chosen],
                "has_more": len(chosen) == limit,
                "limit": limit,
                "total": len(documents),
                "page": page,
            }
        )

    async def _document_detail(self, request: web.Request) -> web.Response:
        found = self._document(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(_detail_view(found[1], time.time()))

    async def _delete_document(self, request: web.Request) -> web.Response:
        found = self._document(request)
        if isinstance(found, web.Response):
            return found
        dataset, document = found
        del dataset.documents[document.id]
        return web.Response(status=204, content_type="application/json")

    async def _indexing_status(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        if isinstance(dataset, web.Response):
            return dataset
        batch = request.match_info["batch"]
        documents = [d for d in dataset.documents.values() if d.batch == batch]
        if not documents:
            return self._error(404, "Documents not found.")
        now = time.time()
        return web.json_response({"data": [_indexing_view(d, now) for d in documents]})

    async def _retrieve(self, request: web.Request) -> web.Response:
        """Keyword search over the available documents (``testing/dify_retrieval.py``)."""
        found = await self._dataset_and_body(request)
        if isinstance(found, web.Response):
            return found
        dataset, body = found
        if not isinstance(body.get("query"), str):
            return self._error(400, _missing("HitTestingPayload", "query", body))
        problem = retrieval.search_problem(body)
        if problem:
            return self._error(400, problem)
        now, segments, completed = time.time(), [], {}
        for document in dataset.documents.values():
            if document.display_status(now) == "available":
                text = document.content.decode(errors="replace")
                segments += retrieval.segments(
                    document.id, text, document.extension in ("md", "markdown", "mdx")
                )
                completed[document.id] = document.moment(1.0, now)
        top_k = _integer(str(body["retrieval_model"].get("top_k") or ""), 4)
        hits = retrieval.keyword_search(body["query"], segments, top_k)
        records = [retrieval.record(s, _ACCOUNT_ID, completed[s.document_id]) for s in hits]
        return web.json_response({"query": body["query"], "records": records})

    # -- helpers --------------------------------------------------------------------------------
    def _error(self, status: int, message: str, code: str | None = None) -> web.Response:
        return self.emulator.error(status, message, code or ("invalid_param" if status == 400 else None))

    def _dataset(self, request: web.Request) -> _Dataset | web.Response:
        dataset_id = request.match_info["dataset_id"]
        if not _is_uuid(dataset_id):
            return self._error(404, _FLASK_404)
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            return self._error(404, "Dataset not found.")
        if not dataset.enable_api:
            return self._error(403, "Dataset api access is not enabled.")
        return dataset

    async def _dataset_and_body(self, request: web.Request) -> tuple[_Dataset, dict[str, Any]] | web.Response:
        """The request's dataset and JSON object body, or the refusal of either."""
        dataset = self._dataset(request)
        if isinstance(dataset, web.Response):
            return dataset
        body = await _json_body(request)
        return (dataset, body) if isinstance(body, dict) else self._error(400, _BAD_JSON, "bad_request")

    def _document(self, request: web.Request) -> tuple[_Dataset, _Document] | web.Response:
        dataset = self._dataset(request)
        if isinstance(dataset, web.Response):
            return dataset
        document_id = request.match_info["document_id"]
        if not _is_uuid(document_id):
            return self._error(404, _FLASK_404)
        document = dataset.documents.get(document_id)
        return (dataset, document) if document is not None else self._error(404, "Document Not Exists.")

    def _check_settings(self, dataset: _Dataset, settings: Mapping[str, Any]) -> web.Response | None:
        technique = settings.get("indexing_technique")
        if technique not in (None, "high_quality", "economy"):
            return self._error(400, _literal_error("KnowledgeConfig", "indexing_technique", technique))
        if dataset.indexing_technique is None and technique is None:
            return self._error(400, "indexing_technique is required.")
        return None

    def _check_file(self, name: str, content: bytes) -> web.Response | None:
        if name.rsplit(".", 1)[-1].lower() not in _EXTENSIONS or "." not in name:
            return self._error(415, "File type not allowed.", "unsupported_file_type")
        if len(content) > _FILE_LIMIT:
            return self._error(413, "File size exceeded.", "file_too_large")
        return None

    def _check_available(self, document: _Document) -> web.Response | None:
        if document.display_status(time.time()) != "available":
            return self._error(400, "Document is not available")
        return None

    async def _upload(
        self, request: web.Request
    ) -> tuple[dict[str, Any], str | None, bytes, str] | web.Response:
        """A multipart create/update: its ``data`` settings and its ``file`` part (name None without one)."""
        settings: Any = {}
        name, content, mime_type = None, b"", "application/octet-stream"
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if part.name == "file" and part.filename is not None:
                    if not part.filename:
                        return self._error(
                            400, "The specified filename does not exist.", "filename_not_exists_error"
                        )
                    name, content = part.filename, bytes(await part.read())
                    mime_type = part.headers.get("Content-Type") or mime_type
                elif part.name == "data":
                    try:
                        settings = json.loads(await part.text())
                    except ValueError:
                        return self._error(500, "Internal Server Error", "unknown")
        if not isinstance(settings, dict):
            return self._error(400, _BAD_JSON, "bad_request")
        return settings, name, content, mime_type

    def _add(
        self, dataset: _Dataset, name: str, content: bytes, mime_type: str, settings: Mapping[str, Any]
    ) -> _Document:
        now = time.time()
        document = _Document(
            id=str(uuid.uuid4()),
            position=len(dataset.documents) + 1,
            name=name,
            batch=_batch_id(now),
            content=content,
            mime_type=mime_type,
            created_at=int(now),
            queued_at=now,
            wait=0.0,
            duration=self._duration(),
            outcome=self._outcome(name),
            doc_form=settings.get("doc_form") or "text_model",
        )
        if settings.get("indexing_technique") and dataset.indexing_technique is None:
            dataset.indexing_technique = settings["indexing_technique"]
        if settings.get("process_rule"):
            dataset.process_rule = settings["process_rule"]
        dataset.documents[document.id] = document
        return document

    def _reindex(
        self,
        dataset: _Dataset,
        document: _Document,
        name: str,
        content: bytes,
        mime_type: str,
        settings: Mapping[str, Any],
    ) -> None:
        """An update: new content, indexed anew after a wait, in the document's original batch."""
        document.previous_word_count = len(document.content)
        document.name, document.content, document.mime_type = name, content, mime_type
        document.queued_at, document.duration, document.outcome = (
            time.time(),
            self._duration(),
            self._outcome(name),
        )
        document.wait = document.duration / 3
        document.created_from = "web"
        document.upload_file_id, document.upload_created_at = str(uuid.uuid4()), time.time()
        if settings.get("process_rule"):
            dataset.process_rule = settings["process_rule"]

    def _duration(self) -> float:
        return float(self.emulator.settings["indexing_seconds"]) * float(
            self.emulator.settings["run_seconds_multiplier"]
        )

    def _outcome(self, name: str) -> str:
        outcomes: Mapping[str, str] = self.emulator.settings["indexing_outcomes"] or {}
        return next(
            (outcome for glob, outcome in outcomes.items() if fnmatch.fnmatchcase(name, glob)), "completed"
        )

    def _accepted(self, document: _Document) -> web.Response:
        return web.json_response({"document": _document_view(document, time.time()), "batch": document.batch})


def _dataset_view(dataset: _Dataset) -> dict[str, Any]:
    return {
        "id": dataset.id,
        "name": dataset.name,
        "description": dataset.description,
        "provider": "vendor",
        "permission": dataset.permission,
        "data_source_type": None,
        "indexing_technique": dataset.indexing_technique,
        "app_count": 0,
        "document_count": len(dataset.documents),
        "word_count": sum(len(d.content) for d in dataset.documents.values()),
        "created_by": _ACCOUNT_ID,
        "author_name": "admin",
        "created_at": dataset.created_at,
        "updated_by": _ACCOUNT_ID,
        "updated_at": dataset.created_at,
        "embedding_model": None,
        "embedding_model_provider": None,
        "embedding_available": None,
        "retrieval_model_dict": {
            "search_method": "semantic_search",
            "reranking_enable": False,
            "reranking_mode": None,
            "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
            "weights": None,
            "top_k": 2,
            "score_threshold_enabled": False,
            "score_threshold": None,
        },
        "summary_index_setting": {
            "enable": None,
            "model_name": None,
            "model_provider_name": None,
            "summary_prompt": None,
        },
        "tags": [],
        "doc_form": None,
        "external_knowledge_info": {
            "external_knowledge_id": None,
            "external_knowledge_api_id": None,
            "external_knowledge_api_name": None,
            "external_knowledge_api_endpoint": None,
        },
        "external_retrieval_model": {"top_k": 2, "score_threshold": 0.0, "score_threshold_enabled": None},
        "doc_metadata": [],
        "built_in_field_enabled": False,
        "pipeline_id": None,
        "runtime_mode": "general",
        "chunk_structure": None,
        "icon_info": {"icon_type": None, "icon": None, "icon_background": None, "icon_url": None},
        "is_published": False,
        "total_documents": len(dataset.documents),
        "total_available_documents": len(dataset.documents),
        "enable_api": dataset.enable_api,
        "is_multimodal": False,
    }


def _document_view(document: _Document, now: float) -> dict[str, Any]:
    stage = document.stage(now)
    completed = stage == "completed"
    return {
        "id": document.id,
        "position": document.position,
        "data_source_type": "upload_file",
        "data_source_info": {"upload_file_id": document.upload_file_id},
        "data_source_detail_dict": {
            "upload_file": {
                "id": document.upload_file_id,
                "name": document.name,
                "size": len(document.content),
                "extension": document.extension,
                "mime_type": document.mime_type,
                "created_by": _ACCOUNT_ID,
                "created_at": document.upload_created_at,
            }
        },
        "dataset_process_rule_id": str(uuid.uuid5(_NS, "rule:" + document.id)),
        "name": document.name,
        "created_from": document.created_from,
        "created_by": _ACCOUNT_ID,
        "created_at": document.created_at,
        "tokens": 0 if completed or document.previous_word_count is not None else None,
        "indexing_status": stage,
        "error": _error_text(document, now),
        "enabled": True,
        "disabled_at": None,
        "disabled_by": None,
        "archived": False,
        "display_status": document.display_status(now),
        "word_count": len(document.content) if completed else document.previous_word_count,
        "hit_count": 0,
        "doc_form": document.doc_form,
        "doc_metadata": None,
        "summary_index_status": None,
        "need_summary": False,
    }


def _detail_view(document: _Document, now: float) -> dict[str, Any]:
    """A document's detail: the whole upload-file object in ``data_source_info``, process rules and timings."""
    view = _document_view(document, now)
    upload = view.pop("data_source_detail_dict")
    del view["word_count"]  # the detail has none; it has segment_count and average_segment_length
    rule = {"mode": "automatic", "rules": {}}
    completed = view["indexing_status"] == "completed"
    segments = max(1, math.ceil(len(document.content) / 500))
    return {
        **view,
        "data_source_info": upload,
        "dataset_process_rule": rule,
        "document_process_rule": rule,
        "completed_at": document.moment(1.0, now) if completed else None,
        "updated_at": document.moment(1.0, now) or document.created_at,
        "indexing_latency": document.duration if completed else None,
        "doc_type": None,
        "segment_count": segments if completed else 0,
        "average_segment_length": len(document.content) // segments if completed else 0,
        "doc_language": "English",
    }


def _indexing_view(document: _Document, now: float) -> dict[str, Any]:
    """One entry of ``indexing-status``: a paused document says ``paused`` here, unlike in the list."""
    stage = document.stage(now)
    segments = max(1, math.ceil(len(document.content) / 500))
    return {
        "id": document.id,
        "indexing_status": "paused" if document.paused(now) else stage,
        "processing_started_at": document.moment(0.0, now),
        "parsing_completed_at": document.moment(1 / 3, now),
        "cleaning_completed_at": document.moment(2 / 3, now),
        "splitting_completed_at": document.moment(1.0, now),
        "completed_at": document.moment(1.0, now) if stage == "completed" else None,
        "paused_at": document.moment(0.5, now) if document.paused(now) else None,
        "error": _error_text(document, now),
        "stopped_at": document.moment(1.0, now) if stage == "error" else None,
        "completed_segments": segments if stage == "completed" else 0,
        "total_segments": segments,
    }


def _error_text(document: _Document, now: float) -> str | None:
    return document.outcome if document.stage(now) == "error" else None


def _batch_id(now: float) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + f"{random.randrange(10**6):06d}"


async def _json_body(request: web.Request) -> Any:
    """The JSON body; ``None`` when it does not parse (Flask answers 400 ``bad_request`` then)."""
    try:
        return json.loads(await request.text())
    except ValueError:
        return None


def _integer(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else default


def _short(value: Any) -> str:
    """pydantic's shortened ``input_value``: 25 characters, ``...``, the last 24."""
    text = repr(value)
    return text if len(text) <= 50 else f"{text[:25]}...{text[-24:]}"


def _missing(model: str, name: str, body: Any) -> str:
    return (
        f"1 validation error for {model}\n{name}\n  Field required [type=missing, input_value={_short(body)}, "
        f"input_type=dict]\n    For further information visit {_PYDANTIC}missing"
    )


def _literal_error(model: str, name: str, value: Any) -> str:
    return (
        f"1 validation error for {model}\n{name}\n  Input should be 'high_quality' or 'economy' "
        f"[type=literal_error, input_value={value!r}, input_type={type(value).__name__}]\n"
        f"    For further information visit {_PYDANTIC}literal_error"
    )


def _is_uuid(value: str) -> bool:
    """Flask's ``<uuid:...>`` route converter: anything else is its generic 404."""
    from airflow_workflow_providers.testing.dify import (
        _is_uuid as is_uuid,  # here: that module imports this one
    )

    return is_uuid(value)
