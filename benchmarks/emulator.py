"""The Dify emulator in its own process on loopback, and the remote runs the pollers wait on."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil

from airflow_workflow_providers.testing._control import EmulatorControl

SLOW_KEY = "app-slow"  # its runs last their ``delay`` input, in seconds
#: keep-alive pings of the start streams would only add emulator work; the runs never depend on them
SETTINGS = {"ping_interval": 36000, "queued_seconds": 0.0, "stream_close_delay": 0.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EmulatorProcess:
    """``python -m airflow_workflow_providers.testing dify`` as a child process."""

    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        args = [sys.executable, "-m", "airflow_workflow_providers.testing", "dify", "--port", str(self.port)]
        for key, value in SETTINGS.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if "ready" not in line:
            self.stop()
            raise RuntimeError(f"the Dify emulator did not start: {line!r}")
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.root_url + "/v1"
        self.control = EmulatorControl(self.root_url, timeout=120)
        self.ps = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def connection_env(self, index: int) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` for ours (a Dify connection) and for the alternative (an HTTP one)."""
        ours = {"conn_type": "dify", "host": self.base_url, "password": SLOW_KEY}
        http = {"conn_type": "http", "host": self.base_url, "extra": {"Authorization": f"Bearer {SLOW_KEY}"}}
        return {
            f"AIRFLOW_CONN_DIFY_BENCH_{index}": json.dumps(ours),
            f"AIRFLOW_CONN_HTTP_BENCH_{index}": json.dumps(http),
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def _start_one(session: aiohttp.ClientSession, url: str, seconds: float, user: str) -> dict[str, Any]:
    body = {"inputs": {"query": "bench", "delay": seconds}, "user": user, "response_mode": "streaming"}
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {SLOW_KEY}"}) as answer:
        async for line in answer.content:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                return {"run_id": event["workflow_run_id"], "task_id": event["task_id"], "user": user}
    raise RuntimeError("a start stream ended without a run id")


async def _start_many(base_url: str, count: int, seconds: float, concurrency: int) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(concurrency)
    url = base_url + "/workflows/run"

    async def one(session: aiohttp.ClientSession, i: int) -> dict[str, Any]:
        async with gate:
            return await _start_one(session, url, seconds, f"bench-{i}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        return list(await asyncio.gather(*(one(session, i) for i in range(count))))


def start_runs(emulators: list[EmulatorProcess], count: int, seconds: float) -> list[dict[str, Any]]:
    """Start ``count`` runs of ``seconds`` each, spread over the emulators; each gets its ``ends_at``
    (epoch seconds, the emulator's own plan) and what every variant needs to reach it."""
    runs: list[dict[str, Any]] = []
    for index, emulator in enumerate(emulators):
        emulator.control.reset()
        share = count // len(emulators) + (index < count % len(emulators))
        started = asyncio.run(_start_many(emulator.base_url, share, seconds, concurrency=64))
        planned = emulator.control.runs()
        for run in started:
            plan = planned[run["run_id"]]
            run.update(
                conn_id=f"dify_bench_{index}",
                http_conn_id=f"http_bench_{index}",
                key=SLOW_KEY,
                base_url=emulator.base_url,
                ends_at=plan["created_at"] + SETTINGS["queued_seconds"] + seconds,
            )
        runs += started
    return runs


def environment(emulators: list[EmulatorProcess]) -> dict[str, str]:
    env = dict(os.environ)
    for index, emulator in enumerate(emulators):
        env.update(emulator.connection_env(index))
    return env


def wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))
