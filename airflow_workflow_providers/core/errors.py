"""Exceptions raised by the provider.

Everything derives from :class:`WorkflowProviderError` (deliberately not ``AirflowException``) so users
can catch the provider's errors as one family. Errors that an Airflow task retry cannot fix -- inputs
rejected before submitting, a bad key, an unknown workflow, an exhausted balance -- also derive from
``AirflowFailException`` so Airflow spends no retries (and no credits) on them.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class WorkflowProviderError(Exception):
    """Base class of every error this provider raises."""


class ConfigurationError(WorkflowProviderError, AirflowFailException):
    """A connection or operator argument is missing or wrong; the message names it."""


class InputValidationError(WorkflowProviderError, AirflowFailException):
    """Inputs were rejected before anything was submitted to the platform."""


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


class PermanentAPIError(PlatformAPIError, AirflowFailException):
    """An answer that retrying cannot change: bad key, unknown resource, invalid request, no credits."""


class StartNotConfirmedError(WorkflowProviderError, AirflowFailException):
    """A start request may have reached the platform but its answer was lost, and the run cannot be found.

    Not retried: a blind retry could start (and bill) a second run.
    """


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
