"""The Flowy emulator: runs polled until completed, media at expiring signed URLs, rate-limit headers."""

from __future__ import annotations

import struct
import time
import zlib
from typing import Any

import pytest
import requests

from airflow_workflow_providers.testing import RunningEmulator

Api = Any  # the conftest's client
ECHO = "65f1a2b3c4d5e6f708090a01"
SLOW = "65f1a2b3c4d5e6f708090a02"


def finished_run(flowy: Api, app_id: str = ECHO, **inputs: Any) -> dict:
    started = flowy.post(f"/apps/{app_id}/runs", json={"inputs": {"prompt": "a red fox", **inputs}})
    assert (started.status_code, started.json()["data"]["status"]) == (202, "queued")
    time.sleep(0.35)
    return flowy.get(f"/runs/{started.json()['data']['runId']}").json()["data"]


def test_run_completes_with_text_and_image_outputs(flowy: Api, flowy_emulator: RunningEmulator) -> None:
    run = finished_run(flowy, reference="https://example.com/fox.png")
    assert (run["status"], run["appId"], run["error"]) == ("completed", ECHO, None)
    caption, image = run["outputs"]
    assert caption == {"nodeId": "caption", "kind": "text", "url": None, "text": "a red fox"}
    assert image["kind"] == "image" and image["url"].startswith(flowy_emulator.root_url + "/media/")
    assert run["createdAt"].endswith("Z")
    assert flowy_emulator.control.count("starts") == 1 and flowy_emulator.control.count("polls") == 1


def test_media_downloads_then_expires(flowy: Api, flowy_emulator: RunningEmulator) -> None:
    url = finished_run(flowy)["outputs"][1]["url"]
    first, again = requests.get(url, timeout=10), requests.get(url, timeout=10)
    assert (first.status_code, first.headers["Content-Type"]) == (200, "image/png")
    assert first.content.startswith(b"\x89PNG") and len(first.content) == 512 * 1024
    assert first.content == again.content
    assert decoded_png(first.content) == (96, 96, 96 * (1 + 96 * 3))  # a real image, not just its magic
    assert requests.get(url.replace("sig=", "sig=0"), timeout=10).status_code == 403
    flowy_emulator.control.settings(url_expiry_seconds=0)
    expired = finished_run(flowy)["outputs"][1]["url"]
    assert requests.get(expired, timeout=10).json() == {"error": "signed URL expired"}


def test_failed_run(flowy: Api) -> None:
    run = finished_run(flowy, SLOW, seconds="-1")
    assert (run["status"], run["outputs"], run["error"]) == ("failed", [], "render failed: GPU worker lost")


def test_app_description(flowy: Api) -> None:
    apps = flowy.get("/apps").json()["data"]
    assert {app["id"] for app in apps} == {ECHO, SLOW}
    app = flowy.get(f"/apps/{ECHO}").json()["data"]
    assert [(i["nodeId"], i["kind"], i["required"]) for i in app["inputs"]] == [
        ("prompt", "text", True),
        ("reference", "image_url", False),
    ]
    assert [(o["nodeId"], o["outputType"]) for o in app["outputs"]] == [
        ("caption", "text"),
        ("image", "image"),
    ]
    assert flowy.get("/apps/000000000000000000000000").json() == {"error": "app not found"}


@pytest.mark.parametrize("inputs", [{}, {"prompt": "x", "nope": "y"}])
def test_missing_or_unknown_inputs(flowy: Api, inputs: dict) -> None:
    response = flowy.post(f"/apps/{ECHO}/runs", json={"inputs": inputs})
    assert response.status_code == 400 and response.json()["error"].startswith("missing required input: ")


def test_rate_limit_headers_and_429(flowy: Api, flowy_emulator: RunningEmulator) -> None:
    first = flowy.get("/apps")
    assert first.headers["X-RateLimit-Limit"] == "60"
    assert int(first.headers["X-RateLimit-Remaining"]) == 59
    assert int(first.headers["X-RateLimit-Reset"]) > time.time()
    flowy_emulator.control.settings(rate_limit_per_minute=2)
    assert flowy.get("/apps").ok
    limited = flowy.get("/apps")
    assert (limited.status_code, limited.json()) == (429, {"error": "rate limit exceeded"})
    assert int(limited.headers["Retry-After"]) >= 1 and limited.headers["X-RateLimit-Remaining"] == "0"


def test_a_new_window_length_starts_a_new_count(flowy: Api, flowy_emulator: RunningEmulator) -> None:
    while time.time() % 4 > 0.5:  # where a 2 s window and a 4 s window begin on the same second
        time.sleep(0.05)
    flowy_emulator.control.settings(rate_limit_per_minute=3, rate_limit_window_seconds=2)
    assert [flowy.get("/apps").status_code for _ in range(4)] == [200, 200, 200, 429]
    flowy_emulator.control.settings(rate_limit_window_seconds=4)
    fresh = flowy.get("/apps")
    assert (fresh.status_code, fresh.headers["X-RateLimit-Remaining"]) == (200, "2")


def test_concurrency_cap_and_credits(flowy: Api, flowy_emulator: RunningEmulator) -> None:
    flowy_emulator.control.settings(max_concurrent_runs=1)
    body = {"inputs": {"prompt": "p", "seconds": "5"}}
    assert flowy.post(f"/apps/{SLOW}/runs", json=body).status_code == 202
    capped = flowy.post(f"/apps/{SLOW}/runs", json=body)
    assert (capped.status_code, capped.json()["error"]) == (429, "too many concurrent runs")
    assert int(capped.headers["Retry-After"]) >= 4
    flowy_emulator.control.settings(credits_exhausted=True)
    assert flowy.post(f"/apps/{SLOW}/runs", json=body).status_code == 402


def test_wrong_key(flowy: Api) -> None:
    response = flowy.get("/apps", headers={"Authorization": "Bearer flw_sk_wrong"})
    assert (response.status_code, response.json()) == (401, {"error": "invalid api key"})
    assert "X-RateLimit-Limit" in response.headers


def decoded_png(data: bytes) -> tuple[int, int, int]:
    """(width, height, bytes of pixel rows) of a PNG, after checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset : offset + 4]), data[offset + 4 : offset + 8]
        body, crc = data[offset + 8 : offset + 8 + length], data[offset + 8 + length : offset + 12 + length]
        assert struct.unpack(">I", crc)[0] == zlib.crc32(kind + body), kind
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        offset += 12 + length
    assert list(chunks)[0] == b"IHDR" and list(chunks)[-1] == b"IEND"
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    return width, height, len(zlib.decompress(chunks[b"IDAT"]))
