"""Where a batch keeps its progress: immutable checkpoint objects next to the output.

Layout, for ``output_path`` ``.../results.jsonl``::

    .../results.jsonl.batch/specs.jsonl      the items' start arguments (spilled by the worker), one line each
    .../results.jsonl.batch/meta.json        {"fingerprint", "total", "started_at"}
    .../results.jsonl.batch/journal/g<generation>-<seq>-<writer>.jsonl   journal segments

Object stores cannot append, so the journal is a series of segments, each written whole once and never
changed: records ``{"i", "e": "intent"|"void"|"run"|"done", ...}`` read back in name order. Every engine
(a try, a resumed trigger) writes under a new generation; a writer folds its small segments into one
from time to time (a crash in between leaves duplicates, which replay harmlessly: "done" is final,
the rest is last-wins). The output file is assembled from the "done" records when the batch ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_workflow_providers.core.batch.items import as_path, text_lines
from airflow_workflow_providers.core.errors import ConfigurationError

PENDING, INTENT, STARTED, DONE = 0, 1, 2, 3
#: result fields that are not usage figures
RESULT_FIELDS = frozenset({"index", "id", "run_id", "status", "outputs", "error"})
#: small segments a writer folds into one
COMPACT_EVERY = 256


class BatchStore:
    """The output and the batch's state objects, through ``ObjectStoragePath`` (synchronous I/O)."""

    def __init__(self, output_path: Any) -> None:
        #: the output as the user gave it (an ``s3://conn_id@bucket/...`` URI keeps its connection)
        self.location = str(output_path)
        self.output = as_path(output_path)
        self.root = self.output.parent / f"{self.output.name}.batch"
        self.specs = self.root / "specs.jsonl"
        self.meta = self.root / "meta.json"
        self.journal = self.root / "journal"

    # -- specs (written by the worker's pre-flight, read by the engine) -------------------------------
    def write_specs(self, lines: Iterable[dict[str, Any]]) -> tuple[int, str]:
        """Write the spec lines and an end marker; return (count, fingerprint)."""
        self.journal.mkdir(parents=True, exist_ok=True)
        digest, count = hashlib.sha256(), 0
        with self.specs.open("w", encoding="utf-8") as sink:
            for line in lines:
                text = json.dumps(line, separators=(",", ":"), sort_keys=True)
                digest.update(text.encode())
                sink.write(text + "\n")
                count += 1
            sink.write(json.dumps({"end": count}) + "\n")
        return count, digest.hexdigest()

    def iter_specs(self) -> Iterator[dict[str, Any]]:
        """The spec lines in order; raise if the file lacks its end marker (a pre-flight cut short)."""
        with self.specs.open("r", encoding="utf-8") as source:
            for text in text_lines(source):
                line = json.loads(text)
                if "end" in line:
                    return
                yield line
        raise ConfigurationError(f"The batch's spec file {self.specs} is incomplete (no end marker)")

    def check_meta(self, total: int, fingerprint: str) -> dict[str, Any]:
        """Record what this batch is the first time; refuse a state directory left by other items."""
        if self.meta.exists():
            meta = json.loads(self.meta.read_text())
            if meta.get("fingerprint") != fingerprint:
                raise ConfigurationError(
                    f"{self.root} holds the progress of a batch of other items (or other arguments); use another "
                    "output_path, or delete that directory to start this batch afresh."
                )
            return meta
        meta = {"fingerprint": fingerprint, "total": total, "started_at": time.time()}
        self.meta.write_text(json.dumps(meta))
        return meta

    def started_at(self) -> float:
        return float(json.loads(self.meta.read_text())["started_at"])

    # -- journal ------------------------------------------------------------------------------------
    def segments(self) -> list[Any]:
        if not self.journal.exists():
            return []
        return sorted((p for p in self.journal.iterdir() if p.name.endswith(".jsonl")), key=lambda p: p.name)

    def records(self) -> Iterator[dict[str, Any]]:
        for segment in self.segments():
            for text in segment.read_text(encoding="utf-8").splitlines():
                if text:
                    yield json.loads(text)

    def load(self, total: int) -> BatchState:
        state = BatchState(total)
        for record in self.records():
            state.apply(record)
        return state

    def next_generation(self) -> int:
        names = [p.name for p in self.segments()]
        return 1 + max((int(name[1:7]) for name in names if name.startswith("g")), default=0)

    def write_segment(self, name: str, records: list[dict[str, Any]]) -> None:
        self.journal.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records)
        (self.journal / name).write_text(text, encoding="utf-8")

    def remove_segments(self, names: Iterable[str]) -> None:
        for name in names:
            (self.journal / name).unlink()

    # -- the output ---------------------------------------------------------------------------------
    def assemble(self) -> dict[str, Any]:
        """Write the output file from the journal's results, one line per finished item, in the order
        they finished; return ``{"succeeded", "failed", "usage"}``."""
        seen: set[int] = set()
        tally = Tally()
        with self.output.open("w", encoding="utf-8") as sink:
            for record in self.records():
                if record.get("e") != "done" or record["i"] in seen:
                    continue
                seen.add(record["i"])
                tally.add(record["r"])
                sink.write(json.dumps(record["r"], default=str) + "\n")
        return tally.to_json()


