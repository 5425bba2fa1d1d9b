"""One account's request budget, shared by every request made with its key (sans-IO).

Platforms that announce a budget on their answers (Flowy: ``X-RateLimit-Remaining``/``-Reset``) describe
how to read it (``PlatformAPI.rate_budget``). The transports ask :meth:`Pacer.delay` before each request
and report each answer to :meth:`Pacer.answered`; the async transport shares one pacer among all the
triggers polling with the same key, so 200 triggers spend one budget, not 200.

Rules, in order:

1. After a ``Retry-After`` on a 429, nothing is sent until it has passed (whoever asked).
2. While the budget is unknown (nothing answered yet in this window), one request at a time probes it.
3. With a known budget, a request may go while ``remaining`` exceeds the requests already in flight;
   otherwise it waits for the window's reset (capped at :data:`MAX_HOLD`), when the budget is unknown again.
4. A platform whose answers carry no budget is not paced at all once its first answer shows that.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the longest a budget may hold a request back: a misread header must not park a task for hours
MAX_HOLD = 65.0
#: how long a request waiting for a probe's answer sleeps before it asks again
PROBE_WAIT = 0.05


@dataclass(frozen=True, slots=True)
class RateBudget:
    """What an answer says of the key's budget: requests left, and when (epoch seconds) it refills."""

    remaining: int
    reset_at: float


class Pacer:
    """Decides when the next request of one account may go (see the module's rules)."""

    def __init__(self) -> None:
        self.not_before = 0.0
        self.budget: RateBudget | None = None
        #: ``None`` until the first answer tells whether this platform announces budgets
        self.budgeted: bool | None = None
        self.in_flight = 0

    def delay(self, now: float) -> float:
        """Seconds to wait before sending; ``0`` means send now (the request is then counted in flight)."""
        if now < self.not_before:
            return self.not_before - now
        if self.budgeted is not False:
            if self.budget is not None and now >= self.budget.reset_at:
                self.budget = None  # a new window: probe it again
            if self.budget is None:
                if self.in_flight:
                    return PROBE_WAIT
            elif self.budget.remaining <= self.in_flight:
                return min(MAX_HOLD, max(PROBE_WAIT, self.budget.reset_at - now))
        self.in_flight += 1
        return 0.0

    def answered(self, budget: RateBudget | None, retry_after: float | None, now: float) -> None:
        """Record one answer (or a request that got none: both ``None``)."""
        self.in_flight = max(0, self.in_flight - 1)
        if retry_after is not None:
            self.not_before = max(self.not_before, now + min(retry_after, MAX_HOLD))
        if budget is not None:
            self.budgeted = True
            known = self.budget
            # answers of one window arrive out of order: the smallest remaining is the truest
            if known is None or budget.reset_at > known.reset_at or budget.remaining < known.remaining:
                self.budget = budget
        elif self.budgeted is None:
            self.budgeted = False

    def failed(self) -> None:
        """A request that got no answer at all."""
        self.in_flight = max(0, self.in_flight - 1)
