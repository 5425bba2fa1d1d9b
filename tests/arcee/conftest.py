from __future__ import annotations

import pytest

from airflow_workflow_providers.testing.arcee import ECHO_WORKFLOW, SLOW_WORKFLOW

__all__ = ["ECHO_WORKFLOW", "SLOW_WORKFLOW"]


@pytest.fixture
def arcee(arcee_orchestra_emulator, emulator_connection):
    """The Arcee Orchestra emulator, reached through ``arcee_orchestra_default``."""
    emulator_connection(arcee_orchestra_emulator)
    return arcee_orchestra_emulator