@dataclass
class Tally:
    succeeded: int = 0
    failed: int = 0
    usage: dict[str, float] = field(default_factory=dict)

    def add(self, result: dict[str, Any]) -> None:
        if result.get("status") == "succeeded":
            self.succeeded += 1
        else:
            self.failed += 1
        for name, value in result.items():
            if name not in RESULT_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.usage[name] = self.usage.get(name, 0) + value

    def to_json(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "failed": self.failed, "usage": dict(self.usage)}


class BatchState:
    """Each item's stage as the journal tells it, and the results tallied so far."""

    def __init__(self, total: int) -> None:
        self.stage = bytearray(total)
        self.refs: dict[int, dict[str, Any]] = {}
        self.intents: dict[int, float] = {}
        self.tally = Tally()

    def apply(self, record: dict[str, Any]) -> None:
        index, event = record["i"], record["e"]
        if index >= len(self.stage) or self.stage[index] == DONE:
            return
        self.refs.pop(index, None)
        self.intents.pop(index, None)
        if event == "intent":
            self.stage[index], self.intents[index] = INTENT, float(record["t"])
        elif event == "run":
            self.stage[index], self.refs[index] = STARTED, record["run"]
        elif event == "done":
            self.stage[index] = DONE
            self.tally.add(record["r"])
        else:  # "void": the start was refused before anything ran
            self.stage[index] = PENDING

    @property
    def done(self) -> int:
        return self.stage.count(DONE)


def segment_name(generation: int, seq: int, writer: str) -> str:
    """A segment's name: segments sort in the order they were written (generation, then sequence)."""
    return f"g{generation:06d}-{seq:08d}-{writer}.jsonl"


class JournalWriter:
    """Writes journal records in segments: :meth:`commit` returns once its records are stored (group
    commit: records of concurrent callers share one segment), :meth:`add` leaves them for the next write."""

    def __init__(self, store: BatchStore, generation: int) -> None:
        self.store = store
        self.generation = generation
        self.writer = secrets.token_hex(3)
        self.seq = 0
        self.pending: list[dict[str, Any]] = []
        self.appended = 0
        self.flushed = 0
        self.lock = asyncio.Lock()
        self.unfolded: list[tuple[str, list[dict[str, Any]]]] = []

    def add(self, *records: dict[str, Any]) -> None:
        self.pending.extend(records)
        self.appended += len(records)

    async def commit(self, *records: dict[str, Any]) -> None:
        self.add(*records)
        await self.flush()

    async def flush(self) -> None:
        """Store every record added so far. Shielded: a caller cancelled meanwhile (the engine ending
        cancels its helpers and items) leaves the write to finish under the lock, so the next flush, and
        whoever reads the journal after it, sees those records stored, never taken from ``pending`` and
        still being written."""
        await asyncio.shield(self._write_pending(self.appended))

    async def _write_pending(self, mark: int) -> None:
        async with self.lock:
            if self.flushed >= mark or not self.pending:
                return
            records, self.pending = self.pending, []
            self.seq += 1
            name = segment_name(self.generation, self.seq, self.writer)
            await asyncio.to_thread(self.store.write_segment, name, records)
            self.flushed += len(records)
            self.unfolded.append((name, records))
            if len(self.unfolded) >= COMPACT_EVERY:
                await self._fold()

    async def _fold(self) -> None:
        """Replace the small segments written since the last fold by one (named to sort in their place)."""
        names = [name for name, _ in self.unfolded]
        records = [record for _, part in self.unfolded for record in part]
        folded = names[-1].replace(f"-{self.writer}", f"c-{self.writer}")
        await asyncio.to_thread(self.store.write_segment, folded, records)
        await asyncio.to_thread(self.store.remove_segments, names)
        self.unfolded = []
