"""The batch engine on a worker (``deferrable=False``): on a thread and event loop of its own.

Airflow signals a running task's main thread: SIGALRM raises ``AirflowTaskTimeout`` there at
``execution_timeout``, and SIGTERM (a kill, a mark, a clear) calls ``on_kill`` there. With the engine on
that thread, either would land inside its event loop -- an exception raised in a coroutine ends that one
item's task and leaves the batch going -- so the main thread only waits, and ``on_kill`` stops the engine
from there: it stops every run in flight and records it cancelled, as at the batch's own ``timeout``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from airflow_workflow_providers.core.batch.engine import BatchEngine


class EngineThread:
    """Runs one :class:`BatchEngine` on its own thread; :meth:`stop` may be called from any thread, a
    signal handler on the waiting one included."""

    def __init__(self, engine: BatchEngine) -> None:
        self.engine = engine
        self._lock = threading.RLock()  # re-entrant: a second signal may interrupt a stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stage = "new"  # then "running", then "ended"
        self._ended = threading.Event()  # waited on, not Thread.join: an interrupted join breaks (bpo-45274)
        self._outcome: dict[str, Any] = {}
        self._error: BaseException | None = None

    def run(self) -> dict[str, Any]:
        """Run the engine to its end and return its outcome (or raise what it raised)."""
        threading.Thread(target=self._main, name="batch-engine", daemon=True).start()
        self._ended.wait()
        if self._error is not None:
            raise self._error
        return self._outcome

    def stop(self, reason: str, wait: float) -> bool:
        """Have the engine stop (see :meth:`BatchEngine.stop`); wait up to ``wait`` seconds for it to end.
        Returns whether it has ended."""
        with self._lock:
            if self._stage == "running" and self._loop is not None:
                self._loop.call_soon_threadsafe(self.engine.stop, reason)
            elif self._stage == "new":
                self.engine.stop(reason)  # it starts stopped
        return self._ended.wait(wait)

    def _main(self) -> None:
        try:
            self._outcome = asyncio.run(self._run())
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc
        finally:
            self._ended.set()

    async def _run(self) -> dict[str, Any]:
        with self._lock:
            self._loop, self._stage = asyncio.get_running_loop(), "running"
        try:
            return await self.engine.run()
        finally:
            with self._lock:
                self._stage = "ended"
