"""Exceptions raised by the provider.

Everything derives from :class:`WorkflowProviderError` (deliberately not ``AirflowException``) so users
can catch the provider's errors as one family. Pure: no Airflow here. Errors that an Airflow task retry
cannot fix -- inputs rejected before submitting, a bad key, an unknown workflow, an exhausted balance --
say so with ``retry_can_fix = False``; the operator boundary (``core.boundary``) turns them into
``AirflowFailException`` too, so Airflow spends no retries (and no credits) on them.
"""

from __future__ import annotations

from typing import ClassVar


class WorkflowProviderError(Exception):
    """Base class of every error this provider raises."""

    #: whether another try of the task could succeed; ``False`` fails the task without using its retries
    retry_can_fix: ClassVar[bool] = True


class ConfigurationError(WorkflowProviderError):
    """A connection or operator argument is missing or wrong; the message names it."""

    retry_can_fix = False


class InputValidationError(WorkflowProviderError):
    """Inputs were rejected before anything was submitted to the platform."""

    retry_can_fix = False


class ResponseFormatError(WorkflowProviderError):
    """A platform answered with a body that does not have the documented shape."""


class PlatformAPIError(WorkflowProviderError):
    """The platform answered an HTTP error, or could not be reached after retries."""

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        status_code: int | None = None,
        code: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.platform = platform
        self.status_code = status_code
        self.code = code
        self.run_id = run_id


class PermanentAPIError(PlatformAPIError):
    """An answer that retrying cannot change: bad key, unknown resource, invalid request, no credits."""

    retry_can_fix = False


class StartNotConfirmedError(WorkflowProviderError):
    """A start request may have reached the platform but its answer was lost, and the run cannot be found.

    Not retried: a blind retry could start (and bill) a second run.
    """

    retry_can_fix = False


class RunFailed(WorkflowProviderError):
    """The remote run ended failed or cancelled."""

    def __init__(self, message: str, *, platform: str, run_id: str, raw_status: object = None) -> None:
        super().__init__(message)
        self.platform = platform
        self.run_id = run_id
        self.raw_status = raw_status


class RunTimedOut(WorkflowProviderError):
    """The run did not finish before the task's ``timeout``."""


class TriggerEventError(WorkflowProviderError):
    """A trigger event does not match the event schema."""


class PlatformBusyError(PlatformAPIError):
    """The platform refused a request for load (a rate or concurrency limit) before doing any work: sending
    it again later is safe, even for a start. ``retry_after`` is the wait it asked for, if any (seconds)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BatchFailed(WorkflowProviderError):
    """A batch ended with more failed items than ``max_failures`` allows, stopped early (timeout) or was
    halted (quota, bad key): the message gives the counts and where the results are. A task retry
    continues the batch: finished items are not run again."""
