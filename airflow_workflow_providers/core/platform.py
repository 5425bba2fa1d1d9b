"""The description of one platform's HTTP API, free of I/O.

A platform subclasses :class:`PlatformAPI` and says how to build its start, status and cancel
requests and how to read the answers into a normalized :class:`Run`. The engine (transport, hooks,
trigger, operators) does everything else. Platform modules import nothing from ``requests``,
``aiohttp`` or Airflow.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import OutputFile, Response, Run, RunRef
from airflow_workflow_providers.core.pacing import RateBudget
from airflow_workflow_providers.core.progress import Progress
from airflow_workflow_providers.core.registry import PlatformInfo
from airflow_workflow_providers.core.retry import Call


class PlatformAPI:
    """Base description; subclasses fill in the class attributes and the ``build_*``/``parse_*`` pairs."""

    #: the platform's entry in the registry: its key (trigger kwarg, connection type), name, base URL
    info: ClassVar[PlatformInfo]

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def name(self) -> str:
        """Shown in logs and errors, e.g. "Dify"."""
        return self.info.name

    @property
    def default_base_url(self) -> str:
        return self.info.default_base_url

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    # -- operations -------------------------------------------------------------------------------
    # ``*args`` makes these signatures gradual for type checkers, so that each platform declares the
    # keyword arguments of its own spec; callers always pass the spec by keyword.
    def start(self, *args: Any, **spec: Any) -> Call[RunRef]:
        """The call that starts a run; ``spec`` is what the operator collected."""
        raise NotImplementedError

    def find_run(self, *args: Any, **spec: Any) -> Call[list[RunRef]] | None:
        """A lookup for the runs that may be the one ``start(**spec)`` created at or after ``since=`` (epoch
        seconds), used when a start's answer was lost; ``None`` where the platform offers no way to find it.

        The run is taken only when exactly one candidate remains after :meth:`started_by`.
        """
        return None

    def started_by(self, ref: RunRef, *args: Any, **spec: Any) -> Call[bool] | None:
        """A check that candidate ``ref`` of :meth:`find_run` ran with ``spec`` (e.g. the same inputs);
        ``None`` where :meth:`find_run` already keeps only such runs."""
        return None

    def status(self, ref: RunRef) -> Call[Run]:
        raise NotImplementedError

    def progress(self, ref: RunRef) -> Call[list[Progress]] | None:
        """A streaming call following the run's events (its reader yields ``core.progress`` items), or
        ``None`` where the platform streams none. Optional: polling alone decides the outcome."""
        return None

    def cancel(self, ref: RunRef) -> Call[Any] | None:
        """The call that stops a run, or ``None`` where it cannot be stopped (see :meth:`why_no_cancel`)."""
        return None

    def why_no_cancel(self, ref: RunRef) -> str:
        return f"{self.name} has no endpoint to stop a run"

    def run_url(self, base_url: str, ref: RunRef) -> str | None:
        """The run's page in the platform's web app, for the task's "Remote run" link; ``None`` if unknown."""
        return None

    def file_outputs(self, run: Run, base_url: str) -> list[OutputFile]:
        """The files among a finished run's outputs (for ``output_dir``); none by default. ``base_url`` is
        the connection's, for platforms that answer relative file URLs."""
        return []

    def probe(self) -> Call[str]:
        """A cheap authenticated call that spends no credits, for ``test_connection``; parses to a description."""
        raise NotImplementedError

    def rate_budget(self, response: Response) -> RateBudget | None:
        """The key's request budget as this answer announces it, for platforms that announce one
        (``core.pacing``); ``None`` for none."""
        return None

    # -- errors -----------------------------------------------------------------------------------
    def error_detail(self, response: Response) -> tuple[str | None, str]:
        """``(code, message)`` from an error answer; tolerates non-JSON pages."""
        try:
            body = response.json()
        except ValueError:
            return None, _excerpt(response.body)
        if isinstance(body, Mapping):
            message = body.get("message") or body.get("detail") or body.get("error")
            code = body.get("code")
            return (str(code) if code else None), str(message if message is not None else body)
        return None, _excerpt(response.body)

    def retry_verdict(self, response: Response) -> bool | float:
        """For an error answer: ``False`` (permanent), ``True`` (retry with backoff) or a delay in seconds."""
        if response.status == 429 or response.status >= 500:
            return retry_after(response) or True
        return False

    def not_processed(self, response: Response) -> bool:
        """Whether an error answer refused the request for load before doing any work (a rate or
        concurrency limit), so that even a start may be sent again."""
        return response.status in (429, 503)


def retry_after(response: Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), if any."""
    value = response.header("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def json_body(response: Response, platform: str) -> Any:
    """Decode a 2xx body; a body that is not JSON is a :class:`ResponseFormatError`."""
    try:
        return response.json()
    except ValueError as exc:
        raise ResponseFormatError(
            f"{platform} answered HTTP {response.status} with a body that is not JSON: "
            f"{_excerpt(response.body)}"
        ) from exc


def require(mapping: Any, key: str, platform: str, what: str) -> Any:
    """``mapping[key]``, or a :class:`ResponseFormatError` naming what was expected."""
    if not isinstance(mapping, Mapping):
        raise ResponseFormatError(f"{platform} {what}: expected a JSON object, got {type(mapping).__name__}")
    if mapping.get(key) is None:
        raise ResponseFormatError(f"{platform} {what}: field {key!r} is missing")
    return mapping[key]


def segment(value: str) -> str:
    """An id as one URL path segment, quoted: a ``/`` or ``?`` in it cannot change which resource is addressed."""
    return quote(str(value), safe="")


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text if len(text) <= limit else text[:limit] + "..."
