"""What every emulator shares: the control plane, fault injection, counters, fixtures and the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from airflow_workflow_providers.testing import RunningEmulator, start_emulator

SCADE_START = {
    "start_node_id": "SYnn-start",
    "end_node_id": "y5iI-end",
    "result_node_id": "y5iI-end",
    "node_settings": {"SYnn-start": {"data": {"text": "hi"}}},
}
PROBES: dict[str, tuple[str, str, Any]] = {
    "dify": ("GET", "/info", None),
    "scade": ("POST", "/scade/flow/1607/execute", SCADE_START),
    "arcee_orchestra": ("GET", "/workflows", None),
    "flowy": ("GET", "/apps", None),
}
"""A cheap authenticated request of each platform that answers 200: (method, path, JSON body)."""
CUSTOM_ID = "65f1a2b3c4d5e6f708090aff"  # valid everywhere, Flowy's 24-hex ids included


@pytest.fixture(params=sorted(PROBES))
def emulator(request: pytest.FixtureRequest) -> RunningEmulator:
    return request.getfixturevalue(f"{request.param}_emulator")


def probe(emulator: RunningEmulator) -> requests.Response:
    method, path, body = PROBES[emulator.platform_key]
    return requests.request(
        method, emulator.base_url + path, headers=emulator.headers(), json=body, timeout=10
    )


def probe_path(emulator: RunningEmulator) -> str:
    return PROBES[emulator.platform_key][1]


def faulted(emulator: RunningEmulator) -> list[str | None]:
    return [entry["fault"] for entry in emulator.control.state()["requests"]]


class TestFaults:
    def test_status_fault_uses_the_platform_error_shape(self, emulator: RunningEmulator) -> None:
        emulator.control.inject(
            "status",
            probe_path(emulator),
            method=PROBES[emulator.platform_key][0],
            times=2,
            status=503,
            retry_after=7,
        )
        answers = [probe(emulator) for _ in range(3)]
        assert [a.status_code for a in answers] == [503, 503, 200]
        assert answers[0].headers["Retry-After"] == "7"
        assert answers[0].json() == json.loads(emulator.emulator.error(503, "Service Unavailable").body)
        assert faulted(emulator) == ["status", "status", None]

    def test_html_fault_answers_a_proxy_page(self, emulator: RunningEmulator) -> None:
        emulator.control.inject("html", probe_path(emulator), times=2)
        answers = [probe(emulator) for _ in range(3)]
        assert [a.status_code for a in answers] == [502, 502, 200]
        assert answers[0].headers["Content-Type"].startswith("text/html") and "502" in answers[0].text

    def test_drop_fault_cuts_the_connection(self, emulator: RunningEmulator) -> None:
        emulator.control.inject("drop", probe_path(emulator), times=2)
        for _ in range(2):
            with pytest.raises(requests.RequestException):
                probe(emulator)
        assert probe(emulator).status_code == 200
        assert [entry["status"] for entry in emulator.control.state()["requests"]] == [None, None, 200]

    def test_slow_fault_delays_then_answers(self, emulator: RunningEmulator) -> None:
        emulator.control.inject("slow", probe_path(emulator), times=2, seconds=0.2)
        began = time.monotonic()
        assert [probe(emulator).status_code for _ in range(3)] == [200, 200, 200]
        assert time.monotonic() - began >= 0.4
        assert faulted(emulator) == ["slow", "slow", None]

    def test_malformed_fault_truncates_the_json(self, emulator: RunningEmulator) -> None:
        emulator.control.inject("malformed", probe_path(emulator), times=2)
        answers = [probe(emulator) for _ in range(3)]
        for answer in answers[:2]:
            with pytest.raises(ValueError):
                answer.json()
        assert answers[2].json()
        (rule,) = emulator.control.state()["faults"]
        assert (rule["applied"], rule["remaining"]) == (2, 0)

    def test_faults_match_method_and_whole_path(self, emulator: RunningEmulator) -> None:
        emulator.control.inject("status", probe_path(emulator)[:-1], status=500)
        emulator.control.inject("status", probe_path(emulator), method="DELETE", status=500)
        assert probe(emulator).status_code == 200

    def test_unknown_fault_kind_is_refused(self, emulator: RunningEmulator) -> None:
        with pytest.raises(ValueError, match="unknown fault kind"):
            emulator.control.inject("explode", "/x")


class TestControlPlane:
    def test_reset_restores_defaults(self, emulator: RunningEmulator) -> None:
        emulator.control.settings(run_seconds_multiplier=5)
        emulator.control.add_app(id=CUSTOM_ID, name="custom")
        probe(emulator)
        emulator.control.reset()
        state = emulator.control.state()
        assert state["requests"] == [] and state["runs"] == {} and CUSTOM_ID not in state["apps"]
        assert state["settings"]["run_seconds_multiplier"] == 1.0
        assert state["counts"] == {"starts": 0, "stops": 0, "polls": 0}

    def test_unknown_setting_and_bad_outcome_are_refused(self, emulator: RunningEmulator) -> None:
        with pytest.raises(ValueError, match="unknown"):
            emulator.control.settings(warp_speed=True)
        with pytest.raises(ValueError, match="outcome"):
            emulator.control.add_app(id=CUSTOM_ID, name="custom", outcome="exploded")

    def test_requests_are_recorded_without_credentials(self, emulator: RunningEmulator) -> None:
        probe(emulator)
        (entry,) = emulator.control.state()["requests"]
        method, path, body = PROBES[emulator.platform_key]
        assert abs(entry.pop("at") - time.time()) < 30
        assert entry == {
            "method": method,
            "path": path,
            "query": {},
            "json": body,
            "status": 200,
            "auth_valid": True,
            "fault": None,
        }
        assert emulator.api_key not in json.dumps(emulator.control.state()["requests"])
        assert emulator.control.count(f"{method} {path.replace('1607', '{flow_id}')}") == 1

    def test_connection_fixture_sets_the_airflow_env_var(
        self, emulator: RunningEmulator, emulator_connection: Any
    ) -> None:
        conn_id = emulator_connection(emulator, "my_conn")
        assert conn_id == "my_conn"
        assert json.loads(os.environ["AIRFLOW_CONN_MY_CONN"]) == {
            "conn_type": emulator.platform_key,
            "host": emulator.base_url,
            "password": emulator.api_key,
        }


def test_drop_after_processing_still_creates_the_run(dify_emulator: RunningEmulator) -> None:
    dify_emulator.control.inject("drop", "/workflows/run", method="POST")
    with pytest.raises(requests.RequestException):
        requests.post(
            dify_emulator.base_url + "/workflows/run",
            headers=dify_emulator.headers(),
            json={"inputs": {"query": "q"}, "user": "u"},
            timeout=10,
        )
    assert len(dify_emulator.control.runs()) == 1
    assert dify_emulator.control.count("starts") == 1


def test_drop_before_processing_creates_nothing(dify_emulator: RunningEmulator) -> None:
    dify_emulator.control.inject("drop", "/workflows/run", after_processing=False)
    with pytest.raises(requests.RequestException):
        requests.post(
            dify_emulator.base_url + "/workflows/run",
            headers=dify_emulator.headers(),
            json={"inputs": {"query": "q"}, "user": "u"},
            timeout=10,
        )
    assert dify_emulator.control.runs() == {}


def test_drop_cuts_a_stream_after_its_first_event(dify_emulator: RunningEmulator) -> None:
    dify_emulator.control.inject("drop", "/workflows/run")
    response = requests.post(
        dify_emulator.base_url + "/workflows/run",
        headers=dify_emulator.headers(),
        json={"inputs": {"query": "q"}, "user": "u", "response_mode": "streaming"},
        stream=True,
        timeout=10,
    )
    received = []
    with pytest.raises(requests.RequestException):
        for line in response.iter_lines():
            received.append(line)
    assert received[0] == b"event: ping" and b"workflow_started" in received[2]


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown platform"):
        start_emulator("zapier")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_until_sigterm() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_workflow_providers.testing", "dify", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith(f"dify emulator ready: base_url=http://127.0.0.1:{port}/v1 api_key=app-echo")
        answer = requests.get(
            f"http://127.0.0.1:{port}/v1/info", headers={"Authorization": "Bearer app-slow"}, timeout=10
        )
        assert answer.json()["name"] == "airflow-slow"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
