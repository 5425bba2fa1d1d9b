"""Retry decisions, free of I/O: which outcomes to try again, after how long, and when to give up.

The sync and async transports each run a five-line loop around :class:`Attempts`; every decision
(transient or permanent, Retry-After, backoff, the log line, the final error) is made here once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    PlatformAPIError,
    PlatformBusyError,
    ResponseFormatError,
    StartNotConfirmedError,
)
from airflow_workflow_providers.core.model import Log, Request, Response, StartReader

if TYPE_CHECKING:
    from airflow_workflow_providers.core.platform import PlatformAPI

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one request is retried before its failure is reported."""

    attempts: int = 5
    initial_delay: float = 1.0
    max_delay: float = 30.0
    #: a Retry-After beyond this is capped, so one answer cannot park a task for hours
    max_retry_after: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter on its upper half (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class TransportFault:
    """A request that got no HTTP answer. ``reached`` says whether the server may have processed it."""

    detail: str
    reached: bool


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API operation as data: the request and how to read its answer."""

    request: Request
    parse: Callable[[Response], T]
    #: a retry cannot do harm (polls, stops); starts are not idempotent
    idempotent: bool = True
    run_id: str | None = None
    #: read a streamed answer (``request.stream``) incrementally with this instead of whole
    reader: StartReader | None = None


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T


class Attempts(Generic[T]):
    """Judges the outcomes of one call, attempt after attempt."""

    def __init__(
        self, api: PlatformAPI, call: Call[T], policy: RetryPolicy, log: Log, deadline: float | None = None
    ) -> None:
        self.api = api
        self.call = call
        self.policy = policy
        self.log = log
        #: wall-clock instant (epoch seconds) no attempt, wait or request may outlast, e.g. a wait's ``end_time``
        self.deadline = deadline
        self.attempt = 0

    def budget(self, timeout: float) -> float:
        """Seconds the next request may take: ``timeout``, cut at the deadline; raise once it has passed."""
        if self.deadline is None:
            return timeout
        left = self.deadline - time.time()
        if left <= 0:
            raise PlatformAPIError(
                f"{self.what}: not sent, the wait's deadline has passed",
                platform=self.api.name,
                run_id=self.call.run_id,
            )
        return min(timeout, left)

    @property
    def what(self) -> str:
        run = f" (run {self.call.run_id})" if self.call.run_id else ""
        return f"{self.api.name} {self.call.request.method} {self.call.request.path}{run}"

    def judge(self, outcome: Response | TransportFault) -> Done[T] | float:
        """Return the parsed result, or the seconds to wait before the next attempt; raise when final."""
        self.attempt += 1
        if isinstance(outcome, TransportFault):
            if outcome.reached and not self.call.idempotent:
                raise StartNotConfirmedError(
                    f"{self.what}: the request may have reached {self.api.name} but its answer was lost "
                    f"({outcome.detail}); not retried, so no second run is started."
                )
            return self._again(outcome.detail, None)
        if outcome.ok:
            try:
                return Done(self.call.parse(outcome))
            except ResponseFormatError as exc:
                if not self.call.idempotent:
                    raise
                return self._again(str(exc), None, cause_exc=exc)
        verdict = self.api.retry_verdict(outcome)
        code, message = self.api.error_detail(outcome)
        cause = f"HTTP {outcome.status}{f' {code}' if code else ''}: {message}"
        if verdict is False:
            raise self._error(cause, outcome, code, PermanentAPIError)
        if not self.call.idempotent and not self.api.not_processed(outcome):
            # 429/503 say "not processed"; a 500 or a proxy's 502/504 may hide a run that did start.
            raise StartNotConfirmedError(
                f"{self.what} answered {cause}; the run may have started, not retried."
            )
        delay = None if verdict is True else min(float(verdict), self.policy.max_retry_after)
        return self._again(cause, delay, response=outcome, code=code)

    def _again(
        self,
        cause: str,
        delay: float | None,
        *,
        response: Response | None = None,
        code: str | None = None,
        cause_exc: Exception | None = None,
    ) -> float:
        if self.attempt >= self.policy.attempts:
            if response is not None and self.api.not_processed(response):
                busy = self._error(
                    f"{cause}; gave up after {self.attempt} attempts", response, code, PlatformBusyError
                )
                busy.retry_after = delay  # type: ignore[attr-defined]
                raise busy
            raise self._error(
                f"{cause}; gave up after {self.attempt} attempts", response, code, PlatformAPIError
            ) from cause_exc
        wait = self.policy.backoff(self.attempt) if delay is None else delay
        if self.deadline is not None and time.time() + wait >= self.deadline:
            # the platform's wait is honoured (nothing is sent sooner), but only up to the deadline
            left = max(0.0, self.deadline - time.time())
            self.log.warning(
                "%s failed (%s); a retry in %.1f s would come after the wait's deadline: holding %.1f s until it",
                self.what,
                cause,
                wait,
                left,
            )
            return left
        self.log.warning(
            "%s failed (%s); retrying in %.1f s (attempt %d of %d)",
            self.what,
            cause,
            wait,
            self.attempt + 1,
            self.policy.attempts,
        )
        return wait

    def _error(
        self, cause: str, response: Response | None, code: str | None, kind: type[PlatformAPIError]
    ) -> PlatformAPIError:
        return kind(
            f"{self.what} failed: {cause}",
            platform=self.api.name,
            status_code=response.status if response is not None else None,
            code=code,
            run_id=self.call.run_id,
        )
