"""The provider's only network boundary: one synchronous transport (workers) and one asynchronous
transport (triggerer), both driven by the same :class:`~airflow_workflow_providers.core.retry.Attempts`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_workflow_providers.core.download import DOWNLOAD_CHUNK, DOWNLOAD_MAX_BYTES, Opener, download
from airflow_workflow_providers.core.model import Log, Request, Response, RunRef, StartReader
from airflow_workflow_providers.core.pacing import Pacer
from airflow_workflow_providers.core.platform import PlatformAPI, retry_after
from airflow_workflow_providers.core.retry import Attempts, Call, Done, RetryPolicy, TransportFault

if TYPE_CHECKING:
    import aiohttp
    import requests

# aiohttp and requests are imported where first used, not here: every DAG file that imports an
# operator imports this module, and the two cost ~300 ms of parse time that only workers and the
# triggerer need.

T = TypeVar("T")
#: seconds a followed event stream may stay silent (servers ping every 10-15 s)
STREAM_IDLE = 60.0


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
    #: most open connections to the platform's host per account in the async client's pool -- and, apart
    #: from them, most event streams open at once per account
    connections_per_host: int = 100

    def url(self, request: Request) -> str:
        return self.base_url.rstrip("/") + request.path

    def headers_for(self, request: Request) -> dict[str, str]:
        return {**self.headers, **(request.headers or {})}

    @functools.cached_property
    def account(self) -> tuple[str, str]:
        """Who is calling: the base URL and a digest of the credentials (never the key itself)."""
        digest = hashlib.sha256(repr(sorted(self.headers.items())).encode()).hexdigest()
        return self.base_url, digest

    def observe(self, pacer: Pacer, response: Response) -> Response:
        """Tell ``pacer`` what an answer says of the account's budget."""
        # A 429 speaks of the account's budget, so its Retry-After holds every request of the account; a
        # 503's speaks of one endpoint and is left to that call's own retries.
        held = retry_after(response) if response.status == 429 else None
        pacer.answered(self.api.rate_budget(response), held, time.time())
        return response


class NoStreamSlot(Exception):
    """Every event-stream slot of the account is taken: the caller follows its run by polls only."""


class SyncTransport:
    """``requests`` with one reused session."""

    def __init__(self, config: ClientConfig, log: Log) -> None:
        import requests

        self.config = config
        self.log = log
        self.session = requests.Session()  # honours HTTP(S)_PROXY and NO_PROXY (trust_env)
        self.pacer = Pacer()

    def call(self, call: Call[T], deadline: float | None = None) -> T:
        """Send ``call`` until it succeeds or fails for good; nothing outlasts ``deadline`` (epoch seconds)."""
        attempts = Attempts(self.config.api, call, self.config.policy, self.log, deadline)
        while True:
            verdict = attempts.judge(
                self._send(call.request, timeout=attempts.budget(self.config.timeout), deadline=deadline)
            )
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

    def _send(
        self,
        request: Request,
        stream_wait: float | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> Any:
        import requests

        limit = timeout or self.config.timeout
        timeout_pair = (limit, stream_wait or limit)
        files = {request.upload[0]: request.upload[1:]} if request.upload else None
        while hold := _budget_wait(self.pacer, deadline):
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
                timeout=timeout_pair,
                stream=request.stream,
                verify=ca_bundle(),
                auth=_headers_only,
            )
            if request.stream and answer.ok:
                self.config.observe(self.pacer, Response(answer.status_code, b"", dict(answer.headers)))
                return answer
            return self.config.observe(
                self.pacer, Response(answer.status_code, answer.content, dict(answer.headers))
            )
        except requests.RequestException as exc:
            self.pacer.failed()
            return TransportFault(f"{type(exc).__name__}: {exc}", reached=_reached(exc))

    def download(
        self,
        url: str,
        open_sink: Opener,
        *,
        max_bytes: int = DOWNLOAD_MAX_BYTES,
        chunk_size: int = DOWNLOAD_CHUNK,
    ) -> dict[str, Any]:
        """Stream a file the platform points to into a fresh ``open_sink()`` per attempt (see ``core.download``)."""
        return download(self, url, open_sink, max_bytes=max_bytes, chunk_size=chunk_size)

    def close(self) -> None:
        self.session.close()


def _headers_only(request: Any) -> Any:
    """The request's auth: its headers as they are. Without it, requests replaces the Authorization header
    with a ~/.netrc login for the host, if the worker's user has one."""
    return request


