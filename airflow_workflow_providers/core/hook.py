"""The hook every platform hook derives from: connection -> transports -> run operations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any, ClassVar

from airflow.sdk import BaseHook

from airflow_workflow_providers.core.errors import ConfigurationError, PlatformAPIError, StartNotConfirmedError
from airflow_workflow_providers.core.model import Run, RunRef
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
        return ClientConfig(
            api=self.api,
            base_url=_base_url(conn, self.api.default_base_url),
            headers=self.api.auth_headers(conn.password),
            policy=self.retry_policy,
            timeout=self.timeout,
        )

    @cached_property
    def transport(self) -> SyncTransport:
        return SyncTransport(self.client_config(self.get_connection(self.conn_id)), self.log)

    @asynccontextmanager
    async def async_transport(self) -> AsyncIterator[AsyncTransport]:
        """``async with hook.async_transport() as t: await t.call(hook.api.status(ref))``."""
        if hasattr(self, "aget_connection"):
            conn = await self.aget_connection(self.conn_id)
        else:  # Airflow 3.0 has no async lookup: keep the sync one off the event loop
            conn = await asyncio.to_thread(self.get_connection, self.conn_id)
        async with AsyncTransport(self.client_config(conn), self.log) as transport:
            yield transport

    # -- run operations ---------------------------------------------------------------------------
    def start_run(self, **spec: Any) -> RunRef:
        """Start a run and return its reference as soon as the platform gives one.

        A start is never blindly retried once it may have reached the platform (that could bill a
        second run); if its answer is lost, the run is looked for instead, where the platform allows.
        """
        call = self.api.start(**spec)
        started = time.time()
        try:
            if call.reader is not None:
                return self.transport.start_streamed(call, self.start_wait)
            return self.transport.call(call)
        except StartNotConfirmedError:
            ref = self._find_started_run(started, spec)
            if ref is None:
                raise
            self.log.warning("The answer to the start was lost, but %s has run %s from it; continuing with that run.", self.api.name, ref.run_id)
            return ref

    def _find_started_run(self, started: float, spec: dict[str, Any]) -> RunRef | None:
        lookup = self.api.find_run(since=started - FIND_CLOCK_SKEW, **spec)
        if lookup is None:
            return None
        for attempt in range(FIND_ATTEMPTS):
            # a platform may record a run a moment after accepting it
            time.sleep(attempt * FIND_PAUSE)
            ref = self.transport.call(lookup)
            if ref is not None:
                return ref
        return None

    def run_url(self, ref: RunRef) -> str | None:
        """The run's page in the platform's web app, if the platform has one."""
        return self.api.run_url(self.transport.config.base_url, ref)

    def get_run(self, ref: RunRef | str) -> Run:
        return self.transport.call(self.api.status(_ref(ref)))

    async def aget_run(self, ref: RunRef | str) -> Run:
        async with self.async_transport() as transport:
            return await transport.call(self.api.status(_ref(ref)))

    def cancel_run(self, ref: RunRef | str) -> bool:
        """Ask the platform to stop a run; ``False`` where it has no way to (the run keeps going)."""
        call = self._cancel_call(_ref(ref))
        if call is None:
            return False
        self.transport.call(call)
        self.log.info("Asked %s to stop run %s.", self.api.name, _ref(ref).run_id)
        return True

    async def acancel_run(self, ref: RunRef | str) -> bool:
        call = self._cancel_call(_ref(ref))
        if call is None:
            return False
        async with self.async_transport() as transport:
            await transport.call(call)
        self.log.info("Asked %s to stop run %s.", self.api.name, _ref(ref).run_id)
        return True

    def _cancel_call(self, ref: RunRef) -> Any:
        """The platform's stop call for ``ref``, or ``None`` after logging why the run keeps going."""
        call = self.api.cancel(ref)
        if call is None:
            self.log.warning("Cannot stop run %s (%s): it keeps running remotely.", ref.run_id, self.api.why_no_cancel(ref))
        return call

    def wait_for_run(self, ref: RunRef, *, end_time: float, poll_interval: float) -> Run:
        """Poll until the run ends (worker side); raise ``RunTimedOut`` at ``end_time`` (epoch seconds)."""
        watch = RunWatch(self.api.name, ref, end_time=end_time, log=self.log)
        while True:
            try:
                verdict = watch.observe(self.get_run(ref))
            except PlatformAPIError as exc:
                verdict = watch.failed_poll(exc)
            if verdict is not None:
                return watch.conclude(verdict)
            time.sleep(watch.delay(poll_interval))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with a call that spends no credits."""
        try:
            description = self.transport.call(self.api.probe())
        except Exception as exc:  # the UI shows the message; any failure means "not connected"
            return False, str(exc)
        return True, f"Connected to {self.api.name}: {description}."


def _ref(ref: RunRef | str) -> RunRef:
    return ref if isinstance(ref, RunRef) else RunRef(str(ref))


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
