"""Concurrency limits: what each emulator answers over its per-key limit, and how Dify's answer (HTTP 400
``invalid_param`` on a real 1.14.1 server) is classified: transient and safe to send again, even a start."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from airflow_workflow_providers.core.errors import PlatformBusyError
from airflow_workflow_providers.core.model import Response
from airflow_workflow_providers.core.retry import Attempts, RetryPolicy
from airflow_workflow_providers.dify.api import DifyAPI
from airflow_workflow_providers.dify.hooks import DifyHook
from tests.recorded import SHARED, _require

RECORDING = SHARED / "recordings" / "dify-1.14.1-chatflow-knowledge-human-input.md"


def recorded_refusal() -> Response:
    """The first concurrency refusal of the recording's section 5, as the server sent it."""
    text = _require(RECORDING).read_text()
    section = text[text.index("## 5. Concurrency limit") :]
    refusal = section[section.index("Response: **HTTP 400**") :]
    body = re.search(r"```json\n(\{.*?\})\n```", refusal, re.S).group(1)
    return Response(400, body.encode(), {"Content-Type": "application/json"})


def test_the_recorded_refusal_is_transient_and_not_processed_but_a_plan_quota_stays_permanent():
    refusal = recorded_refusal()
    api = DifyAPI()
    assert refusal.status == 400 and api.error_detail(refusal)[0] == "invalid_param"
    assert api.retry_verdict(refusal) is True and api.not_processed(refusal)
    quota = Response(429, b'{"code": "rate_limit_error", "message": "quota", "status": 429}')
    assert api.retry_verdict(quota) is False and api.not_processed(quota)
    other = Response(
        400, b'{"code": "invalid_param", "message": "query is required in input form", "status": 400}'
    )
    assert api.retry_verdict(other) is False and not api.not_processed(other)


def test_a_refused_start_given_up_on_is_a_busy_error_not_an_unconfirmed_start():
    api = DifyAPI()
    attempts = Attempts(
        api, api.start(inputs={}, user="u"), RetryPolicy(attempts=1), __import__("logging").getLogger()
    )
    with pytest.raises(PlatformBusyError):
        attempts.judge(recorded_refusal())


def test_the_dify_emulator_refuses_like_the_recording_per_app_key(dify_emulator):
    dify_emulator.control.settings(max_concurrent_runs=1)
    url = dify_emulator.base_url + "/workflows/run"
    slow = {"Authorization": "Bearer app-slow"}
    holder = requests.post(
        url,
        json={"inputs": {"query": "a", "delay": 3}, "user": "u", "response_mode": "streaming"},
        headers=slow,
        stream=True,
        timeout=10,
    )
    assert holder.status_code == 200
    refused = requests.post(
        url,
        json={"inputs": {"query": "b", "delay": 1}, "user": "u", "response_mode": "blocking"},
        headers=slow,
        timeout=10,
    )
    expected = json.loads(recorded_refusal().body)
    app_uuid = dify_emulator.control.state()["apps"]["app-slow"]["options"]["app_uuid"]
    assert refused.status_code == 400 and "Retry-After" not in refused.headers
    assert refused.json() == {
        **expected,
        "message": expected["message"].replace(expected["message"].split()[-3], app_uuid),
    }
    # another app (another key) has its own limit
    other = requests.post(
        url,
        json={"inputs": {"query": "c"}, "user": "u", "response_mode": "blocking"},
        headers={"Authorization": "Bearer app-echo"},
        timeout=10,
    )
    assert other.status_code == 200
    holder.close()


@pytest.mark.parametrize("name", ["scade", "arcee", "flowy"])
def test_the_other_emulators_answer_429_with_retry_after(request, name):
    emulator = request.getfixturevalue("arcee_orchestra_emulator" if name == "arcee" else f"{name}_emulator")
    emulator.control.settings(max_concurrent_runs=1)
    path, body = {
        "scade": (
            "/scade/flow/1608/execute",
            {
                "start_node_id": "Qk3a-start",
                "end_node_id": "Zp9w-end",
                "node_settings": {"Qk3a-start": {"data": {"text": "a", "delay": 2}}},
            },
        ),
        "arcee": ("/workflows/0b8f4c1e-7a51-4d0e-9a63-5a1d2e0f0002/execute", {"query": "a", "delay": 2}),
        "flowy": ("/apps/65f1a2b3c4d5e6f708090a02/runs", {"inputs": {"prompt": "a", "seconds": "2"}}),
    }[name]
    first = requests.post(emulator.base_url + path, json=body, headers=emulator.headers(), timeout=10)
    second = requests.post(emulator.base_url + path, json=body, headers=emulator.headers(), timeout=10)
    assert first.ok, first.text
    assert second.status_code == 429 and 1 <= int(second.headers["Retry-After"]) <= 3
    assert "too many concurrent runs" in second.text
    assert len(emulator.control.runs()) == 1


def test_a_single_dify_run_rides_out_the_limit_with_backoff(dify_emulator, monkeypatch):
    value = {"conn_type": "dify", "host": dify_emulator.base_url, "password": "app-slow"}
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_SLOW", json.dumps(value))
    dify_emulator.control.settings(max_concurrent_runs=1)
    hook = DifyHook("dify_slow")
    hook.start_run(inputs={"query": "first", "delay": 1.5}, user="u1")
    started = time.monotonic()
    ref = hook.start_run(inputs={"query": "second", "delay": 0.2}, user="u2")
    assert time.monotonic() - started >= 0.5  # it waited (backoff) instead of failing
    assert ref.run_id in dify_emulator.control.runs() and len(dify_emulator.control.runs()) == 2
    refusals = [
        r
        for r in dify_emulator.control.state()["requests"]
        if r["path"] == "/workflows/run" and r["status"] == 400
    ]
    assert refusals, "the second start was refused at least once before it ran"
