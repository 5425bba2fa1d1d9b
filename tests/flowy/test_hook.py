"""FlowyHook over real HTTP against the Flowy emulator."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import types

import pytest
import requests

from airflow_workflow_providers.core import transport
from airflow_workflow_providers.core.errors import (
    InputValidationError,
    PermanentAPIError,
    PlatformAPIError,
    RunFailed,
)
from airflow_workflow_providers.core.model import RunState
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.flowy.hooks import FlowyHook

QUICK = RetryPolicy(attempts=4, initial_delay=0.05, max_delay=0.2)


def hook(conn_id: str = "flowy_default") -> FlowyHook:
    return FlowyHook(conn_id, retry_policy=QUICK)


def finished(flowy, prompt: str = "a red fox", **inputs: str):
    h = hook()
    ref = h.start_run(app_id=flowy.app_ids["echo"], inputs={"prompt": prompt, **inputs})
    return h.wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.1)


def requests_seen(flowy) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"], r["status"]) for r in flowy.control.state()["requests"]]


class Sink:
    """A binary file object that remembers the size of every write."""

    def __init__(self) -> None:
        self.writes: list[int] = []
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> int:
        self.writes.append(len(chunk))
        self.digest.update(chunk)
        return len(chunk)


class TestRuns:
    def test_a_start_is_accepted_with_202_and_the_run_completes_with_outputs(self, flowy):
        run = finished(flowy, "hello flowy")
        assert ("POST", f"/apps/{flowy.app_ids['echo']}/runs", 202) in requests_seen(flowy)
        assert (run.state, run.raw_status) == (RunState.SUCCEEDED, "completed")
        assert run.outputs["caption"] == {
            "nodeId": "caption",
            "kind": "text",
            "url": None,
            "text": "hello flowy",
        }
        assert run.outputs["image"]["kind"] == "image" and run.outputs["image"]["url"].startswith("http")
        assert run.usage["app_title"] == "Echo Studio"
        assert list(flowy.control.runs()) == [run.run_id]

    def test_polls_see_queued_or_running_before_the_outcome(self, flowy):
        h = hook()
        ref = h.start_run(app_id=flowy.app_ids["slow"], inputs={"prompt": "p", "seconds": "1"})
        assert h.get_run(ref).state in (RunState.QUEUED, RunState.RUNNING)
        assert h.wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.2).state is RunState.SUCCEEDED

    def test_a_failed_run_reports_the_remote_error(self, flowy):
        h = hook()
        ref = h.start_run(app_id=flowy.app_ids["slow"], inputs={"prompt": "p", "seconds": "-1"})
        with pytest.raises(
            RunFailed,
            match=f"Flowy run {ref.run_id} failed: render failed: GPU worker lost \\(status='failed'\\)",
        ):
            h.wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.1)

    def test_cancel_is_not_possible_and_says_so(self, flowy):
        h = hook()
        ref = h.start_run(app_id=flowy.app_ids["slow"], inputs={"prompt": "p", "seconds": "30"})
        assert h.cancel_run(ref) is False
        assert h.get_run(ref).state is not RunState.CANCELLED


class TestApps:
    def test_list_apps_and_get_an_app_with_its_declared_inputs(self, flowy):
        apps = hook().list_apps()
        assert {app["id"] for app in apps} == set(flowy.app_ids.values())
        app = hook().get_app(flowy.app_ids["echo"])
        assert [(i["nodeId"], i["kind"], i["required"]) for i in app["inputs"]] == [
            ("prompt", "text", True),
            ("reference", "image_url", False),
        ]

    def test_invalid_inputs_are_all_named_and_nothing_is_submitted(self, flowy):
        with pytest.raises(InputValidationError) as raised:
            hook().check_inputs(flowy.app_ids["echo"], {"promt": "typo", "reference": "cat.png"})
        message = str(raised.value)
        assert "unknown input 'promt'" in message and "missing required input 'prompt'" in message
        assert "input 'reference' (image_url) must be an http(s) URL" in message
        assert flowy.control.count("starts") == 0

    def test_an_unknown_app_is_a_permanent_404(self, flowy):
        with pytest.raises(PermanentAPIError, match="app not found") as raised:
            hook().get_app("0" * 24)
        assert raised.value.status_code == 404

    def test_an_unknown_run_is_a_permanent_error_naming_the_run(self, flowy):
        with pytest.raises(PermanentAPIError, match=f"run {'f' * 24}.*run not found"):
            hook().get_run("f" * 24)


class TestConnection:
    def test_test_connection_spends_no_credits(self, flowy):
        ok, message = hook().test_connection()
        assert ok and message == "Connected to Flowy: 2 apps visible ('Echo Studio', 'Slow Clip')."
        assert requests_seen(flowy) == [("GET", "/apps", 200)]
        assert flowy.control.runs() == {}

    def test_a_bad_key_fails_fast_and_never_shows_the_key(self, flowy, monkeypatch):
        value = f'{{"conn_type": "flowy", "host": "{flowy.base_url}", "password": "flw_sk_SECRET"}}'
        monkeypatch.setenv("AIRFLOW_CONN_FLOWY_BAD", value)
        with pytest.raises(PermanentAPIError) as raised:
            hook("flowy_bad").list_apps()
        assert raised.value.status_code == 401 and "flw_sk_SECRET" not in str(raised.value)
        assert requests_seen(flowy) == [("GET", "/apps", 401)]  # not retried
        ok, message = hook("flowy_bad").test_connection()
        assert not ok and "401" in message and "flw_sk_SECRET" not in message


class TestLimits:
    def test_exhausted_credits_are_permanent_and_say_what_to_do(self, flowy):
        flowy.control.settings(credits_exhausted=True)
        with pytest.raises(PermanentAPIError, match="out of credits or has reached its spend cap") as raised:
            hook().start_run(app_id=flowy.app_ids["echo"], inputs={"prompt": "p"})
        assert raised.value.status_code == 402
        assert flowy.control.count("starts") == 1 and flowy.control.runs() == {}

    def test_a_start_over_the_concurrency_cap_waits_retry_after_and_runs_once(self, flowy):
        flowy.control.settings(max_concurrent_runs=1)
        h = hook()
        h.start_run(app_id=flowy.app_ids["slow"], inputs={"prompt": "first", "seconds": "1"})
        began = time.monotonic()
        h.start_run(app_id=flowy.app_ids["echo"], inputs={"prompt": "second"})
        assert time.monotonic() - began >= 0.9  # Retry-After is whole seconds
        statuses = [status for method, _, status in requests_seen(flowy) if method == "POST"]
        assert statuses == [202, 429, 202] and len(flowy.control.runs()) == 2

    def test_a_poll_answered_429_is_retried_after_retry_after(self, flowy):
        run = finished(flowy)
        flowy.control.inject("status", r"/runs/.*", method="GET", status=429, retry_after=1)
        began = time.monotonic()
        assert hook().get_run(run.run_id).state is RunState.SUCCEEDED
        assert time.monotonic() - began >= 0.9

    def test_requests_hold_off_until_the_window_resets_when_the_budget_is_spent(self, flowy, monkeypatch):
        if 60 - time.time() % 60 < 3:  # the emulator's window turns over on the minute
            time.sleep(60 - time.time() % 60 + 0.1)
        flowy.control.settings(rate_limit_per_minute=3)
        holds: list[float] = []
        skipped = [0.0]

        def sleep(seconds: float) -> None:  # the window turning over, without waiting for it
            holds.append(seconds)
            skipped[0] += seconds
            flowy.control.settings(rate_limit_per_minute=60)

        clock = types.SimpleNamespace(
            monotonic=time.monotonic, sleep=sleep, time=lambda: time.time() + skipped[0]
        )
        monkeypatch.setattr(transport, "time", clock)
        h = hook()
        for _ in range(4):
            h.list_apps()
        assert len(holds) == 1 and 0 < holds[0] <= 61
        assert [status for *_, status in requests_seen(flowy)] == [200, 200, 200, 200]  # no 429 spent


class TestDownload:
    def test_an_output_is_streamed_in_chunks_and_matches_an_independent_download(self, flowy):
        flowy.control.settings(media_bytes=3 * 1024 * 1024)
        url = finished(flowy).outputs["image"]["url"]
        sink = Sink()
        stored = hook().download(url, sink, chunk_size=256 * 1024)
        independent = requests.get(url, timeout=10).content
        assert stored == {"size": len(independent), "sha256": hashlib.sha256(independent).hexdigest()}
        assert sink.digest.hexdigest() == stored["sha256"]
        assert max(sink.writes) <= 256 * 1024 and len(sink.writes) >= 12

    @pytest.mark.parametrize("form", ["path", "str", "file-url"])
    def test_an_output_is_written_to_a_path_or_storage_url(self, flowy, tmp_path, form):
        url = finished(flowy).outputs["image"]["url"]
        target = tmp_path / "image.png"
        stored = hook().download(
            url, {"path": target, "str": str(target), "file-url": f"file://{target}"}[form]
        )
        data = target.read_bytes()
        assert stored == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        assert data.startswith(b"\x89PNG")

    def test_an_expired_url_fails_without_showing_the_signature_and_leaves_no_file(self, flowy, tmp_path):
        flowy.control.settings(url_expiry_seconds=0)
        url = finished(flowy).outputs["image"]["url"]
        target = tmp_path / "image.png"
        with pytest.raises(PlatformAPIError, match="HTTP 403.*signed URL expired") as raised:
            hook().download(url, target)
        assert "sig=" not in str(raised.value) and raised.value.status_code == 403
        assert not target.exists()

    def test_a_signed_url_is_fetched_as_is_and_without_the_api_key(self, flowy):
        seen: list[tuple[str, str | None]] = []

        class Storage(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"bytes")

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Storage)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/bucket/out.png?expires=1&sig=abc"
            assert hook().download(url, Sink())["size"] == 5
        finally:
            server.shutdown()
            server.server_close()
        assert seen == [("/bucket/out.png?expires=1&sig=abc", None)]
