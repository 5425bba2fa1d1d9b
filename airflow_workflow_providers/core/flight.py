"""Single flight: callers that ask for the same thing while it is being made await one task.

A restarted triggerer creates thousands of triggers at once, and each needs things that are the same
for many of them (a connection, a hook). The first caller starts the work as a task of its own; the
others join it. The task is its own, so a caller that is cancelled (its trigger ended) does not cancel
the work the others wait for; once it lands, the next caller starts a new flight.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

#: flights in the air, per (event loop, key)
Flights = dict[tuple[asyncio.AbstractEventLoop, Hashable], "asyncio.Task[Any]"]


async def join(flights: Flights, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
    """The result of the flight ``key`` in ``flights``, starting it with ``make()`` if none is in the air."""
    loop = asyncio.get_running_loop()
    slot = (loop, key)
    task = flights.get(slot)
    if task is None:
        task = flights[slot] = loop.create_task(make())  # type: ignore[arg-type]
        task.add_done_callback(functools.partial(_landed, flights, slot))
    return await asyncio.shield(task)


def _landed(
    flights: Flights, slot: tuple[asyncio.AbstractEventLoop, Hashable], task: asyncio.Task[Any]
) -> None:
    flights.pop(slot, None)
    if not task.cancelled():
        task.exception()  # retrieved here: every caller may have gone, the error is theirs to report
