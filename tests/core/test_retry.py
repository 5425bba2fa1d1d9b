"""Retry decisions are pure: each test feeds outcomes to Attempts and reads its verdicts."""

from __future__ import annotations

import logging

import pytest

from airflow_workflow_providers.core.errors import PermanentAPIError, PlatformAPIError, StartNotConfirmedError
from airflow_workflow_providers.core.model import Request, Response
from airflow_workflow_providers.core.platform import json_body
from airflow_workflow_providers.core.retry import Attempts, Call, Done, RetryPolicy, TransportFault
from airflow_workflow_providers.dify.api import DifyAPI

POLICY = RetryPolicy(attempts=3, initial_delay=1.0, max_delay=4.0)
LOG = logging.getLogger("test")


def attempts(idempotent: bool = True) -> Attempts:
    call = Call(
        Request("GET", "/workflows/run/r1"),
        lambda r: json_body(r, "Dify"),
        idempotent=idempotent,
        run_id="r1",
    )
    return Attempts(DifyAPI(), call, POLICY, LOG)


def test_a_success_is_parsed():
    assert attempts().judge(Response(200, b'{"a": 1}')) == Done({"a": 1})


@pytest.mark.parametrize(
    "outcome",
    [
        Response(503, b"busy"),
        Response(502, b"<html>Bad gateway</html>"),
        TransportFault("reset", reached=True),
        Response(200, b'{"trunc'),
    ],
)
def test_transient_outcomes_are_retried_with_backoff(outcome):
    delay = attempts().judge(outcome)
    assert 0.5 <= delay <= 1.0


def test_retry_after_is_honoured():
    assert attempts().judge(Response(429, b"{}", {"Retry-After": "7"})) == 7.0


def test_retries_run_out_with_an_error_naming_platform_run_and_cause(caplog):
    judge = attempts()
    judge.judge(Response(503, b'{"message": "busy"}'))
    judge.judge(Response(503, b'{"message": "busy"}'))
    with pytest.raises(PlatformAPIError) as raised:
        judge.judge(Response(503, b'{"message": "busy"}'))
    assert not isinstance(raised.value, PermanentAPIError)
    assert "Dify GET /workflows/run/r1 (run r1)" in str(raised.value) and "HTTP 503: busy" in str(
        raised.value
    )
    assert "gave up after 3 attempts" in str(raised.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_at_once(status):
    with pytest.raises(PermanentAPIError) as raised:
        attempts().judge(Response(status, b'{"code": "x", "message": "no"}'))
    assert raised.value.status_code == status and raised.value.platform == "Dify"


def test_a_start_whose_answer_was_lost_is_not_retried():
    with pytest.raises(StartNotConfirmedError, match="no second run"):
        attempts(idempotent=False).judge(TransportFault("connection reset", reached=True))


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_start_answered_with_an_ambiguous_5xx_is_not_retried(status):
    with pytest.raises(StartNotConfirmedError):
        attempts(idempotent=False).judge(Response(status, b""))


@pytest.mark.parametrize(
    "outcome", [Response(503, b""), Response(429, b"{}"), TransportFault("refused", reached=False)]
)
def test_a_start_that_surely_did_not_run_is_retried(outcome):
    assert attempts(idempotent=False).judge(outcome) > 0


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(initial_delay=1.0, max_delay=4.0)
    assert all(2.0 <= policy.backoff(3) <= 4.0 for _ in range(50))
    assert all(2.0 <= policy.backoff(10) <= 4.0 for _ in range(50))


def test_no_wait_outlasts_the_deadline_and_nothing_is_sent_after_it():
    """A ``Retry-After`` of 300 s with 2 s left holds until the deadline, then the call gives up unsent."""
    import time

    call = Call(Request("GET", "/workflows/run/r1"), lambda r: json_body(r, "Dify"), run_id="r1")
    judge = Attempts(DifyAPI(), call, POLICY, LOG, deadline=time.time() + 2)
    assert judge.budget(30) <= 2
    assert 0 <= judge.judge(Response(429, b"{}", {"Retry-After": "300"})) <= 2
    judge.deadline = time.time() - 1
    with pytest.raises(PlatformAPIError, match="deadline has passed"):
        judge.budget(30)
