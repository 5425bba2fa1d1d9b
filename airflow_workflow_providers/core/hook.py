"""The hook every platform hook derives from: connection -> transports -> run operations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any, ClassVar

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.compat import BaseHook
from airflow_workflow_providers.core.connections import shared_lookup
from airflow_workflow_providers.core.download import DOWNLOAD_CHUNK, DOWNLOAD_MAX_BYTES
from airflow_workflow_providers.core.errors import (
    ConfigurationError,
    PlatformAPIError,
    ResponseFormatError,
    RunFailed,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import Run, RunRef, RunState
from airflow_workflow_providers.core.platform import PlatformAPI
from airflow_workflow_providers.core.registry import ui_field_behaviour
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.core.transport import AsyncTransport, ClientConfig, SyncTransport
from airflow_workflow_providers.core.watch import RunWatch

#: looking for a run whose start's answer was lost: tries, seconds between them, and the allowance
#: for the platform's clock running behind ours
FIND_ATTEMPTS, FIND_PAUSE, FIND_CLOCK_SKEW = 4, 1.0, 10.0


class WorkflowHook(BaseHook):
    """Talks to one platform through one Airflow connection (host = base URL, password = API key).

    :param conn_id: the Airflow connection to use.
    :param api_options: keyword arguments of the platform's API description (JSON, since a trigger
        carries them), e.g. Scade's ``status_map``.
    :param retry_policy: how hard each request is retried on transient faults.
    :param timeout: seconds allowed for one HTTP request.
    """

    api_class: ClassVar[type[PlatformAPI]]
    conn_name_attr = "conn_id"
    #: derived from the platform's ``PlatformInfo``: ``<key>_default``, the key, the platform name
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    #: seconds a streamed start may stay silent before its run reference arrives
    start_wait: ClassVar[float] = 60.0

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        api_options: Mapping[str, Any] | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        self.api_options = dict(api_options or {})
        self.api = self.api_class(**self.api_options)
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeout = timeout
        #: ids of the runs this hook asked the platform to stop
        self.stopped: set[str] = set()
        self._async_config: tuple[Any, ClientConfig] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "api_class" in cls.__dict__:
            info = cls.api_class.info
            cls.conn_type, cls.hook_name, cls.default_conn_name = info.key, info.name, f"{info.key}_default"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return ui_field_behaviour(cls.api_class.info)

    # -- clients ----------------------------------------------------------------------------------
    def client_config(self, conn: Any) -> ClientConfig:
        """One builder for both transports, so sync and async clients cannot drift apart."""
        if not conn.password:
            raise ConfigurationError(
                f"Connection {self.conn_id!r} has no API key: put the {self.api.name} API key in its "
                "password field."
            )
        extra = conn.extra_dejson if conn.extra else {}
        return ClientConfig(
            api=self.api,
            base_url=_base_url(conn, self.api.default_base_url),
            headers=self.api.auth_headers(conn.password),
            policy=self.retry_policy,
            timeout=self.timeout,
            connections_per_host=_positive_int(extra, "connections_per_host", conn.conn_id, default=100),
        )

    @cached_property
    def transport(self) -> SyncTransport:
        return SyncTransport(self.client_config(self.get_connection(self.conn_id)), self.log)

    @asynccontextmanager
    async def async_transport(self) -> AsyncIterator[AsyncTransport]:
        """``async with hook.async_transport() as t: await t.call(hook.api.status(ref))``.

        The connection is looked up once for every trigger of the same ``conn_id`` (``core.connections``).
        """
        conn = await shared_lookup(self.conn_id, self._aget_connection)
        if self._async_config is None or self._async_config[0] is not conn:
            self._async_config = (conn, self.client_config(conn))  # one per lookup, not one per trigger
        async with AsyncTransport(self._async_config[1], self.log) as transport:
            yield transport

    async def _aget_connection(self, conn_id: str) -> Any:
        if hasattr(self, "aget_connection"):
            return await self.aget_connection(conn_id)
        # Airflow 3.0 has no async lookup: keep the sync one off the event loop, in asgiref's thread (not
        # asyncio.to_thread: there the triggerer's comms run the request on a second event loop, and
        # lookups racing each other crash the trigger runner, "Response read out of order")
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.get_connection)(conn_id)

    # -- run operations ---------------------------------------------------------------------------
    def start_run(self, **spec: Any) -> RunRef:
        """Start a run and return its reference as soon as the platform gives one.

        A start is never blindly retried once it may have reached the platform (that could bill a
        second run); if its answer is lost -- or came with a success status but could not be read --
        the run is looked for instead, where the platform allows.
        """
        call = self.api.start(**spec)
        started = time.time()
        try:
            if call.reader is not None:
                return self.transport.start_streamed(call, self.start_wait)
            return self.transport.call(call)
        except (StartNotConfirmedError, ResponseFormatError) as exc:
            return self._lost_start(exc, started, spec)

    def _lost_start(self, exc: Exception, started: float, spec: dict[str, Any]) -> RunRef:
        """The run of a start whose answer was lost or unreadable, found where the platform allows; else raise."""
        lost = (
            exc
            if isinstance(exc, StartNotConfirmedError)
            else StartNotConfirmedError(
                f"{self.api.name} accepted the start, but its answer could not be read ({exc}); "
                "not retried, in case the run did start."
            )
        )
        ref = self._find_started_run(started, spec)
        if ref is None:
            raise lost from exc
        self.log.warning(
            "The answer to the start was lost, but %s has run %s from it; continuing with that run.",
            self.api.name,
            ref.run_id,
        )
        return ref

    def _find_started_run(self, started: float, spec: dict[str, Any]) -> RunRef | None:
        """The one run the start created, or ``None`` when none, or more than one, could be it."""
        lookup = self.api.find_run(since=started - FIND_CLOCK_SKEW, **spec)
        if lookup is None:
            return None
        for attempt in range(FIND_ATTEMPTS):
            # a platform may record a run a moment after accepting it
            time.sleep(attempt * FIND_PAUSE)
            candidates = self.transport.call(lookup)
            matches = [ref for ref in candidates if self._is_this_start(ref, spec)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                self.log.warning(
                    "%s has %d runs that could be the lost start's (%s); not guessing.",
                    self.api.name,
                    len(matches),
                    ", ".join(ref.run_id for ref in matches),
                )
                return None
        return None

    async def astart_run(self, transport: AsyncTransport, **spec: Any) -> RunRef:
        """:meth:`start_run` on the event loop, through ``transport`` (a streamed start is read asynchronously).
        A lost answer is looked for as :meth:`start_run` does, in a thread (a rare path)."""
        call = self.api.start(**spec)
        started = time.time()
        try:
            if call.reader is not None:
                return await transport.start_streamed(call, self.start_wait)
            return await transport.call(call)
        except (StartNotConfirmedError, ResponseFormatError) as exc:
            return await asyncio.to_thread(self._lost_start, exc, started, spec)

    async def afind_started_run(self, started: float, spec: dict[str, Any]) -> RunRef | None:
        """The one run a start of ``spec`` sent at ``started`` (epoch seconds) created, if the platform can
        tell (in a thread: the lookup is :meth:`start_run`'s own)."""
        return await asyncio.to_thread(self._find_started_run, started, spec)

    def _is_this_start(self, ref: RunRef, spec: dict[str, Any]) -> bool:
        check = self.api.started_by(ref, **spec)
        return True if check is None else bool(self.transport.call(check))

    def run_url(self, ref: RunRef) -> str | None:
        """The run's page in the platform's web app, if the platform has one."""
        return self.api.run_url(self.transport.config.base_url, ref)

    def get_run(self, ref: RunRef | str, *, deadline: float | None = None) -> Run:
        return self.transport.call(self.api.status(_ref(ref)), deadline)

    async def aget_run(self, ref: RunRef | str) -> Run:
        async with self.async_transport() as transport:
            return await transport.call(self.api.status(_ref(ref)))

    def cancel_run(self, ref: RunRef | str) -> bool:
        """Ask the platform to stop a run; ``False`` where it has no way to (the run keeps going).

        From then on :meth:`wait_for_run` no longer waits on that run (in this hook): a stopped run
        may never report an end (Dify's keeps polling as ``running``).
        """
        call = self._cancel_call(_ref(ref))
        if call is None:
            return False
        self.stopped.add(_ref(ref).run_id)
        self.transport.call(call)
        self.log.info("Asked %s to stop run %s.", self.api.name, _ref(ref).run_id)
        return True

    async def acancel_run(self, ref: RunRef | str, *, deadline: float | None = None) -> bool:
        """:meth:`cancel_run` on the event loop; no retry outlasts ``deadline`` (epoch seconds)."""
        call = self._cancel_call(_ref(ref))
        if call is None:
            return False
        async with self.async_transport() as transport:
            await transport.call(call, deadline)
        self.log.info("Asked %s to stop run %s.", self.api.name, _ref(ref).run_id)
        return True

    def _cancel_call(self, ref: RunRef) -> Any:
        """The platform's stop call for ``ref``, or ``None`` after logging why the run keeps going."""
        call = self.api.cancel(ref)
        if call is None:
            self.log.warning(
                "Cannot stop run %s (%s): it keeps running remotely.", ref.run_id, self.api.why_no_cancel(ref)
            )
        return call

    def wait_for_run(
        self, ref: RunRef, *, end_time: float, poll_interval: float, until_paused: bool = False
    ) -> Run:
        """Poll until the run ends (worker side); raise ``RunTimedOut`` at ``end_time`` (epoch seconds).
        With ``until_paused``, a run that waits for a person is returned too.

        Raises ``RunFailed`` as soon as this hook has stopped the run (e.g. from the task's ``on_kill``).
        """
        watch = RunWatch(
            self.api.name,
            ref,
            end_time=end_time,
            log=self.log,
            heartbeat=story.heartbeat_every(poll_interval),
        )
        while True:
            if ref.run_id in self.stopped:
                raise RunFailed(
                    f"{self.api.name} run {ref.run_id} was stopped by this task; not waiting on it any longer.",
                    platform=self.api.name,
                    run_id=ref.run_id,
                )
            try:
                run = self.get_run(ref, deadline=end_time)
                verdict = watch.observe(run)
            except PlatformAPIError as exc:
                verdict = watch.failed_poll(exc)
            else:
                if verdict is None and until_paused and run.state is RunState.PAUSED:
                    return run
            if verdict is not None:
                return watch.conclude(verdict)
            time.sleep(watch.delay(poll_interval))

    def download(
        self, url: str, target: Any, *, chunk_size: int = DOWNLOAD_CHUNK, max_bytes: int = DOWNLOAD_MAX_BYTES
    ) -> dict[str, Any]:
        """Stream an absolute http(s) ``url`` (a signed output URL) into ``target`` (a binary file object
        or a path, ``ObjectStoragePath`` URLs included); return ``{"size", "sha256"}``. Sent without the
        API key, retried on transient faults, refused past ``max_bytes``; see
        :func:`~airflow_workflow_providers.core.outputs.download`."""
        from airflow_workflow_providers.core.outputs import download

        return download(self.transport, url, target, chunk_size=chunk_size, max_bytes=max_bytes)

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with a call that spends no credits."""
        try:
            description = self.transport.call(self.api.probe())
        except Exception as exc:  # the UI shows the message; any failure means "not connected"
            return False, str(exc)
        return True, f"Connected to {self.api.name}: {description}."


def _ref(ref: RunRef | str) -> RunRef:
    return ref if isinstance(ref, RunRef) else RunRef(str(ref))


def _positive_int(extra: Mapping[str, Any], name: str, conn_id: str, *, default: int) -> int:
    value = extra.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str))
        or not str(value).isdigit()
        or int(value) < 1
    ):
        raise ConfigurationError(
            f"Connection {conn_id!r}: extra {name!r} must be a positive whole number, not {value!r}"
        )
    return int(value)


def _base_url(conn: Any, default: str) -> str:
    """The connection's host as a base URL; a bare host name gets ``https://``, its port and path."""
    host = (conn.host or "").strip()
    if not host:
        return default
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    path = f"/{conn.schema.strip('/')}" if conn.schema else ""
    return f"https://{host}{port}{path}"