def _budget_wait(pacer: Pacer, deadline: float | None) -> float:
    """Seconds to wait for the account's budget before the next request (0: send it now): the pacer's
    hold, but never past the wait's deadline -- at the deadline the request goes as it is."""
    hold = pacer.delay(time.time())
    if hold and deadline is not None:
        hold = max(0.0, min(hold, deadline - time.time()))
    return hold


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
    """``aiohttp`` on the client of its account, shared by every transport of that account in the loop.

    One triggerer runs thousands of triggers in one loop. Those that use the same account (base URL and
    key) share one session, so one connection pool with keep-alive connections, and one :class:`Pacer`,
    so the account's rate budget is spent by all of them together rather than by each as if alone.
    """

    def __init__(self, config: ClientConfig, log: Log) -> None:
        self.config = config
        self.log = log

    async def __aenter__(self) -> AsyncTransport:
        self.client = await _SharedClients.acquire(self.config)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await _SharedClients.release(self.config)

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.client.session

    @property
    def pacer(self) -> Pacer:
        return self.client.pacer

    def stream_slot_free(self) -> bool:
        """Whether the account has room for one more event stream (``connections_per_host`` at once)."""
        return self.client.open_streams < self.config.connections_per_host

    async def call(self, call: Call[T], deadline: float | None = None) -> T:
        """Send ``call`` until it succeeds or fails for good; nothing outlasts ``deadline`` (epoch seconds)."""
        attempts = Attempts(self.config.api, call, self.config.policy, self.log, deadline)
        while True:
            verdict = attempts.judge(
                await self._send(call.request, attempts.budget(self.config.timeout), deadline)
            )
            if isinstance(verdict, Done):
                return verdict.value
            await asyncio.sleep(verdict)

    async def start_streamed(self, call: Call[RunRef], wait: float) -> RunRef:
        """:meth:`SyncTransport.start_streamed` on the event loop: open a streamed start and read it chunk by
        chunk as it arrives, only until the run's reference is known (``wait`` bounds the silence before it)."""
        assert call.reader is not None
        reader = call.reader
        attempts = Attempts(self.config.api, call, self.config.policy, self.log)
        while True:
            opened = await self._send(
                call.request,
                self.config.timeout,
                stream_wait=wait,
                read=lambda answer: _aread_start(answer, reader, wait),
            )
            if isinstance(opened, RunRef):
                return opened
            delay = attempts.judge(opened)  # only error answers get here, so never Done
            assert not isinstance(delay, Done)
            await asyncio.sleep(delay)

    async def _send(
        self,
        request: Request,
        timeout: float | None = None,
        deadline: float | None = None,
        stream_wait: float | None = None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[RunRef]] | None = None,
    ) -> Any:
        import aiohttp

        timeout = timeout or self.config.timeout

        while hold := _budget_wait(self.pacer, deadline):
            await asyncio.sleep(hold)
        try:
            async with self.session.request(
                request.method,
                self.config.url(request),
                params=dict(request.query) if request.query else None,
                json=request.json,
                headers=self.config.headers_for(request),
                proxy=self.client.proxy,
                proxy_auth=self.client.proxy_auth,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=stream_wait)
                if stream_wait
                else aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                if read is not None and answer.ok:
                    self.config.observe(self.pacer, Response(answer.status, b"", dict(answer.headers)))
                    return await read(answer)
                return self.config.observe(
                    self.pacer, Response(answer.status, await answer.read(), dict(answer.headers))
                )
        except aiohttp.ClientConnectorError as exc:
            self.pacer.failed()
            return TransportFault(f"{type(exc).__name__}: {exc}", reached=False)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.pacer.failed()
            return TransportFault(f"{type(exc).__name__}: {exc}".rstrip(": "), reached=True)

    async def stream(self, call: Call[Any]) -> AsyncIterator[bytes]:
        """Open a streamed answer (server-sent events) and yield its bytes as they arrive.

        One attempt: an error answer or a broken connection raises ``PlatformAPIError`` and the caller
        decides what next (the stream is optional, polling is not). The stream may stay quiet between
        keep-alive pings, so only the connect and each read are bounded.
        """
        import aiohttp

        request = call.request
        attempts = Attempts(self.config.api, call, RetryPolicy(attempts=1), self.log)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.config.timeout, sock_read=max(self.config.timeout, STREAM_IDLE)
        )
        client = self.client
        if client.open_streams >= self.config.connections_per_host:
            raise NoStreamSlot(
                f"all {self.config.connections_per_host} event-stream slots of the account are taken"
            )
        client.open_streams += 1
        try:
            async with client.stream_session(self.config).request(
                request.method,
                self.config.url(request),
                params=dict(request.query) if request.query else None,
                headers=self.config.headers_for(request),
                proxy=client.proxy,
                proxy_auth=client.proxy_auth,
                timeout=timeout,
            ) as answer:
                if not 200 <= answer.status < 300:
                    attempts.judge(Response(answer.status, await answer.read(), dict(answer.headers)))
                async for chunk in answer.content.iter_any():
                    yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            attempts.judge(TransportFault(f"{type(exc).__name__}: {exc}".rstrip(": "), reached=True))
        finally:
            client.open_streams -= 1


