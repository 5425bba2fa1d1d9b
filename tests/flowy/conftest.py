from __future__ import annotations

import pytest


@pytest.fixture
def flowy(flowy_emulator, emulator_connection):
    """The Flowy emulator, with ``flowy_default`` pointing at it."""
    emulator_connection(flowy_emulator)
    return flowy_emulator
