"""Downloading a file a platform points to (e.g. a signed output URL) through the transport's policies.

The file is streamed in chunks into a sink opened afresh for each attempt; transient failures (5xx,
429 with ``Retry-After``, a dropped or short body) are retried as every other request is, answers no
retry can change (403 for an expired signature, 404) are not. Only absolute http(s) URLs are fetched,
never with the connection's ``Authorization`` header (the signature is the credential and the key must
not travel to a storage host), and never beyond ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow_workflow_providers.core.errors import PermanentAPIError
from airflow_workflow_providers.core.model import Request, Response
from airflow_workflow_providers.core.retry import Attempts, Call, Done, TransportFault

if TYPE_CHECKING:
    from airflow_workflow_providers.core.transport import SyncTransport

#: bytes read and written at a time: big enough to be fast, small enough that a multi-gigabyte video never
#: sits in memory
DOWNLOAD_CHUNK = 1024 * 1024
#: the largest file downloaded unless a caller says otherwise (a platform's video is well under it)
DOWNLOAD_MAX_BYTES = 10 * 1024**3
#: the query string of a URL inside an error text: signed URLs carry their signature there
_QUERY = re.compile(r"\?[^\s'\")]*")

Opener = Callable[[], AbstractContextManager[IO[bytes]]]


def download(
    transport: SyncTransport, url: str, open_sink: Opener, *, max_bytes: int, chunk_size: int
) -> dict[str, Any]:
    """Stream ``url`` into ``open_sink()``; return ``{"size", "sha256"}`` of what was written.

    :raises PermanentAPIError: not an http(s) URL, larger than ``max_bytes``, or an answer no retry changes.
    :raises PlatformAPIError: the download kept failing after the policy's attempts.
    """
    api = transport.config.api
    shown = without_query(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PermanentAPIError(
            f"{api.name} gave a file URL that is not http(s), not fetched: {shown}", platform=api.name
        )
    call = Call(Request("GET", shown), lambda response: json.loads(response.body))
    attempts = Attempts(api, call, transport.config.policy, transport.log)
    while True:
        verdict = attempts.judge(_attempt(transport, url, open_sink, max_bytes, chunk_size))
        if isinstance(verdict, Done):
            return verdict.value
        time.sleep(verdict)


def _attempt(
    transport: SyncTransport, url: str, open_sink: Opener, max_bytes: int, chunk_size: int
) -> Response | TransportFault:
    """One GET: an error answer as a :class:`Response`, a fault, or success carrying the size and digest."""
    import requests

    from airflow_workflow_providers.core.transport import ca_bundle

    api = transport.config.api
    try:
        with transport.session.get(
            url, stream=True, timeout=transport.config.timeout, verify=ca_bundle()
        ) as answer:
            if not answer.ok:
                head = next(answer.iter_content(512), b"")
                return Response(answer.status_code, head, dict(answer.headers))
            announced = answer.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > max_bytes:
                raise _too_large(api.name, url, max_bytes, f"announces {announced} bytes")
            digest, size = hashlib.sha256(), 0
            with open_sink() as sink:
                for chunk in answer.iter_content(chunk_size=chunk_size):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(api.name, url, max_bytes, f"went past {max_bytes} bytes")
                    sink.write(chunk)
                    digest.update(chunk)
            # A connection cut short can end the body "cleanly"; the announced length tells (unless compressed).
            if announced.isdigit() and int(announced) != size and not answer.headers.get("Content-Encoding"):
                return TransportFault(f"the body ended after {size} of {announced} bytes", reached=True)
            return Response(200, json.dumps({"size": size, "sha256": digest.hexdigest()}).encode())
    except requests.RequestException as exc:
        return TransportFault(f"{type(exc).__name__}: {_QUERY.sub('?...', str(exc))}", reached=True)


def _too_large(platform: str, url: str, max_bytes: int, detail: str) -> PermanentAPIError:
    return PermanentAPIError(
        f"{platform} file {without_query(url)} {detail}; the limit is {max_bytes} bytes (max_bytes), not downloaded",
        platform=platform,
    )


def without_query(url: str) -> str:
    """A URL without its query string: signed URLs carry their signature there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) if parts.query else url
