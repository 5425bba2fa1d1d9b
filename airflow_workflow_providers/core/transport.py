"""The provider's only network boundary: one synchronous transport (workers) and one asynchronous
transport (triggerer), both driven by the same :class:`~airflow_workflow_providers.core.retry.Attempts`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_workflow_providers.core.model import Request, Response, RunRef, StartReader
from airflow_workflow_providers.core.platform import PlatformAPI
from airflow_workflow_providers.core.retry import Attempts, Call, Done, RetryPolicy, TransportFault

if TYPE_CHECKING:
    import aiohttp
    import requests

# aiohttp and requests are imported where first used, not here: every DAG file that imports an
# operator imports this module, and the two cost ~300 ms of parse time that only workers and the
# triggerer need.

T = TypeVar("T")


@dataclass(frozen=True)
class ClientConfig:
    """Everything a transport needs, built once per connection by the hook for both transports."""

    api: PlatformAPI
    base_url: str
    #: carries the API key: kept out of ``repr`` so it cannot reach a log line
    headers: Mapping[str, str] = field(repr=False)
    policy: RetryPolicy = RetryPolicy()
    #: seconds for one request (connect + answer)
    timeout: float = 30.0

    def url(self, request: Request) -> str:
        return self.base_url.rstrip("/") + request.path

    def headers_for(self, request: Request) -> dict[str, str]:
        return {**self.headers, **(request.headers or {})}


class _Pacer:
    """Holds requests back while the platform's rate-limit headers say the budget is spent."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.not_before = 0.0

    def wait(self) -> float:
        return max(0.0, self.not_before - time.monotonic())

    def observe(self, response: Response) -> Response:
        hold = self.config.api.pace(response)
        if hold > 0:
            self.not_before = time.monotonic() + hold
        return response


class SyncTransport:
    """``requests`` with one reused session."""

    def __init__(self, config: ClientConfig, log: logging.Logger) -> None:
        import requests

        self.config = config
        self.log = log
        self.session = requests.Session()
        self.pacer = _Pacer(config)

    def call(self, call: Call[T]) -> T:
        attempts = Attempts(self.config.api, call, self.config.policy, self.log)
        while True:
            verdict = attempts.judge(self._send(call.request))
            if isinstance(verdict, Done):
                return verdict.value
            time.sleep(verdict)

    def start_streamed(self, call: Call[RunRef], wait: float) -> RunRef:
        """Open a streamed start and read just far enough to learn the run's reference.

        ``wait`` bounds the silence before the reference arrives: some platforms accept a start
        and then say nothing (Dify with invalid inputs).
        """
        import requests

        attempts = Attempts(self.config.api, call, self.config.policy, self.log)
        while True:
            opened = self._send(call.request, stream_wait=wait)
            if isinstance(opened, requests.Response):
                with opened:
                    assert call.reader is not None
                    return _read_start(opened, call.reader, wait)
            delay = attempts.judge(opened)  # only error answers get here, so never Done
            assert not isinstance(delay, Done)
            time.sleep(delay)

    def _send(self, request: Request, stream_wait: float | None = None) -> Any:
        import requests

        timeout = (self.config.timeout, stream_wait or self.config.timeout)
        files = {request.upload[0]: request.upload[1:]} if request.upload else None
        if hold := self.pacer.wait():
            time.sleep(hold)
        try:
            answer = self.session.request(
                request.method,
                self.config.url(request),
                params=request.query,
                json=request.json,
                data=request.form,
                files=files,
                headers=self.config.headers_for(request),
                timeout=timeout,
                stream=request.stream,
            )
            if request.stream and answer.ok:
                return answer
            return self.pacer.observe(Response(answer.status_code, answer.content, dict(answer.headers)))
        except requests.RequestException as exc:
            return TransportFault(f"{type(exc).__name__}: {exc}", reached=_reached(exc))

    def close(self) -> None:
        self.session.close()


def _read_start(answer: requests.Response, reader: StartReader, wait: float) -> RunRef:
    import requests

    deadline = time.monotonic() + wait
    try:
        for chunk in answer.iter_content(chunk_size=None):
            ref = reader.feed(chunk)
            if ref is not None:
                return ref
            if time.monotonic() > deadline:
                break
    except requests.RequestException:
        return reader.end(timed_out=True)
    return reader.end(timed_out=time.monotonic() > deadline)


def _reached(exc: BaseException) -> bool:
    """Whether a failed request may have been processed: any failure after the connection was made."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return False
    pending, seen = [exc], set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ConnectionRefusedError) or type(error).__name__ == "NewConnectionError":
            return False
        linked = (error.__cause__, error.__context__, getattr(error, "reason", None), *error.args)
        pending.extend(e for e in linked if isinstance(e, BaseException))
    return True


class AsyncTransport:
    """``aiohttp`` on a session shared by every transport in the same event loop.

    One triggerer runs thousands of triggers in one loop; sharing the session (and its connection
    pool) means keep-alive connections are reused across triggers instead of opened per trigger.
    """

    def __init__(self, config: ClientConfig, log: logging.Logger) -> None:
        self.config = config
        self.log = log
        self.pacer = _Pacer(config)

    async def __aenter__(self) -> AsyncTransport:
        if "aiohttp" not in sys.modules:
            # A first import takes ~0.2 s: in a thread, so the triggerer's event loop never stalls on it.
            await asyncio.to_thread(importlib.import_module, "aiohttp")
        self.session = _SharedSessions.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await _SharedSessions.release()

    async def call(self, call: Call[T]) -> T:
        attempts = Attempts(self.config.api, call, self.config.policy, self.log)
        while True:
            verdict = attempts.judge(await self._send(call.request))
            if isinstance(verdict, Done):
                return verdict.value
            await asyncio.sleep(verdict)

    async def _send(self, request: Request) -> Response | TransportFault:
        import aiohttp

        if hold := self.pacer.wait():
            await asyncio.sleep(hold)
        try:
            async with self.session.request(
                request.method,
                self.config.url(request),
                params=dict(request.query) if request.query else None,
                json=request.json,
                headers=self.config.headers_for(request),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            ) as answer:
                return self.pacer.observe(Response(answer.status, await answer.read(), dict(answer.headers)))
        except aiohttp.ClientConnectorError as exc:
            return TransportFault(f"{type(exc).__name__}: {exc}", reached=False)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return TransportFault(f"{type(exc).__name__}: {exc}".rstrip(": "), reached=True)


class _SharedSessions:
    """Reference-counted ``aiohttp.ClientSession`` per event loop."""

    _by_loop: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, int]] = {}

    @classmethod
    def acquire(cls) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        session, users = cls._by_loop.get(loop, (None, 0))
        if session is None or session.closed:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60))
        cls._by_loop[loop] = (session, users + 1)
        return session

    @classmethod
    async def release(cls) -> None:
        loop = asyncio.get_running_loop()
        session, users = cls._by_loop[loop]
        if users > 1:
            cls._by_loop[loop] = (session, users - 1)
            return
        del cls._by_loop[loop]
        await session.close()

