"""The shared pacer's rules (core.pacing), driven by hand with a fake clock: no I/O."""

from __future__ import annotations

from airflow_workflow_providers.core.pacing import MAX_HOLD, PROBE_WAIT, Pacer, RateBudget

NOW = 1_800_000_000.0


def test_an_unknown_budget_is_probed_by_one_request_at_a_time():
    pacer = Pacer()
    assert pacer.delay(NOW) == 0
    assert pacer.delay(NOW) == PROBE_WAIT  # the first has not been answered yet
    pacer.answered(RateBudget(3, NOW + 10), None, NOW)
    assert [pacer.delay(NOW) for _ in range(4)] == [0, 0, 0, 10.0]  # 3 left: three go, the fourth waits


def test_requests_in_flight_count_against_what_is_left():
    pacer = Pacer()
    pacer.delay(NOW)
    pacer.answered(RateBudget(2, NOW + 10), None, NOW)
    assert pacer.delay(NOW) == 0 and pacer.delay(NOW) == 0
    assert pacer.delay(NOW) == 10.0  # two in flight use the two left
    pacer.answered(RateBudget(1, NOW + 10), None, NOW)  # an answer that arrives late says more is left
    assert pacer.budget == RateBudget(1, NOW + 10)
    assert pacer.delay(NOW) == 10.0  # one left, one still in flight


def test_a_new_window_is_probed_again():
    pacer = Pacer()
    pacer.delay(NOW)
    pacer.answered(RateBudget(0, NOW + 10), None, NOW)
    assert pacer.delay(NOW + 5) == 5.0
    assert pacer.delay(NOW + 10) == 0 and pacer.delay(NOW + 10) == PROBE_WAIT


def test_retry_after_holds_every_request_of_the_account():
    pacer = Pacer()
    pacer.delay(NOW)
    pacer.answered(None, 7.0, NOW)
    assert pacer.delay(NOW + 1) == 6.0


def test_holds_are_capped():
    pacer = Pacer()
    pacer.delay(NOW)
    pacer.answered(RateBudget(0, NOW + 86_400), 86_400.0, NOW)
    assert pacer.delay(NOW) == MAX_HOLD


def test_a_platform_without_budgets_is_not_paced_after_its_first_answer():
    pacer = Pacer()
    pacer.delay(NOW)
    pacer.answered(None, None, NOW)
    assert all(pacer.delay(NOW) == 0 for _ in range(100))


def test_a_request_that_got_no_answer_frees_its_place():
    pacer = Pacer()
    pacer.delay(NOW)
    pacer.failed()
    assert pacer.delay(NOW) == 0
