"""Hook for Flowy apps."""

from __future__ import annotations

import hashlib
import os
import re
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow_workflow_providers.core.errors import InputValidationError, PlatformAPIError
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.flowy.api import NAME, FlowyAPI, input_problems

if TYPE_CHECKING:
    import requests

#: bytes read and written at a time when downloading an output: big enough to be fast, small enough
#: that a multi-gigabyte video never sits in memory
DOWNLOAD_CHUNK = 1024 * 1024

_QUERY = re.compile(r"\?[^\s'\")]*")


class FlowyHook(WorkflowHook):
    """Flowy's apps API for one workspace.

    Connection (type ``flowy``): host = base URL (default
    ``https://apis.tryflowy.ai/genstudio-svc-v2/api/v1``), password = a secret API key
    (``flw_sk_...``; browser keys ``flowy_pk_...`` are not for servers).

    Besides the run operations of every hook (``start_run(app_id=..., inputs=...)``, ``get_run``,
    ``wait_for_run`` and their async forms; ``cancel_run`` returns ``False``: Flowy cannot stop a run)
    it lists and reads apps, checks inputs and downloads output files.
    """

    api_class = FlowyAPI
    api: FlowyAPI
    default_conn_name = "flowy_default"
    conn_type = "flowy"
    hook_name = "Flowy"

    def list_apps(self) -> list[dict[str, Any]]:
        """``GET /apps``: ``[{"id", "slug", "title", "description", "published", "runCount", ...}]``."""
        return self.transport.call(self.api.apps())

    def get_app(self, app_id: str) -> dict[str, Any]:
        """``GET /apps/{app_id}``: the app with its declared ``inputs`` and ``outputs``."""
        return self.transport.call(self.api.app(app_id))

    def check_inputs(self, app_id: str, inputs: Any) -> None:
        """Raise :class:`InputValidationError` naming every input the app would reject."""
        problems = input_problems(self.get_app(app_id), inputs)
        if problems:
            raise InputValidationError(
                f"Flowy inputs for app {app_id} rejected before starting (connection {self.conn_id!r}): "
                + "; ".join(problems)
            )

    def download(self, url: str, target: Any, *, chunk_size: int = DOWNLOAD_CHUNK) -> dict[str, Any]:
        """Stream ``url`` into ``target`` chunk by chunk; return ``{"size", "sha256"}`` of what was written.

        :param url: an absolute URL, typically a signed output URL. It is fetched as is, without the
            connection's ``Authorization`` header: the signature is the credential, and the key must
            not travel to a storage host.
        :param target: a binary file object, or a path (``str``, ``os.PathLike``, ``pathlib.Path`` or
            ``airflow.sdk.ObjectStoragePath``, so ``s3://`` and friends work). A path whose download
            fails is removed, so a half-written file never looks complete.
        :raises PlatformAPIError: the download failed (HTTP error or network fault); the message shows
            the URL without its query string, which holds the signature.
        """
        import requests  # here, not at module level: DAG files import this module at parse time

        shown = _without_query(url)
        try:
            with requests.get(url, stream=True, timeout=self.timeout) as answer:
                if not answer.ok:
                    raise PlatformAPIError(
                        f"Download of {shown} failed: HTTP {answer.status_code}: {_excerpt(answer)}",
                        platform=NAME, status_code=answer.status_code,
                    )
                if hasattr(target, "write"):
                    return _copy(answer, target, chunk_size)
                path = _as_path(target)
                try:
                    with path.open("wb") as sink:
                        return _copy(answer, sink, chunk_size)
                except BaseException:
                    _remove(path)
                    raise
        except requests.RequestException as exc:
            detail = _QUERY.sub("?...", str(exc))
            message = f"Download of {shown} failed: {type(exc).__name__}: {detail}"
            raise PlatformAPIError(message, platform=NAME) from exc


def _copy(answer: requests.Response, sink: IO[bytes], chunk_size: int) -> dict[str, Any]:
    import requests

    digest, size = hashlib.sha256(), 0
    for chunk in answer.iter_content(chunk_size=chunk_size):
        sink.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    # A connection cut short can end the body "cleanly"; the announced length tells (unless compressed).
    expected = answer.headers.get("Content-Length", "")
    if expected.isdigit() and int(expected) != size and not answer.headers.get("Content-Encoding"):
        raise requests.ConnectionError(f"the body ended after {size} of {expected} bytes")
    return {"size": size, "sha256": digest.hexdigest()}


def _excerpt(answer: requests.Response, limit: int = 200) -> str:
    """The start of an error body, without reading a large one whole."""
    head = next(answer.iter_content(limit), b"")
    return " ".join(head.decode("utf-8", errors="replace").split())


def _as_path(target: Any) -> Any:
    """A path object with ``open``: ``pathlib.Path``/``ObjectStoragePath`` as is, a string as an
    ``ObjectStoragePath`` (so ``s3://bucket/key`` works)."""
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


def _without_query(url: str) -> str:
    """A URL without its query string: signed URLs carry their signature there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) if parts.query else url
