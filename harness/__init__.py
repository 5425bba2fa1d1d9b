"""End-to-end harness: a real Airflow 3 deployment on loopback plus the bundled emulators.

Used by ``tests/e2e`` and ``make demo``; not installed with the provider. See ``docs/e2e.md``.
"""

from harness.api import AirflowAPI
from harness.deployment import Deployment
from harness.emulators import Emulators

__all__ = ["AirflowAPI", "Deployment", "Emulators"]
