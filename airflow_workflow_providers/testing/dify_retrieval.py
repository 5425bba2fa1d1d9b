"""The Dify emulator's dataset retrieval (``POST /datasets/{id}/retrieve``, alias ``/hit-testing``).

It follows ``shared/recordings/dify-1.14.1-chatflow-knowledge-human-input.md`` (section 4), a server
without a vector database: only ``retrieval_model.search_method: "keyword_search"`` answers. Any other
method -- and a request with only a query, which takes the dataset's default ``semantic_search``, even
on an economy dataset -- answers 400 ``invalid_param`` "Connection refused…"; a missing query answers
pydantic's dump. Records carry ``score`` 0.0 and a ``segment.document`` whose fields are all null.

Segments: the paragraphs (blank-line separated) of each available document, markdown heading marks
dropped. Keywords: a segment's words outside a small stop list, matched case-sensitively. The
``top_k`` segments with the most query keywords are returned in storage order (document, position).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_NS = uuid.UUID("7c0a4f2e-1b6d-4e8a-9c3f-5d2e8b1a6f04")
_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP = frozenset(
    "a an and are as at be but by for from has have how in is it its of on once or that the their this to "
    "was were when where which while who will with".split()
)
NO_VECTOR_STORE = (
    "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n"
)


@dataclass(frozen=True)
class Segment:
    document_id: str
    position: int
    content: str

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NS, f"segment:{self.document_id}:{self.position}"))

    @property
    def keywords(self) -> list[str]:
        return list(dict.fromkeys(w for w in _WORD.findall(self.content) if w.lower() not in _STOP))


def segments(document_id: str, text: str, markdown: bool) -> Iterator[Segment]:
    """A document's segments: its paragraphs, without markdown heading marks."""
    if markdown:
        text = re.sub(r"^#+\s*", "", text, flags=re.M)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    for position, paragraph in enumerate(paragraphs, start=1):
        yield Segment(document_id, position, paragraph)


def search_problem(body: Mapping[str, Any]) -> str | None:
    """Why a server without a vector database cannot answer this search (its 400 message), if so."""
    model = body.get("retrieval_model")
    method = model.get("search_method") if isinstance(model, Mapping) else None
    return None if method == "keyword_search" else NO_VECTOR_STORE


def keyword_search(query: str, found: list[Segment], top_k: int) -> list[Segment]:
    """The ``top_k`` segments sharing the most keywords with the query, in storage order."""
    wanted = set(_WORD.findall(query))
    counts = {segment: len(wanted & set(segment.keywords)) for segment in found}
    best = sorted((s for s in found if counts[s]), key=lambda s: -counts[s])[:top_k]
    return [segment for segment in found if segment in best]


def record(segment: Segment, account_id: str, completed_at: int | None) -> dict[str, Any]:
    """One ``records`` item of a retrieval."""
    return {
        "segment": {
            "id": segment.id,
            "position": segment.position,
            "document_id": segment.document_id,
            "content": segment.content,
            "sign_content": None,
            "answer": None,
            "word_count": len(segment.content),
            "tokens": 0,
            "keywords": segment.keywords,
            "index_node_id": str(uuid.uuid5(_NS, "index-node:" + segment.id)),
            "index_node_hash": hashlib.sha256(segment.content.encode()).hexdigest(),
            "hit_count": 0,
            "enabled": True,
            "disabled_at": None,
            "disabled_by": None,
            "status": "completed",
            "created_by": account_id,
            "created_at": None,
            "indexing_at": completed_at,
            "completed_at": completed_at,
            "error": None,
            "stopped_at": None,
            "document": dict.fromkeys(("id", "data_source_type", "name", "doc_type", "doc_metadata")),
        },
        "child_chunks": [],
        "score": 0.0,
        "tsne_position": None,
        "files": [],
        "summary": None,
    }
