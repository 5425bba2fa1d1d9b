"""Secret scan: where, in a deployment's AIRFLOW_HOME and metadata database, any of some strings appear.

Every regular file under the home is read as bytes (logs, the SQLite file and its journal, component
logs); symlinks are not followed (the dags folder links to the repository). The database is read
once more as an SQL dump, so a value split across storage pages, or kept by a server outside the
home (PostgreSQL), is still seen whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def find_secrets(home: Path, secrets: Iterable[str], database_dump: str = "") -> list[str]:
    """``"<where>: <secret prefix>…"`` for every place a secret appears; empty when none does."""
    needles = {secret: secret.encode() for secret in secrets if secret}
    hits: list[str] = []
    for root, dirs, files in os.walk(home, followlinks=False):
        for name in files:
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                content = path.read_bytes()
            except OSError:
                continue  # e.g. a socket or a file removed meanwhile
            for secret, needle in needles.items():
                if needle in content:
                    hits.append(
                        f"{path.relative_to(home)}: {_masked(secret)} at byte {content.index(needle)}"
                    )
    for secret in needles:
        for line in database_dump.splitlines():
            if secret in line:
                where = line.index(secret)
                hits.append(
                    f"database dump: {_masked(secret)} in {line[max(0, where - 120) : where].strip()!r}"
                )
                break
    return hits


def _masked(secret: str) -> str:
    return secret[:6] + "…"
