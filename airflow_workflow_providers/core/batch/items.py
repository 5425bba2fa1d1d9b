"""A batch's items: a list of dicts, or a JSONL/CSV file (any ``ObjectStoragePath``), read one at a time."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.core.errors import InputValidationError


@dataclass(frozen=True, slots=True)
class Item:
    """One item: its 0-based position, the id shown in its result, its workflow inputs."""

    index: int
    id: Any
    inputs: Any


class BadItemsError(InputValidationError):
    """The items cannot be read: the message names the file and the line."""


def read_items(items: Any, *, inputs_field: str | None = None, id_field: str | None = None) -> Iterator[Item]:
    """Yield the items of a list, or of a ``.csv`` / JSONL file given by path or URI, in order.

    An item's inputs are its JSON object (CSV row) without ``id_field``, or its ``inputs_field``. A CSV
    ``inputs_field`` column holds a JSON object. Blank JSONL lines are skipped.
    """
    if isinstance(items, (list, tuple)):
        rows: Iterator[tuple[int, Any]] = enumerate(items, start=1)
        yield from _items(rows, "items", "item", inputs_field, id_field, csv_file=False)
        return
    if not isinstance(items, (str,)) and not hasattr(items, "open"):
        raise BadItemsError(
            f"items must be a list of dicts or the path of a JSONL or CSV file, got {type(items).__name__}"
        )
    path = as_path(items)
    is_csv = str(path).lower().endswith(".csv")
    try:
        with path.open("r", encoding="utf-8", newline="" if is_csv else None) as source:
            rows = (
                _csv_rows(source, str(path), (inputs_field, id_field))
                if is_csv
                else _jsonl_rows(source, str(path))
            )
            yield from _items(rows, str(path), "line", inputs_field, id_field, csv_file=is_csv)
    except BadItemsError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadItemsError(f"Cannot read the items file {path}: {type(exc).__name__}: {exc}") from exc


def as_path(location: Any) -> Any:
    """An ``ObjectStoragePath`` for a path or URI (``file://``, ``s3://``...); a path object as it is."""
    if hasattr(location, "open") and hasattr(location, "parent"):
        return location
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(str(location))


def text_lines(source: Any) -> Iterator[str]:
    """The lines of an open text file, read one at a time. ``readline`` rather than iterating the file:
    Airflow 3.0's ``ObjectStoragePath.open`` hands back a wrapper that cannot be iterated."""
    return iter(source.readline, "")


def _jsonl_rows(source: Any, name: str) -> Iterator[tuple[int, Any]]:
    for line_number, line in enumerate(text_lines(source), start=1):
        if not line.strip():
            continue
        try:
            yield line_number, json.loads(line)
        except ValueError as exc:
            raise BadItemsError(
                f"{name} line {line_number}: not valid JSON ({exc}): {line.strip()[:120]}"
            ) from exc


def _csv_rows(source: Any, name: str, needed: tuple[str | None, ...]) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(text_lines(source))
    columns = reader.fieldnames or []
    missing = [column for column in needed if column and column not in columns]
    if missing:
        raise BadItemsError(f"{name} line 1: the CSV header {columns} has no column {missing[0]!r}")
    for row in reader:
        if None in row:
            raise BadItemsError(
                f"{name} line {reader.line_num}: more values than the header's {len(columns)} columns"
            )
        yield reader.line_num, row


def _items(
    rows: Iterator[tuple[int, Any]],
    name: str,
    unit: str,
    inputs_field: str | None,
    id_field: str | None,
    *,
    csv_file: bool,
) -> Iterator[Item]:
    for index, (line_number, row) in enumerate(rows):
        where = f"{name} {unit} {line_number}"
        if not isinstance(row, Mapping):
            raise BadItemsError(f"{where}: an item must be a JSON object, got {json.dumps(row)[:120]}")
        if id_field and id_field not in row:
            raise BadItemsError(f"{where}: no {id_field!r} field (id_field)")
        if inputs_field is None:
            inputs: Any = {k: v for k, v in row.items() if k != id_field}
        elif inputs_field not in row:
            raise BadItemsError(f"{where}: no {inputs_field!r} field (inputs_field)")
        else:
            inputs = row[inputs_field]
            if csv_file:
                try:
                    inputs = json.loads(inputs)
                except ValueError as exc:
                    raise BadItemsError(
                        f"{where}: column {inputs_field!r} is not a JSON object ({exc})"
                    ) from exc
        yield Item(index, row[id_field] if id_field else index, inputs)