async def _aread_start(answer: aiohttp.ClientResponse, reader: StartReader, wait: float) -> RunRef:
    import aiohttp

    deadline = time.monotonic() + wait
    try:
        async for chunk in answer.content.iter_any():
            ref = reader.feed(chunk)
            if ref is not None:
                return ref
            if time.monotonic() > deadline:
                break
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return reader.end(timed_out=True)
    return reader.end(timed_out=time.monotonic() > deadline)


@dataclass
class _Client:
    """An account's client in one event loop. Event streams, open for a run's whole life, have a session
    of their own: in the polls' pool they would take its connections and leave the polls waiting."""

    session: aiohttp.ClientSession
    pacer: Pacer
    #: the proxy the environment names for the account's base URL (None: direct), read once per client
    proxy: Any = None
    proxy_auth: aiohttp.BasicAuth | None = None
    streams: aiohttp.ClientSession | None = None
    open_streams: int = 0

    def stream_session(self, config: ClientConfig) -> aiohttp.ClientSession:
        if self.streams is None:
            self.streams = _session(config)
        return self.streams

    async def close(self) -> None:
        await self.session.close()
        if self.streams is not None:
            await self.streams.close()


async def _new_client(config: ClientConfig) -> _Client:
    # A first import of aiohttp takes ~0.2 s, reading a CA bundle ~30 ms, and the proxy variables may
    # send aiohttp to ~/.netrc: in a thread, once per account, so the triggerer's event loop never stalls.
    proxy, proxy_auth = await asyncio.to_thread(_prepare_async, config.base_url)
    return _Client(_session(config), Pacer(), proxy, proxy_auth)


def _session(config: ClientConfig) -> aiohttp.ClientSession:
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=0, limit_per_host=config.connections_per_host, keepalive_timeout=60, ssl=tls_context()
    )
    # No cookie jar: nothing a platform sets for one account may ride along with another's calls. No
    # trust_env: it reads the proxy variables in a thread on every request (and ~/.netrc, whose login
    # would clash with the Authorization header); the client reads them once instead (_prepare_async).
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


@dataclass
class _Account:
    """The client of one account in one event loop, being made or made, and how many transports use it."""

    client: asyncio.Future[_Client]
    users: int = 0


class _SharedClients:
    """Reference-counted clients per (event loop, account), made once however many triggers start together
    (a triggerer restart starts thousands at once); a client closes with its last user."""

    _accounts: dict[tuple[asyncio.AbstractEventLoop, tuple[str, str]], _Account] = {}

    @classmethod
    async def acquire(cls, config: ClientConfig) -> _Client:
        key = (asyncio.get_running_loop(), config.account)
        account = cls._accounts.get(key)
        if account is None:
            account = cls._accounts[key] = _Account(asyncio.ensure_future(_new_client(config)))
        account.users += 1
        try:
            return await asyncio.shield(account.client)
        except BaseException:
            await cls.release(config)
            raise

    @classmethod
    async def release(cls, config: ClientConfig) -> None:
        key = (asyncio.get_running_loop(), config.account)
        account = cls._accounts[key]
        account.users -= 1
        if account.users == 0:
            del cls._accounts[key]
            if not account.client.done():
                account.client.cancel()
            elif not account.client.cancelled() and account.client.exception() is None:
                await account.client.result().close()


def ca_bundle() -> str:
    """The CA certificates both transports trust: ``REQUESTS_CA_BUNDLE``, else ``SSL_CERT_FILE`` (a file or
    a directory), else certifi's bundle (what requests trusts by default)."""
    import certifi

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or certifi.where()


#: aiohttp's side of :func:`ca_bundle`, one context per bundle
_TLS_CONTEXTS: dict[str, ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
    """The SSL context of the triggerer's sessions: verifies against :func:`ca_bundle`, built once per bundle."""
    bundle = ca_bundle()
    if bundle not in _TLS_CONTEXTS:
        if os.path.isdir(bundle):
            _TLS_CONTEXTS[bundle] = ssl.create_default_context(capath=bundle)
        else:
            _TLS_CONTEXTS[bundle] = ssl.create_default_context(cafile=bundle)
    return _TLS_CONTEXTS[bundle]


def _prepare_async(base_url: str) -> tuple[Any, aiohttp.BasicAuth | None]:
    """Import aiohttp, load the CA bundle, and read the proxy the environment names for ``base_url``
    (``HTTP(S)_PROXY``, ``NO_PROXY``: what ``requests`` honours on the workers)."""
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    tls_context()
    try:
        return get_env_proxy_for_url(URL(base_url))
    except LookupError:  # NO_PROXY names the host, or no proxy for its scheme
        return None, None
