"""The platforms the engine can run, found rather than listed.

Words used across the package, one meaning each:

* **platform key** (``PlatformInfo.key``, ``platform_key``): the one identifier of a platform -- its
  Airflow connection type, the trigger's kwarg, the emulator's key (``"dify"``, ``"arcee_orchestra"``).
* **platform name** (``PlatformInfo.name``): what logs, errors and events show (``"Arcee Orchestra"``).

A platform declares itself with a module-level ``PLATFORM = PlatformInfo(...)`` in its package's
``__init__`` (a package serving several, ``PLATFORMS = (...)``). :func:`platforms` finds them in three places: the subpackages of this package, the
``airflow_workflow_providers.platforms`` entry-point group (so another distribution can add a platform
without touching this one: ``myplat = "my_dist.myplat:PLATFORM"``), and :func:`register` calls.

Pure data: Airflow reads the provider info while it is still importing itself, so nothing here -- nor
a platform package's ``__init__`` -- may import Airflow.
"""

from __future__ import annotations

import functools
import pkgutil
import threading
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_workflow_providers.core.hook import WorkflowHook

#: the entry-point group through which other distributions add platforms
ENTRY_POINT_GROUP = "airflow_workflow_providers.platforms"
_PACKAGE = "airflow_workflow_providers"
_NOT_PLATFORMS = frozenset({"core", "testing"})


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """Who a platform is and where its pieces live (dotted paths, imported only when needed)."""

    key: str
    name: str
    default_base_url: str
    #: ``"module.Class"`` of its hook (a ``WorkflowHook``)
    hook: str
    #: ``"module:Class"`` of its emulator (an ``airflow_workflow_providers.testing.Emulator``), if it ships one
    emulator: str | None = None
    #: the connection form's API key field: its label, and a placeholder showing the key's form
    key_label: str = "API Key"
    key_placeholder: str = ""
    #: the platform's own documentation, linked from the provider's integration entry
    docs_url: str | None = None

    def __post_init__(self) -> None:
        if not self.key.isidentifier() or self.key != self.key.lower():
            raise ValueError(
                f"A platform key is a lower-case identifier (it is a connection type), not {self.key!r}"
            )


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[str, PlatformInfo] | None = None
        self._registered: dict[str, PlatformInfo] = {}
        #: found and registered merged, until the next ``register`` (every trigger looks its platform up)
        self._all: dict[str, PlatformInfo] | None = None

    def found(self) -> dict[str, PlatformInfo]:
        """The package's platforms, then the entry points' (discovered once, outside the lock: loading
        an entry point may import a module that calls :func:`register`)."""
        if self._found is None:
            found = dict(_package_platforms())
            for info in _entry_point_platforms():
                _add(found, info, "an entry point")
            with self._lock:
                self._found = self._found if self._found is not None else found
        return self._found

    def all(self) -> dict[str, PlatformInfo]:
        """Every platform by key (not a copy: callers must not change it)."""
        merged = self._all
        if merged is None:
            merged = dict(self.found())
            with self._lock:
                for info in self._registered.values():
                    _add(merged, info, "register()")
                self._all = merged
        return merged

    def register(self, info: PlatformInfo) -> PlatformInfo:
        with self._lock:
            known = {**(self._found or {}), **self._registered}
            if known.get(info.key, info) != info:
                raise ValueError(f"Platform key {info.key!r} is already taken by {known[info.key]}")
            self._registered[info.key] = info
            self._all = None
        return info


def _add(into: dict[str, PlatformInfo], info: Any, where: str) -> None:
    if not isinstance(info, PlatformInfo):
        raise TypeError(f"{where} declares {info!r}, which is not a PlatformInfo")
    if into.get(info.key, info) != info:
        raise ValueError(
            f"Platform key {info.key!r} is declared twice: {into[info.key]} and {info} ({where})"
        )
    into[info.key] = info


@functools.cache
def _package_platforms() -> dict[str, PlatformInfo]:
    package = import_module(_PACKAGE)
    found: dict[str, PlatformInfo] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg and module.name not in _NOT_PLATFORMS:
            package_module = import_module(f"{_PACKAGE}.{module.name}")
            for info in getattr(package_module, "PLATFORMS", None) or [
                getattr(package_module, "PLATFORM", None)
            ]:
                if info is not None:
                    _add(found, info, f"{_PACKAGE}.{module.name}")
    return found


def _entry_point_platforms() -> list[PlatformInfo]:
    return [point.load() for point in entry_points(group=ENTRY_POINT_GROUP)]


_REGISTRY = _Registry()


def platforms() -> dict[str, PlatformInfo]:
    """Every platform known in this process, by key."""
    return dict(_REGISTRY.all())


def package_platforms() -> dict[str, PlatformInfo]:
    """The platforms this distribution ships (what its provider info describes)."""
    return dict(_package_platforms())


def register(info: PlatformInfo) -> PlatformInfo:
    """Make a platform known in this process (tests, plugins); entry points do it for every process."""
    return _REGISTRY.register(info)


def platform(key: str) -> PlatformInfo:
    """The platform with this key, or a ``ValueError`` naming the known ones."""
    known = _REGISTRY.all()
    try:
        return known[key]
    except KeyError:
        raise ValueError(
            f"Unknown platform {key!r}; known: {sorted(known)}. A platform outside this package is added "
            f"through the {ENTRY_POINT_GROUP!r} entry-point group."
        ) from None


def hook_class(key: str) -> type[WorkflowHook]:
    """The hook class of a platform key, e.g. ``"dify"``."""
    module, _, name = platform(key).hook.rpartition(".")
    return getattr(import_module(module), name)


def ui_field_behaviour(info: PlatformInfo) -> dict[str, Any]:
    """How Airflow's connection form shows a platform: host is the base URL, password the API key
    (labelled and hinted as the platform names it); the fields the provider does not read are hidden.

    Airflow 3.3's form always shows its "Extra Fields JSON" section, whatever is hidden (README).
    """
    placeholders = {"host": info.default_base_url}
    if info.key_placeholder:
        placeholders["password"] = info.key_placeholder
    return {
        "hidden_fields": ["schema", "login", "port", "extra"],
        "relabeling": {"host": "Base URL", "password": info.key_label},
        "placeholders": placeholders,
    }
