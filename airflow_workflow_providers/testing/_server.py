"""Emulator core: the base class every platform builds on, the control plane and the background runner.

Every emulator serves its platform's API under ``base_path`` and, on the same port, a control plane
under ``/_emulator/`` (no auth): ``GET state``, ``POST reset``, ``POST apps``, ``POST settings`` and
``POST faults``. One middleware records each API request, counts it, applies injected faults,
enforces auth and turns aiohttp's own 404/405 into the platform's error body.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from airflow_workflow_providers.testing._control import EmulatorControl
from airflow_workflow_providers.testing._faults import DROP_STREAM, FaultBook, apply_fault
from airflow_workflow_providers.testing._runs import AppDef, Run, plan_run

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COMMON_SETTINGS: Mapping[str, Any] = {
    "run_seconds_multiplier": 1.0,  # scales every planned run duration
    "queued_seconds": 0.1,  # how long a new run stays queued before it runs
    "max_concurrent_runs": None,  # active runs allowed per API key (None: no limit); see too_many_runs
}
COUNTERS = ("starts", "stops", "polls")
_CONTROL_PREFIX = "/_emulator/"
_CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("emulator_caller", default=None)
"""The credential of the API request being handled: runs are counted per key against the limit."""


class TooManyRuns(Exception):
    """A start over the per-key ``max_concurrent_runs`` limit; answered by :meth:`Emulator.too_many_runs`."""

    def __init__(self, limit: int, retry_after: float) -> None:
        super().__init__(f"{limit} runs active")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Route:
    """One API route; ``path`` is relative to the base, ``counter`` one of ``COUNTERS`` or None."""

    method: str
    path: str
    handler: Handler
    counter: str | None = None


class Emulator(abc.ABC):
    """One platform's emulated API. Subclasses declare routes, auth, error bodies and default apps."""

    #: the platform's key (``core.registry``), also the connection type of connections reaching it
    platform_key: ClassVar[str]
    base_path: ClassVar[str]
    auth_scheme: ClassVar[str] = "Bearer"
    error_field: ClassVar[str] = "detail"
    unauthorized_message: ClassVar[str] = "Invalid API key"
    outcomes: ClassVar[frozenset[str]]
    success_outcome: ClassVar[str] = "succeeded"
    """The outcome of a new app that does not name one."""
    default_app_ids: ClassVar[Mapping[str, str]]
    """Short name (``echo``, ``slow``) -> id of each default app."""
    default_settings: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **settings: Any) -> None:
        self._baseline = {**COMMON_SETTINGS, **self.default_settings}
        self._baseline.update(self.checked_settings(settings))
        self._counters: dict[str, str] = {}
        self.reset()

    api_key: ClassVar[str]
    """A valid key for the default app or workspace."""

    # -- platform hooks -------------------------------------------------------------------------
    @abc.abstractmethod
    def default_apps(self) -> list[AppDef]: ...

    @abc.abstractmethod
    def api_routes(self) -> list[Route]: ...

    def authenticate(self, request: web.Request) -> bool:
        """Whether the request carries a valid key (may remember the caller's app on the request)."""
        return request.headers.get("Authorization") == f"{self.auth_scheme} {self.api_key}"

    def error(self, status: int, message: str, code: str | None = None) -> web.Response:
        """An error answer in the platform's own body shape (``{error_field: message}`` by default)."""
        return web.json_response({self.error_field: message}, status=status)

    def unauthorized(self) -> web.Response:
        return self.error(401, self.unauthorized_message)

    @abc.abstractmethod
    def run_state(self, run: Run) -> str:
        """The run's current status in the platform's vocabulary."""

    def app_keys(self) -> dict[str, str]:
        """Short app name -> the API key that reaches it."""
        return {name: self.api_key for name in self.default_app_ids}

    def root_routes(self) -> list[Route]:
        """Routes outside the API base (no auth), e.g. signed media downloads."""
        return []

    def response_headers(self) -> Mapping[str, str]:
        """Headers added to every response, streamed ones included."""
        return {}

    def admit(self, request: web.Request) -> web.Response | None:
        """A refusal (rate limit...) for an authenticated request, or None to handle it."""
        return None

    def too_many_runs(self, request: web.Request, limit: int, retry_after: float) -> web.Response:
        """The answer to a start over the per-key concurrency limit: 429 in the platform's error shape with
        ``Retry-After`` (seconds until the first active run of the key ends)."""
        response = self.error(429, "too many concurrent runs")
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    def normalize_app(self, app: AppDef) -> AppDef:
        """Fill platform-specific defaults into an app definition."""
        return app

    def on_reset(self) -> None:
        """Clear platform-specific state."""

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        self.settings: dict[str, Any] = dict(self._baseline)
        self.apps: dict[str, AppDef] = {app.id: self.normalize_app(app) for app in self.default_apps()}
        self.runs: dict[str, Run] = {}
        self.requests: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter({name: 0 for name in COUNTERS})
        self.faults = FaultBook()
        self._active: dict[str | None, list[Run]] = {}
        self.on_reset()

    def checked_settings(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        known = {**COMMON_SETTINGS, **self.default_settings}
        unknown = sorted(set(knobs) - set(known))
        if unknown:
            raise ValueError(f"unknown {self.platform_key} settings {unknown}; known: {sorted(known)}")
        return dict(knobs)

    def upsert_app(self, data: Mapping[str, Any]) -> AppDef:
        if "id" not in data:
            raise ValueError("an app definition needs an 'id'")
        base = self.apps.get(data["id"])
        if base is None:
            data = {"outcome": self.success_outcome, **data}
        app = self.normalize_app(AppDef.from_json(data, base))
        if app.outcome not in self.outcomes:
            raise ValueError(f"outcome {app.outcome!r} is not one of {sorted(self.outcomes)}")
        self.apps[app.id] = app
        return app

    def start_run(
        self, app: AppDef, inputs: Mapping[str, Any], run_id: str | None = None, user: str | None = None
    ) -> Run:
        """Plan and store a new run of ``app``; raise :class:`TooManyRuns` over ``max_concurrent_runs``."""
        caller = _CALLER.get()
        active = self._active[caller] = [r for r in self._active.get(caller, []) if r.is_active()]
        limit = self.settings["max_concurrent_runs"]
        if limit is not None and len(active) >= limit:
            raise TooManyRuns(limit, min(r.finished_at for r in active) - time.time())
        run = plan_run(
            run_id or str(uuid.uuid4()),
            app,
            inputs,
            queued_seconds=self.settings["queued_seconds"],
            multiplier=self.settings["run_seconds_multiplier"],
            user=user,
        )
        self.runs[run.id] = run
        active.append(run)
        return run

    def state(self) -> dict[str, Any]:
        return {
            "platform_key": self.platform_key,
            "counts": dict(self.counts),
            "requests": self.requests,
            "runs": {run.id: self._summary(run) for run in self.runs.values()},
            "faults": self.faults.to_json(),
            "settings": self.settings,
            "apps": {app.id: app.to_json() for app in self.apps.values()},
        }

    def _summary(self, run: Run) -> dict[str, Any]:
        return {
            "app": run.app.id,
            "inputs": run.inputs,
            "user": run.user,
            "state": self.run_state(run),
            "outcome": run.outcome,
            "stop_requested": run.stop_requested,
            "created_at": run.created_at,
        }

    # -- aiohttp application --------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024**2)
        for route in self.api_routes():
            app.router.add_route(route.method, self.base_path + route.path, route.handler)
            if route.counter:
                self._counters[f"{route.method} {route.path}"] = route.counter
        for route in self.root_routes():
            app.router.add_route(route.method, route.path, route.handler)
        app.router.add_get(_CONTROL_PREFIX + "state", self._get_state)
        app.router.add_post(_CONTROL_PREFIX + "reset", self._post_reset)
        app.router.add_post(_CONTROL_PREFIX + "apps", self._post_app)
        app.router.add_post(_CONTROL_PREFIX + "settings", self._post_settings)
        app.router.add_post(_CONTROL_PREFIX + "faults", self._post_faults)
        app.on_response_prepare.append(self._add_headers)
        return app

    def relative(self, path: str) -> str:
        return path[len(self.base_path) :] if path.startswith(self.base_path + "/") else path

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_CONTROL_PREFIX):
            return await handler(request)
        is_api = request.path.startswith(self.base_path + "/")
        _CALLER.set(request.headers.get("Authorization") if is_api else None)
        auth_valid = self.authenticate(request) if is_api else None
        path = self.relative(request.path)
        entry = await _request_entry(request, path, auth_valid)
        self.requests.append(entry)
        self._count(request)
        handle = functools.partial(self._handle, handler=handler, is_api=is_api, auth_valid=auth_valid)
        fault = self.faults.take(request.method, path)
        if fault is None:
            response = await handle(request)
        else:
            entry["fault"] = fault.kind
            response = await apply_fault(fault, request, handle, self.error)
        entry["status"] = None if fault and fault.kind == "drop" else response.status
        return response

    async def _handle(
        self, request: web.Request, *, handler: Handler, is_api: bool, auth_valid: bool | None
    ) -> web.StreamResponse:
        """Normal handling: auth, admission, the route's handler, aiohttp errors in the platform's shape."""
        if is_api and not auth_valid:
            return self.unauthorized()
        refusal = self.admit(request) if is_api else None
        if refusal is not None:
            return refusal
        try:
            return await handler(request)
        except TooManyRuns as exc:
            return self.too_many_runs(request, exc.limit, exc.retry_after)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self.error(exc.status, exc.reason)

    def _count(self, request: web.Request) -> None:
        resource = request.match_info.route.resource
        if resource is None:
            return
        key = f"{request.method} {self.relative(resource.canonical)}"
        self.counts[key] += 1
        if key in self._counters:
            self.counts[self._counters[key]] += 1

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if not request.path.startswith(_CONTROL_PREFIX):
            response.headers.update(self.response_headers())

    # -- control plane --------------------------------------------------------------------------
    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"result": "reset"})

    async def _post_app(self, request: web.Request) -> web.Response:
        return await _control_call(request, lambda body: self.upsert_app(body).to_json())

    async def _post_settings(self, request: web.Request) -> web.Response:
        def apply(body: dict[str, Any]) -> dict[str, Any]:
            self.settings.update(self.checked_settings(body))
            return self.settings

        return await _control_call(request, apply)

    async def _post_faults(self, request: web.Request) -> web.Response:
        def add(body: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
            for rule in body if isinstance(body, list) else [body]:
                self.faults.add(rule)
            return self.faults.to_json()

        return await _control_call(request, add)


async def _request_entry(request: web.Request, path: str, auth_valid: bool | None) -> dict[str, Any]:
    """What ``state()["requests"]`` records of a request (never its credentials); ``at`` is when it
    arrived (epoch seconds)."""
    return {
        "at": time.time(),
        "method": request.method,
        "path": path,
        "query": dict(request.query),
        "json": await read_json(request) if request.content_type == "application/json" else None,
        "status": None,
        "auth_valid": auth_valid,
        "fault": None,
    }


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or None when it has none or it does not parse."""
    if not request.body_exists:
        return None
    try:
        return await request.json()
    except ValueError:
        return None


async def _control_call(request: web.Request, action: Callable[[Any], Any]) -> web.Response:
    """Run a control-plane action on the JSON body; bad input answers 400 ``{"error"}``."""
    try:
        return web.json_response(action(await request.json()))
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)


class EventStream:
    """A streamed answer. Under a ``drop`` fault it cuts the connection after the fault's ``chunks``."""

    def __init__(
        self, request: web.Request, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.request = request
        self.response = web.StreamResponse(headers={"Content-Type": content_type, **(headers or {})})
        self._chunks = 0

    async def send(self, chunk: bytes) -> None:
        await self.response.write(chunk)
        self._chunks += 1
        if self.request.get(DROP_STREAM) and self._chunks >= self.request[DROP_STREAM]:
            raise ConnectionResetError("connection dropped by an injected fault")


@contextlib.asynccontextmanager
async def event_stream(
    request: web.Request, content_type: str, headers: Mapping[str, str] | None = None
) -> AsyncIterator[EventStream]:
    """Open a streamed answer; a client that goes away ends it quietly (runs never depend on it)."""
    stream = EventStream(request, content_type, headers)
    await stream.response.prepare(request)
    with contextlib.suppress(ConnectionError):
        yield stream
        await stream.response.write_eof()


class RunningEmulator:
    """An emulator serving real HTTP from a background thread with its own event loop."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self.platform_key = emulator.platform_key
        self._loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(host, port, started), name=f"{self.platform_key}-emulator", daemon=True
        )
        self._thread.start()
        self.port = started.result(timeout=30)
        self.root_url = f"http://{host}:{self.port}"
        self.base_url = self.root_url + emulator.base_path
        self.api_key = emulator.api_key
        self.app_ids = dict(emulator.default_app_ids)
        self.app_keys = emulator.app_keys()
        self.control = EmulatorControl(self.root_url)
        self.control.state()  # readiness: the control plane answers over real HTTP

    def _serve(self, host: str, port: int, started: concurrent.futures.Future[int]) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.emulator.build_app(), access_log=None, shutdown_timeout=0.5)
        try:
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port)
            self._loop.run_until_complete(site.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            started.set_exception(exc)
            return
        started.set_result(runner.addresses[0][1])
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def headers(self, api_key: str | None = None) -> dict[str, str]:
        """The ``Authorization`` header the platform expects, for ``api_key`` or the default key."""
        return {"Authorization": f"{self.emulator.auth_scheme} {api_key or self.api_key}"}

    def connection(self, conn_id: str | None = None) -> tuple[str, str]:
        """``(env var name, JSON value)`` of an Airflow connection pointing at this emulator."""
        conn_id = conn_id or f"{self.platform_key}_default"
        value = {"conn_type": self.platform_key, "host": self.base_url, "password": self.api_key}
        return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningEmulator {self.platform_key} {self.base_url}>"
