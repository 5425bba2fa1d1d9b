"""Child processes the harness starts, each in its own process group, ended by pid even when a test fails."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

#: every process group this interpreter started and has not ended yet (pid -> name); atexit ends them
_LIVE: dict[int, str] = {}


class Process:
    """One started command: stdout and stderr go to ``log``; it leads a new process group.

    The group lets :meth:`stop` end what the command itself started (LocalExecutor workers, task
    processes, api-server workers) by the one pid the harness knows, and nothing else.
    """

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file: IO[bytes] = log.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        _LIVE[self.pid] = name

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        """The last lines of this process's log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; returns the exit code."""
        try:
            if self.alive():
                _signal_group(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    _signal_group(self.pid, signal.SIGKILL)
                    self.popen.wait(timeout=10)
            # children that outlived their leader (e.g. a task process) still carry the group id
            _signal_group(self.pid, signal.SIGKILL)
            return self.popen.returncode
        finally:
            _LIVE.pop(self.pid, None)
            self._log_file.close()

    def kill(self) -> int | None:
        """SIGKILL the whole group at once, as a crash or the OOM killer would: no cleanup runs."""
        try:
            _signal_group(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
            return self.popen.returncode
        finally:
            _LIVE.pop(self.pid, None)
            self._log_file.close()

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid} {'running' if self.alive() else 'ended'}>"


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def descendants(pid: int) -> dict[int, str]:
    """pid -> command line (as ``setproctitle`` left it) of every live descendant of ``pid`` (Linux /proc).

    By parentage, not process group: Airflow 3.3's task supervisor puts each task process in a group
    of its own.
    """
    children: dict[int, list[int]] = {}
    titles: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])  # the field after the state, past "(comm)"
        children.setdefault(parent, []).append(int(entry.name))
        titles[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    found: dict[int, str] = {}
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found[child] = titles[child]
        pending.extend(children.get(child, []))
    return found


def wait_until(condition, timeout: float, what: str, interval: float = 0.5, describe=None):
    """Poll ``condition()`` until it returns something truthy; raise ``TimeoutError`` naming ``what``.

    ``describe()`` (optional) adds the current situation to the error, e.g. which task is stuck.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f": {describe()}" if describe else ""
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s{detail}")
        time.sleep(interval)


@atexit.register
def _end_leftovers() -> None:
    """Last resort when the interpreter exits without a clean teardown: end every group still live."""
    for pid in list(_LIVE):
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while _LIVE and time.monotonic() < deadline:
        for pid in list(_LIVE):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    _LIVE.pop(pid)
            except ChildProcessError:
                _LIVE.pop(pid)
        time.sleep(0.1)
    for pid in list(_LIVE):
        _signal_group(pid, signal.SIGKILL)
        _LIVE.pop(pid)
