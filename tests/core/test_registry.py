"""The platform registry (core.registry): what is found, what is registered, one key each."""

from __future__ import annotations

import pytest

from airflow_workflow_providers.core.registry import PlatformInfo, _Registry


def info(key: str, name: str = "Some") -> PlatformInfo:
    return PlatformInfo(key=key, name=name, default_base_url="http://x", hook="m.Hook")


def test_a_platform_registered_after_a_lookup_is_known_at_the_next_one():
    registry = _Registry()
    before = registry.all()
    assert "dify" in before and "later" not in before
    registry.register(info("later"))
    assert registry.all()["later"] == info("later") and "dify" in registry.all()


def test_a_key_taken_by_another_platform_is_refused_and_the_first_stays():
    registry = _Registry()
    registry.register(info("twice", "First"))
    registry.all()
    with pytest.raises(ValueError, match="already taken"):
        registry.register(info("twice", "Second"))
    with pytest.raises(ValueError, match="already taken"):
        registry.register(info("dify", "Not Dify"))
    assert registry.all()["twice"].name == "First" and registry.all()["dify"].name == "Dify"
