"""Where the provider's pure errors meet Airflow: an error no retry can fix must not spend retries.

The error classes (``core.errors``) import no Airflow; each says whether another try could help
(``retry_can_fix``). Operators and sensors run their ``execute``/``execute_complete``/``poke`` inside
:func:`fails_fast`, which gives such an error the ``AirflowFailException`` type as well -- the same
object, message and traceback, still an instance of its own class -- so Airflow fails the task at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_workflow_providers.core.errors import WorkflowProviderError

F = TypeVar("F", bound=Callable[..., Any])


def fails_fast(method: F) -> F:
    """Decorate an operator method so the provider's unfixable errors fail the task without retries."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except WorkflowProviderError as exc:
            if not exc.retry_can_fix:
                # mypy sees classes as unhashable for functools.cache (typeshed's Hashable check)
                exc.__class__ = _unretryable(type(exc))  # type: ignore[arg-type]
            raise

    wrapper.__fails_fast__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def is_fail_fast(method: Callable[..., Any]) -> bool:
    """Whether ``method`` is already behind :func:`fails_fast`."""
    return getattr(method, "__fails_fast__", False)


@functools.cache
def _unretryable(cls: type[WorkflowProviderError]) -> type[WorkflowProviderError]:
    from airflow_workflow_providers.core.compat import AirflowFailException

    if issubclass(cls, AirflowFailException):
        return cls
    return type(
        cls.__name__,
        (cls, AirflowFailException),
        {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
    )
