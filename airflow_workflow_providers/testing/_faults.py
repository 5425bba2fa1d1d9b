"""Fault rules: injected misbehaviour applied before an emulator's normal handling.

A rule matches a method (``"*"`` for any) and a regular expression that must match the whole request
path relative to the API base (``/workflows/run``, ``/task/\\d+``). Each rule applies to its next
``times`` matching requests; rules are consulted in the order they were added.
"""

from __future__ import annotations

import asyncio
import http
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

FAULT_KINDS = ("status", "html", "drop", "slow", "malformed")


def request_key(name: str, kind: type) -> Any:
    """A typed request-storage key; the plain name on aiohttp < 3.13 (which Airflow 3.0 and 3.1 resolve)."""
    return web.RequestKey(name, kind) if hasattr(web, "RequestKey") else name


DROP_STREAM = request_key("emulator_drop_stream", int)
"""Request key set while a ``drop`` fault lets a streaming handler run: the stream cuts itself short."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, str, "str | None"], web.Response]


@dataclass
class Fault:
    """One injected fault rule (see the module docstring for matching)."""

    kind: str
    path: str
    method: str = "*"
    times: int = 1
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    after_processing: bool = True
    #: for a dropped stream, how many chunks get through before the cut
    chunks: int = 2
    applied: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.times < 1:
            raise ValueError("times must be at least 1")
        re.compile(self.path)
        self.method = self.method.upper()

    @property
    def remaining(self) -> int:
        return self.times - self.applied

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.method in ("*", method.upper())
            and re.fullmatch(self.path, path) is not None
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "remaining": self.remaining}


class FaultBook:
    """The active fault rules of one emulator."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []

    def add(self, data: dict[str, Any]) -> Fault:
        fault = Fault(**data)
        self.rules.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first rule matching this request, counted as applied once more."""
        for fault in self.rules:
            if fault.matches(method, path):
                fault.applied += 1
                return fault
        return None

    def to_json(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self.rules]


def html_page(status: int) -> web.Response:
    """The HTML error page a reverse proxy answers with (nginx style)."""
    title = f"{status} {http.HTTPStatus(status).phrase}"
    body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    return web.Response(
        status=status,
        text=body + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        content_type="text/html",
    )


async def apply_fault(
    fault: Fault, request: web.Request, handle: Handler, error: ErrorBody
) -> web.StreamResponse:
    """Answer ``request`` as ``fault`` dictates; ``handle`` is the normal handling."""
    if fault.kind == "slow":
        await asyncio.sleep(fault.seconds)
        return await handle(request)
    if fault.kind == "html":
        return html_page(fault.status or 502)
    if fault.kind == "status":
        status = fault.status or 500
        response = error(status, fault.message or http.HTTPStatus(status).phrase, fault.code)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response
    if fault.kind == "malformed":
        body = (
            await _processed_body(request, handle) if fault.after_processing else b'{"status": "running", "id'
        )
        return web.Response(status=200, body=body[: max(1, len(body) // 2)], content_type="application/json")
    return await _drop(fault, request, handle)


async def _processed_body(request: web.Request, handle: Handler) -> bytes:
    response = await handle(request)
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return response.body
    return b'{"data": {"id": "'


async def _drop(fault: Fault, request: web.Request, handle: Handler) -> web.StreamResponse:
    """Abort the connection: before answering, or after processing in the middle of the answer."""
    if not fault.after_processing:
        _abort(request)
        return web.Response(status=500)
    request[DROP_STREAM] = fault.chunks
    response = await handle(request)
    if response.prepared or not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        _abort(request)
        return response
    body = response.body
    partial = web.StreamResponse(status=response.status, headers=response.headers)
    partial.content_length = len(body)
    await partial.prepare(request)
    await partial.write(body[: len(body) // 2])
    _abort(request)
    return partial


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
