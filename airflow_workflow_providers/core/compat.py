"""The provider's Airflow names, the running Airflow version, and what that version lacks.

Every Airflow-aware module imports its Airflow names from here, so the version check below runs first
(on Airflow < 3.0 importing the provider fails with one message naming the minimum version) and one
place knows where each moved name lives: 3.0 keeps ``conf`` in ``airflow.configuration``,
``AirflowFailException`` in ``airflow.exceptions`` and ``BaseHook`` in ``airflow.hooks.base``; 3.1 moves
``BaseHook`` and 3.2 the other two into ``airflow.sdk``.

A shim of our own rather than ``apache-airflow-providers-common-compat``: only three names moved, and
the common-compat an Airflow 3.0 installation of its day resolves (1.7) has no ``sdk`` module, so
depending on it would force a newer common-compat onto exactly the deployments that lag behind.

Features of newer releases are named in :data:`FEATURES`; :func:`has_feature` gates on them and
:func:`warn_missing` logs one line saying which guarantee is off on this version and why. Asking a
person (:func:`ask_in_airflow`) differs most: Airflow 3.1 brings the human-in-the-loop API, 3.1.3 its
params as serialized ``Param`` objects, and 3.3 a task parked ``awaiting_input`` without a trigger.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, NoReturn

import airflow

MIN_AIRFLOW_VERSION = (3, 0, 0)


def parse_version(text: str) -> tuple[int, int, int]:
    """``"3.1.8"`` -> ``(3, 1, 8)``; suffixes (``"3.3.0rc1"``, ``"3.2.0.dev0"``) are ignored."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(g or 0) for g in match.groups())
    return major, minor, patch


#: the running Airflow's version as ``(major, minor, patch)``
AIRFLOW_VERSION = parse_version(airflow.__version__)

if AIRFLOW_VERSION < MIN_AIRFLOW_VERSION:
    raise ImportError(
        f"airflow-workflow-providers needs Apache Airflow >= {'.'.join(map(str, MIN_AIRFLOW_VERSION))}; "
        f"this is Airflow {airflow.__version__}."
    )

# The provider's Airflow names, imported only after the check (on Airflow 2 they would fail less clearly);
# those that moved are tried newest location first (the old one warns where both exist).
from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator, PokeReturnValue  # noqa: E402
from airflow.triggers.base import BaseTrigger, TriggerEvent  # noqa: E402

try:
    from airflow.sdk import conf
except ImportError:  # Airflow < 3.2
    from airflow.configuration import conf  # type: ignore[no-redef,assignment,unused-ignore]
try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef,attr-defined,unused-ignore]
try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow < 3.1
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined,unused-ignore]
try:
    from airflow.sdk.exceptions import AirflowNotFoundException
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[no-redef,attr-defined,unused-ignore]
try:
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        AirflowSensorTimeout,
        AirflowSkipException,
    )

#: feature -> (first Airflow version that has it, what is lost without it)
FEATURES: dict[str, tuple[tuple[int, int, int], str]] = {
    "trigger_on_kill": (
        (3, 3, 0),
        "a user marking the deferred task failed or success, or clearing it, does not stop its remote run "
        "(the triggerer calls a trigger's on_kill from Airflow 3.3 on)",
    ),
    "task_state_store": (
        (3, 3, 0),
        "a retry of this task that starts over cannot re-attach to the run this try starts and starts (and "
        "pays for) another one (task_state_store arrives in Airflow 3.3)",
    ),
    "human_in_the_loop": (
        (3, 1, 0),
        "a task cannot ask a person (Airflow's human-in-the-loop API and Required Actions arrive in 3.1)",
    ),
    "awaiting_input": (
        (3, 3, 0),
        "a task waiting for a person is deferred to the triggerer's HITLTrigger, which polls for the answer "
        "(3.3 parks it awaiting_input, without a trigger)",
    ),
}


def has_feature(name: str) -> bool:
    """Whether the running Airflow has ``name`` (a key of :data:`FEATURES`)."""
    return AIRFLOW_VERSION >= FEATURES[name][0]


def warn_missing(log: Any, name: str) -> bool:
    """Log one warning line if the running Airflow lacks ``name``; return whether it has it."""
    if has_feature(name):
        return True
    log.warning("On Airflow %s, %s.", airflow.__version__, FEATURES[name][1])
    return False


def hitl_params(values: dict[str, Any]) -> dict[str, Any]:
    """Text params of a required action as Airflow's HITL API takes them: serialized ``Param`` objects
    from Airflow 3.1.3, bare values before (as the standard provider's ``HITLOperator`` sends them)."""
    if AIRFLOW_VERSION < (3, 1, 3):
        return dict(values)
    from airflow.sdk import Param

    return {name: Param(value, type="string").serialize() for name, value in values.items()}


def ask_in_airflow(
    operator: Any,
    ti_id: Any,
    *,
    subject: str,
    body: str,
    options: list[str],
    inputs: dict[str, Any],
    timeout: timedelta | None,
    method_name: str,
    kwargs: dict[str, Any],
) -> NoReturn:
    """Write a required action for the task instance ``ti_id`` (Airflow >= 3.1; ``inputs``: text params
    and their defaults) and park the task until a person answers it or ``timeout`` passes. Airflow then
    calls ``method_name(context, event, **kwargs)``, the event carrying ``chosen_options``,
    ``params_input`` and ``responded_by_user`` (or ``timedout`` / ``error``)."""
    from airflow.sdk.execution_time.hitl import upsert_hitl_detail

    # one option to choose, no default one (the standard provider's HITLOperator with its defaults)
    upsert_hitl_detail(ti_id=ti_id, options=options, subject=subject, body=body, params=hitl_params(inputs))
    if has_feature("awaiting_input"):
        from airflow.sdk.exceptions import TaskAwaitingInput  # type: ignore[attr-defined,unused-ignore]

        raise TaskAwaitingInput(method_name=method_name, kwargs=kwargs, timeout=timeout)
    from airflow.providers.standard.triggers.hitl import HITLTrigger
    from airflow.sdk.timezone import utcnow

    deadline = utcnow() + timeout if timeout else None
    # fresh params: the trigger takes their dicts apart
    trigger = HITLTrigger(ti_id=ti_id, options=options, params=hitl_params(inputs), timeout_datetime=deadline)
    operator.defer(trigger=trigger, method_name=method_name, kwargs=kwargs)
    raise AssertionError("unreachable: defer raises")


__all__ = [
    "AIRFLOW_VERSION",
    "FEATURES",
    "MIN_AIRFLOW_VERSION",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "PokeReturnValue",
    "TriggerEvent",
    "ask_in_airflow",
    "conf",
    "has_feature",
    "parse_version",
    "warn_missing",
]
