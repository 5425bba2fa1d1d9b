"""Flowy emulator: generative apps run by id (``/genstudio-svc-v2/api/v1``), media served at signed URLs.

Auth is ``Authorization: Bearer <key>`` with one workspace key, ``flw_sk_emulator``. Every success body is
``{"data": ...}``, every error ``{"error": msg}``, and every response carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (a fixed one-minute window). Default apps:

- ``65f1a2b3c4d5e6f708090a01`` (echo): inputs ``prompt`` (text, required) and ``reference`` (image_url,
  optional) -> outputs ``caption`` (text, the prompt) and ``image`` (image); lasts 0.2 s.
- ``65f1a2b3c4d5e6f708090a02`` (slow): ``prompt`` and ``seconds`` (text, default "5") -> ``caption`` and
  ``clip`` (video); lasts ``seconds``, a negative number fails.

Run statuses: ``queued``, ``running``, ``completed``, ``failed`` (outcomes: the last two). Media outputs
are served by the emulator at ``/media/<asset>?expires=<epoch>&sig=<hmac>``, ``media_bytes`` long and
deterministic: an image is a real PNG that opens in any viewer (padded with a chunk viewers skip); an expired or forged URL answers 403. Settings: ``rate_limit_per_minute`` (60: requests per
window, despite its name), ``rate_limit_window_seconds`` (60), ``max_concurrent_runs`` (3), ``url_expiry_seconds`` (3600), ``credits_exhausted`` (False -> 402),
``media_bytes`` (512 KiB).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import struct
import time
import zlib
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from airflow_workflow_providers.testing import _signing
from airflow_workflow_providers.testing._runs import FAILED, AppDef, InputDef, OutputDef, Phase, Run, utc_iso
from airflow_workflow_providers.testing._server import Emulator, Route, read_json

FLOWY_KEY = "flw_sk_emulator"
ECHO_APP = "65f1a2b3c4d5e6f708090a01"
SLOW_APP = "65f1a2b3c4d5e6f708090a02"
_APP_ID = re.compile(r"[0-9a-f]{24}")
_WINDOW = 60
_CHUNK = 64 * 1024
_MEDIA = {  # output type -> (extension, content type, leading magic bytes)
    "image": ("png", "image/png", b"\x89PNG\r\n\x1a\n"),
    "video": ("mp4", "video/mp4", b"\x00\x00\x00\x18ftypmp42"),
    "audio": ("mp3", "audio/mpeg", b"ID3\x04\x00\x00"),
}
_TYPES = {extension: (content_type, magic) for extension, content_type, magic in _MEDIA.values()}


class FlowyEmulator(Emulator):
    platform_key = "flowy"
    base_path = "/genstudio-svc-v2/api/v1"
    outcomes = frozenset({"completed", FAILED})
    success_outcome = "completed"
    error_field = "error"
    unauthorized_message = "invalid api key"
    default_app_ids: ClassVar[Mapping[str, str]] = {"echo": ECHO_APP, "slow": SLOW_APP}
    default_settings: ClassVar[Mapping[str, Any]] = {
        "rate_limit_per_minute": 60,
        "rate_limit_window_seconds": _WINDOW,
        "max_concurrent_runs": 3,
        "url_expiry_seconds": 3600,
        "credits_exhausted": False,
        "media_bytes": 512 * 1024,
    }
    api_key = FLOWY_KEY

    def default_apps(self) -> list[AppDef]:
        prompt, caption = (
            InputDef("prompt", label="Prompt"),
            OutputDef("caption", "{prompt}", label="Caption"),
        )
        return [
            AppDef(
                ECHO_APP,
                "Echo Studio",
                "Captions and renders a prompt.",
                inputs=(prompt, InputDef("reference", "image_url", required=False, label="Reference image")),
                outputs=(caption, OutputDef("image", type="image", label="Image")),
                outcome=self.success_outcome,
            ),
            AppDef(
                SLOW_APP,
                "Slow Clip",
                "Renders a clip in `seconds` seconds.",
                inputs=(prompt, InputDef("seconds", required=False, default="5", label="Seconds")),
                outputs=(caption, OutputDef("clip", type="video", label="Clip")),
                duration_input="seconds",
                outcome=self.success_outcome,
                error="render failed: GPU worker lost",
            ),
        ]

    def normalize_app(self, app: AppDef) -> AppDef:
        if not _APP_ID.fullmatch(app.id):
            raise ValueError("Flowy app ids are 24 lowercase hex characters")
        return app

    def on_reset(self) -> None:
        #: (length, start) of the window the count is of
        self._counted_window = (0.0, 0.0)
        self._window_used = 0

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/apps", self._apps),
            Route("GET", "/apps/{app_id}", self._app),
            Route("POST", "/apps/{app_id}/runs", self._start, "starts"),
            Route("GET", "/runs/{run_id}", self._run, "polls"),
        ]

    def root_routes(self) -> list[Route]:
        return [Route("GET", "/media/{asset}", self._media)]

    def run_state(self, run: Run) -> str:
        return {Phase.QUEUED: "queued", Phase.RUNNING: "running"}.get(run.phase(), run.outcome)

    # -- rate limit -----------------------------------------------------------------------------
    def _window(self) -> tuple[int, int]:
        """(requests left, reset epoch) of the current window. Windows are aligned to their length, and a
        new length (a settings change) starts a new count: a 2 s window must not inherit what was spent in
        the 60 s window that began on the same second."""
        now = time.time()
        length = self.settings["rate_limit_window_seconds"]
        window = (length, now - now % length)
        if window != self._counted_window:
            self._counted_window, self._window_used = window, 0
        limit = self.settings["rate_limit_per_minute"]
        return max(0, limit - self._window_used), int(window[1] + length)

    def admit(self, request: web.Request) -> web.Response | None:
        remaining, reset = self._window()
        if remaining == 0:
            return _too_many(self.error(429, "rate limit exceeded"), reset - time.time())
        self._window_used += 1
        return None

    def response_headers(self) -> Mapping[str, str]:
        remaining, reset = self._window()
        return {
            "X-RateLimit-Limit": str(self.settings["rate_limit_per_minute"]),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }

    # -- handlers -------------------------------------------------------------------------------
    async def _apps(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [self._summary_of(request, app) for app in self.apps.values()]})

    async def _app(self, request: web.Request) -> web.Response:
        app = self.apps.get(request.match_info["app_id"])
        if app is None:
            return self.error(404, "app not found")
        inputs = [
            {"nodeId": i.name, "label": i.label or i.name, "kind": i.type, "required": i.required}
            for i in app.inputs
        ]
        outputs = [{"nodeId": o.name, "label": o.label or o.name, "outputType": o.type} for o in app.outputs]
        return web.json_response(
            {"data": {**self._summary_of(request, app), "inputs": inputs, "outputs": outputs}}
        )

    async def _start(self, request: web.Request) -> web.Response:
        app = self.apps.get(request.match_info["app_id"])
        if app is None:
            return self.error(404, "app not found")
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, dict):
            return self.error(400, 'body must be {"inputs": {<nodeId>: <value>}}')
        known = {spec.name for spec in app.inputs}
        wrong = [node for node in inputs if node not in known]
        wrong += [spec.name for spec in app.inputs if spec.required and inputs.get(spec.name) in (None, "")]
        if wrong:
            return self.error(400, f"missing required input: {wrong[0]}")
        if self.settings["credits_exhausted"]:
            return self.error(402, "insufficient credits")
        run = self.start_run(app, inputs, run_id=secrets.token_hex(12))
        return web.json_response({"data": {"runId": run.id, "status": "queued"}}, status=202)

    async def _run(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["run_id"])
        if run is None:
            return self.error(404, "run not found")
        status = self.run_state(run)
        updated = {"queued": run.created_at, "running": run.started_at}.get(status, run.finished_at)
        outputs = [self._output(request, run, o) for o in run.app.outputs] if status == "completed" else []
        return web.json_response(
            {
                "data": {
                    "runId": run.id,
                    "appId": run.app.id,
                    "appTitle": run.app.name,
                    "status": status,
                    "outputs": outputs,
                    "error": run.error if status == FAILED else None,
                    "createdAt": utc_iso(run.created_at, "milliseconds", "Z"),
                    "updatedAt": utc_iso(updated, "milliseconds", "Z"),
                }
            }
        )

    async def _media(self, request: web.Request) -> web.StreamResponse:
        asset, expires = request.match_info["asset"], request.query.get("expires", "")
        kind = _TYPES.get(asset.rsplit(".", 1)[-1])
        if (
            kind is None
            or not expires.isdigit()
            or not _signing.verify(request.query.get("sig", ""), asset, expires)
        ):
            return self.error(403, "invalid signature")
        if time.time() >= int(expires):
            return self.error(403, "signed URL expired")
        content_type, magic = kind
        if content_type == "image/png":
            content = png(asset.encode(), self.settings["media_bytes"])
        else:
            content = magic + hashlib.shake_256(asset.encode()).digest(
                self.settings["media_bytes"] - len(magic)
            )
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = len(content)
        await response.prepare(request)
        for offset in range(0, len(content), _CHUNK):
            await response.write(content[offset : offset + _CHUNK])
        await response.write_eof()
        return response

    def _summary_of(self, request: web.Request, app: AppDef) -> dict[str, Any]:
        return {
            "id": app.id,
            "slug": re.sub(r"[^a-z0-9]+", "-", app.name.lower()).strip("-"),
            "title": app.name,
            "description": app.description,
            "published": True,
            "runCount": sum(run.app.id == app.id for run in self.runs.values()),
            "thumbnailUrl": self._signed_url(request, f"{app.id}-thumbnail.png"),
        }

    def _output(self, request: web.Request, run: Run, output: OutputDef) -> dict[str, Any]:
        if output.type not in _MEDIA:
            return {"nodeId": output.name, "kind": output.type, "url": None, "text": run.outputs[output.name]}
        asset = f"{run.id}-{output.name}.{_MEDIA[output.type][0]}"
        return {
            "nodeId": output.name,
            "kind": output.type,
            "url": self._signed_url(request, asset),
            "text": None,
        }

    def _signed_url(self, request: web.Request, asset: str) -> str:
        expires = int(time.time() + self.settings["url_expiry_seconds"])
        return f"{request.url.origin()}/media/{asset}?expires={expires}&sig={_signing.sign(asset, expires)}"


def _too_many(response: web.Response, retry_after: float) -> web.Response:
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def png(seed: bytes, size: int, side: int = 96) -> bytes:
    """A real ``side`` x ``side`` PNG (a gradient in colours drawn from ``seed``) that any viewer opens,
    padded with a private ancillary chunk (which viewers skip) to ``size`` bytes when it is smaller."""
    red, green, blue = hashlib.sha256(seed).digest()[:3]
    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes(((red + x * 2) % 256, (green + y * 2) % 256, (blue + x + y) % 256)) for x in range(side)
        )
        for y in range(side)
    )
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    chunks = [_chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(rows, 9))]
    padding = size - (8 + sum(map(len, chunks)) + 12 + 12)  # signature, chunks, IEND, the padding chunk
    if padding >= 0:
        chunks.append(_chunk(b"paDd", hashlib.shake_256(seed).digest(padding)))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
