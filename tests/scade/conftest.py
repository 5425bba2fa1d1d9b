from __future__ import annotations

import pytest


@pytest.fixture
def scade(scade_emulator, emulator_connection):
    """The Scade emulator with ``scade_default`` pointing at it (one key reaches every flow)."""
    emulator_connection(scade_emulator)
    return scade_emulator
