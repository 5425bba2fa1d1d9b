"""Connection lookups on the triggerer, shared by every trigger of the same ``conn_id``.

A triggerer that restarts with 5000 deferred runs creates 5000 triggers at once; each needs its
connection, and on a real triggerer every lookup is a round trip to the API server. Triggers of one
``conn_id`` share a single lookup: concurrent callers await the one in flight, and its result serves
later callers for :data:`LOOKUP_TTL` seconds. After that the next trigger looks it up again, so a
rotated key reaches new triggers within that time. The connection (and its key) stays in this
process's memory only: it is never serialized.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from airflow_workflow_providers.core.flight import Flights, join

#: seconds one lookup of a connection serves the triggers that start after it
LOOKUP_TTL = 60.0

_found: dict[str, tuple[float, Any]] = {}
_pending: Flights = {}


async def shared_lookup(conn_id: str, lookup: Callable[[str], Awaitable[Any]]) -> Any:
    """The connection ``conn_id`` as ``lookup`` finds it, looked up at most once per :data:`LOOKUP_TTL`."""
    hit = _found.get(conn_id)
    if hit is not None and time.monotonic() < hit[0]:
        return hit[1]
    return await join(_pending, conn_id, functools.partial(_look_up, conn_id, lookup))


async def _look_up(conn_id: str, lookup: Callable[[str], Awaitable[Any]]) -> Any:
    conn = await lookup(conn_id)
    _found[conn_id] = (time.monotonic() + LOOKUP_TTL, conn)
    return conn


def forget(conn_id: str | None = None) -> None:
    """Drop what was looked up (of one ``conn_id``, or all): the next trigger asks again."""
    if conn_id is None:
        _found.clear()
    else:
        _found.pop(conn_id, None)
