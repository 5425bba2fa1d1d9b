"""Run emulators in the foreground: ``python -m airflow_workflow_providers.testing dify --port 8601``.

``all --port 8601`` starts every platform's emulator (arcee_orchestra, dify, flowy, scade: sorted by key) on
8601 and the ports after it. Each emulator prints one ready
line; SIGINT or SIGTERM stops them all. ``--set key=value`` (repeatable, JSON values) changes settings.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any

from airflow_workflow_providers.testing import RunningEmulator, emulator_platforms, start_emulator

DEFAULT_PORT = 8601


def _setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_workflow_providers.testing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("platform", choices=[*emulator_platforms(), "all"], help="a platform key, or all")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (the first of several for 'all'); default: 8601 + the platform's place in the sorted keys",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an emulator setting, e.g. run_seconds_multiplier=0.1",
    )
    return parser


def ready_line(emulator: RunningEmulator) -> str:
    """``<platform> emulator ready: base_url=... api_key=... apps: echo=<id>, slow=<id> control=...``
    (a Dify app id is its API key)."""
    apps = ", ".join(f"{name}={app_id}" for name, app_id in emulator.app_ids.items())
    return (
        f"{emulator.platform_key} emulator ready: base_url={emulator.base_url} api_key={emulator.api_key} "
        f"apps: {apps} control={emulator.root_url}/_emulator/state"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    known = emulator_platforms()
    platforms = known if args.platform == "all" else [args.platform]
    first_port = DEFAULT_PORT + known.index(platforms[0]) if args.port is None else args.port
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    running: list[RunningEmulator] = []
    try:
        for offset, platform in enumerate(platforms):
            running.append(start_emulator(platform, args.host, first_port + offset, **dict(args.settings)))
            print(ready_line(running[-1]), flush=True)
        done.wait()
    finally:
        for emulator in running:
            emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
