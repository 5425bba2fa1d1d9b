"""Read the recorded Dify 1.14.1 session straight from ../shared (never copied into the repo)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RECORDING = SHARED / "recordings" / "dify-1.14.1-service-api.md"
#: the second session: chatflows, human input, the events endpoint, knowledge bases, the concurrency limit
SECOND_RECORDING = SHARED / "recordings" / "dify-1.14.1-chatflow-knowledge-human-input.md"
CHAT_RECORDING = SECOND_RECORDING
OPENAPI = SHARED / "specs" / "dify-service-api.openapi.json"


@dataclass(frozen=True)
class Exchange:
    title: str
    status: int
    body: object = None
    sse: bytes = b""


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference file not found at {path} (CI always has ../shared)")
    return path


def exchanges(recording: Path = RECORDING) -> list[Exchange]:
    """Every recorded response with its heading, HTTP status and JSON body or raw SSE bytes."""
    lines = _require(recording).read_text().splitlines()
    found, title, status, i = [], "", None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            title, status = line[4:].strip(), None
        elif match := re.match(r"Response: \*\*HTTP (\d+)\*\*", line):
            status = int(match.group(1))
        elif line.startswith("```") and status is not None:
            end = lines.index("```", i + 1)
            block = lines[i + 1 : end]
            if line == "```json":
                found.append(Exchange(title, status, body=json.loads("\n".join(block))))
            elif block and block[0].startswith("["):
                raw = [re.sub(r"^\[\s*[\d.]+\] ", "", b) for b in block]
                sse = "\n".join("" if r == "<blank>" else r for r in raw) + "\n"
                found.append(Exchange(title, status, sse=sse.encode()))
            i, status = end, None
        i += 1
    return found


def find(title_part: str, status: int | None = None, recording: Path = RECORDING) -> list[Exchange]:
    matches = [
        e for e in exchanges(recording) if title_part in e.title and (status is None or e.status == status)
    ]
    assert matches, f"no recorded exchange titled like {title_part!r}"
    return matches


def streamed_starts() -> list:
    """Recorded streaming starts as pytest params, or one skipped param saying the recording is missing."""
    if not RECORDING.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"reference file not found at {RECORDING}"))]
    return [pytest.param(e.sse, id=e.title[:40]) for e in find("POST /workflows/run") if e.sse]


def openapi() -> dict:
    return json.loads(_require(OPENAPI).read_text())
