"""Keeping a run's file outputs before their signed URLs expire: one engine feature for every platform.

A platform's description lists the files among a run's outputs (``PlatformAPI.file_outputs``); an
operator that takes :class:`FileOutputsMixin` gains ``output_dir`` and, right after the run ends, copies
each file to ``<output_dir>/<run_id>/<key><suffix>`` through the hook's transport (http(s) only, retried,
never with the API key) and puts ``location``, ``size`` and ``sha256`` next to the file's URL in the result.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from airflow_workflow_providers.core.download import DOWNLOAD_CHUNK, DOWNLOAD_MAX_BYTES
from airflow_workflow_providers.core.errors import ConfigurationError, PlatformAPIError
from airflow_workflow_providers.core.model import Log, OutputFile, Run

if TYPE_CHECKING:
    import logging

    from airflow_workflow_providers.core.hook import WorkflowHook
    from airflow_workflow_providers.core.transport import SyncTransport

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download(
    transport: SyncTransport,
    url: str,
    target: Any,
    *,
    chunk_size: int = DOWNLOAD_CHUNK,
    max_bytes: int = DOWNLOAD_MAX_BYTES,
) -> dict[str, Any]:
    """Stream ``url`` into ``target``: a binary file object, or a path (``str``, ``os.PathLike``, ``Path``,
    ``ObjectStoragePath`` -- so ``s3://`` and friends work). A path whose download fails is removed, so a
    half-written file never looks complete."""
    if hasattr(target, "write"):
        return transport.download(url, _rewinding(target), chunk_size=chunk_size, max_bytes=max_bytes)
    path = _as_path(target)
    try:
        return transport.download(url, lambda: path.open("wb"), chunk_size=chunk_size, max_bytes=max_bytes)
    except BaseException:
        _remove(path)
        raise


def output_root(output_dir: Any, task_id: str) -> Any:
    """``output_dir`` as an ``ObjectStoragePath``; a wrong one is a :class:`ConfigurationError`."""
    from airflow.sdk import ObjectStoragePath

    try:
        root = ObjectStoragePath(str(output_dir))
        # resolve the filesystem now: universal_pathlib < 0.3 (Airflow 3.0) waits for the first write
        root.fs  # noqa: B018
        return root
    except Exception as exc:
        raise ConfigurationError(
            f"output_dir {output_dir!r} of task {task_id!r} is not a usable path or storage URL: {exc}"
        ) from exc


def store_outputs(hook: WorkflowHook, run: Run, root: Any, log: Log) -> Any:
    """Copy each file output of ``run`` under ``root/<run_id>/``; return the outputs with each file's
    ``location``, ``size`` and ``sha256`` beside its URL."""
    files = hook.api.file_outputs(run, hook.transport.config.base_url)
    outputs = copy.deepcopy(run.outputs)
    if not files:
        return outputs
    directory = root / _UNSAFE.sub("_", run.run_id)
    for file in files:
        location = directory / f"{_UNSAFE.sub('_', file.key)}{_safe_suffix(file.suffix)}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            stored = download(hook.transport, file.url, location)
        except Exception as exc:  # network, HTTP or storage: all mean the output was not kept
            raise PlatformAPIError(
                f"{hook.api.name} run {run.run_id} completed, but its output {file.key!r} could not be stored at "
                f"{location}: {exc}",
                platform=hook.api.name,
                run_id=run.run_id,
            ) from exc
        _place(outputs, file, {"location": str(location), **stored})
        log.info(
            "Stored output %r of %s run %s at %s (%d bytes, sha256 %s).",
            file.key,
            hook.api.name,
            run.run_id,
            location,
            stored["size"],
            stored["sha256"],
        )
    return outputs


class FileOutputsMixin:
    """Gives a run operator ``output_dir``: where to copy the run's file outputs right after it ends.

    :param output_dir: a local path or any ``ObjectStoragePath`` URL (``file://``, ``s3://bucket/prefix``...);
        list ``"output_dir"`` in the operator's ``template_fields``. Each file is stored as
        ``<output_dir>/<run_id>/<output><extension>``, streamed in chunks, and the result's outputs carry
        ``location``, ``size`` and ``sha256`` next to its URL. A usable ``output_dir`` is checked before
        anything is submitted; a failed copy fails the task (a retry re-attaches to the run where the
        engine can, and copies from fresh URLs).
    """

    hook: WorkflowHook
    task_id: str
    log: logging.Logger

    def __init__(self, *, output_dir: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_dir = output_dir

    def execute(self, context: Any) -> Any:
        if self.output_dir:
            output_root(
                self.output_dir, self.task_id
            )  # a wrong storage URL must fail before credits are spent
        return super().execute(context)  # type: ignore[misc]

    def completed(self, run: Run) -> dict[str, Any]:
        result = super().completed(run)  # type: ignore[misc]
        if self.output_dir:
            result["outputs"] = store_outputs(
                self.hook, run, output_root(self.output_dir, self.task_id), self.log
            )
        return result


def _place(outputs: Any, file: OutputFile, stored: dict[str, Any]) -> None:
    """Merge ``stored`` into the file's object inside ``outputs``."""
    target = outputs
    for step in file.at:
        target = target[step]
    target.update(stored)


def _safe_suffix(suffix: str) -> str:
    return suffix if suffix.startswith(".") and len(suffix) <= 10 and not _UNSAFE.search(suffix) else ""


@contextlib.contextmanager
def _kept_open(sink: IO[bytes]) -> Iterator[IO[bytes]]:
    yield sink


def _rewinding(sink: IO[bytes]) -> Any:
    """Sinks for a caller's file object: each attempt starts over where the first one started."""
    seekable = getattr(sink, "seekable", None)
    start = sink.tell() if seekable is not None and seekable() else None
    attempts = 0

    def open_sink() -> contextlib.AbstractContextManager[IO[bytes]]:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            if start is None:
                raise OSError("the download failed part-way and the target file object cannot be rewound")
            sink.seek(start)
            sink.truncate()
        return _kept_open(sink)

    return open_sink


def _as_path(target: Any) -> Any:
    """A path object with ``open``: ``Path``/``ObjectStoragePath`` as is, a string as an ``ObjectStoragePath``."""
    if hasattr(target, "open"):
        return target
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(os.fspath(target))


def _remove(path: Any) -> None:
    try:
        if path.exists():
            path.unlink()
    except Exception:  # best effort: the download's own error is the one to report
        pass
