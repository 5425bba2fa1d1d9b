"""``python -m benchmarks [--quick] [--only scale,saturation,imports] [--report-only]``.

Writes ``benchmarks/results/latest.json`` and the generated block of ``BENCHMARKS.md`` (tables,
ratios, plot ``benchmarks/results/scale.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PARTS = ("imports", "scale", "saturation", "lifecycle")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small N, 15 s runs: a few minutes")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    parser.add_argument(
        "--run-seconds", type=float, default=None, help="remote run duration (default 60, quick 15)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite BENCHMARKS.md from the saved results"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--no-report", action="store_true", help="do not touch BENCHMARKS.md")
    return parser


def machine() -> dict[str, Any]:
    import aiohttp
    import airflow
    import psutil

    try:
        from importlib.metadata import version

        http = version("apache-airflow-providers-http")
    except Exception:  # noqa: BLE001 - only for the report
        http = "not installed"
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "airflow": airflow.__version__,
        "aiohttp": aiohttp.__version__,
        "providers_http": http,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    from benchmarks import report

    if args.report_only:
        report.write(json.loads(args.out.read_text()))
        return 0
    from benchmarks import imports, lifecycle, scale
    from benchmarks.emulator import EmulatorProcess

    parts = [p for p in args.only.split(",") if p]
    run_seconds = args.run_seconds or (15.0 if args.quick else 60.0)
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "run_seconds": run_seconds,
        "command": "make bench" + (" BENCH_ARGS=--quick" if args.quick else ""),
    }
    if args.out.exists():  # keep the parts not rerun
        previous = json.loads(args.out.read_text())
        results.update({k: previous[k] for k in PARTS if k in previous and k not in parts})
    started = time.monotonic()
    if "imports" in parts:
        print("Import and parse cost...", flush=True)
        results["imports"] = {
            "import": imports.import_times(3 if args.quick else 7),
            "parse": imports.parse_times(1000, 2 if args.quick else 5),
        }
        _save(args.out, results)
    emulator = EmulatorProcess() if {"scale", "saturation", "lifecycle"} & set(parts) else None
    try:
        if "scale" in parts:
            print("Triggerer scale...", flush=True)
            matrix = scale.QUICK_MATRIX if args.quick else scale.FULL_MATRIX
            results["scale"] = scale.scale([emulator], matrix, run_seconds)
            _save(args.out, results)
        if "saturation" in parts:
            print("Saturation...", flush=True)
            steps = scale.saturation(
                [emulator],
                scale.SAT_INTERVALS[:4] if args.quick else scale.SAT_INTERVALS,
                scale.SAT_N,
                8.0 if args.quick else 15.0,
            )
            results["saturation"] = {
                "n": scale.SAT_N,
                "steps": steps,
                "points": scale.saturation_points(steps),
            }
            _save(args.out, results)
        if "lifecycle" in parts:
            print("A trigger's whole life, and a triggerer restart...", flush=True)
            rounds = 1 if args.quick else 3
            results["lifecycle"] = {
                "whole_life": lifecycle.whole_life([emulator], n=300 if args.quick else 1000, rounds=rounds),
                "restart": lifecycle.restart([emulator], n=1000 if args.quick else 5000, rounds=rounds),
            }
            _save(args.out, results)
    finally:
        if emulator is not None:
            emulator.stop()
    results["seconds"] = time.monotonic() - started
    _save(args.out, results)
    if not args.no_report:
        report.write(results)
    print(f"Done in {results['seconds'] / 60:.1f} min: {args.out}", flush=True)
    return 0


def _save(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
