"""How many runs a batch keeps in flight: additive increase, multiplicative decrease (pure)."""

from __future__ import annotations


class ConcurrencyWindow:
    """The in-flight limit of a batch, never above ``ceiling`` nor below 1.

    Each run that ends raises the limit by ``1/limit`` (one slot per window of completions); a refusal
    for load halves it -- once per round: refusals of starts sent before the last cut say nothing new.
    """

    def __init__(self, ceiling: int) -> None:
        if ceiling < 1:
            raise ValueError(f"concurrency must be at least 1, got {ceiling}")
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.last_cut = float("-inf")

    @property
    def slots(self) -> int:
        return max(1, int(self.limit))

    def grow(self) -> None:
        self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)

    def shrink(self, sent_at: float, now: float) -> bool:
        """A start sent at ``sent_at`` was refused for load; returns whether the limit was cut."""
        if sent_at < self.last_cut:
            return False
        self.limit = max(1.0, self.limit / 2)
        self.last_cut = now
        return True


def poll_delay(elapsed: float, expected: float | None, interval: float, floor: float = 0.1) -> float:
    """Seconds to the next poll of a run ``elapsed`` seconds old, when runs like it take ``expected``.

    Without an estimate (no run has ended yet): pauses growing with the run's age, from ``5 * floor``.
    Before the expected end: sleep until a little before it (so the estimate can also learn that runs
    got faster). After it: short polls growing with the overrun. Never more than ``interval``.
    """
    if expected is None:
        return min(interval, max(5 * floor, elapsed / 2))
    early = 0.8 * expected - elapsed
    if early > 0:
        return min(interval, early)
    return min(interval, max(floor, 0.5 * (elapsed - expected)))
