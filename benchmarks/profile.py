"""``python -m benchmarks.profile [N] [INTERVAL]``: py-spy profile of our trigger's triggerer process.

Runs the scale scenario for our variant only (default 5000 triggers polling every 5 s, remote runs of
40 s), attaches ``py-spy record`` to the triggerer process once it is ready, and prints the share of
samples spent in the provider, aiohttp, Airflow's trigger runner and logging.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks import scale
from benchmarks.emulator import EmulatorProcess

#: substrings of a frame's file path, and what they stand for in the summary
PARTS = {
    "airflow_workflow_providers": "this provider",
    "aiohttp": "aiohttp (HTTP client)",
    "greenback": "Airflow's trigger runner (greenback portal)",
    "structlog": "logging (structlog)",
    "selectors.py": "waiting for I/O (epoll)",
}


def summarize(raw: Path) -> dict[str, float]:
    """Share of samples whose stack passes through each part (inclusive)."""
    shares: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for part, name in PARTS.items():
            if part in stack:
                shares[name] += int(count)
    return {name: shares[name] / total for name in PARTS.values()} if total else {}


def main(n: int = 5000, interval: float = 5.0, run_seconds: float = 40) -> None:
    spy = Path(sys.executable).with_name("py-spy")
    raw = Path(tempfile.mkdtemp()) / "triggerer.raw"
    spies: list[subprocess.Popen] = []
    ready = scale.ready

    def ready_then_profile(client: subprocess.Popen) -> None:
        ready(client)
        command = [
            str(spy),
            "record",
            "--nonblocking",
            "-r",
            "40",
            "-f",
            "raw",
            "-o",
            str(raw),
            "--pid",
            str(client.pid),
        ]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    scale.ready = ready_then_profile
    scale.VARIANTS = ("ours",)
    emulators = [EmulatorProcess()]
    try:
        scale.scale(emulators, [(n, interval)], run_seconds)
    finally:
        for emulator in emulators:
            emulator.stop()
        for process in spies:
            process.wait(timeout=60)
    for name, share in summarize(raw).items():
        print(f"{share:6.1%}  {name}")
    print(f"raw profile (py-spy collapsed stacks): {raw}")


if __name__ == "__main__":
    main(*(float(arg) if "." in arg else int(arg) for arg in sys.argv[1:]))
