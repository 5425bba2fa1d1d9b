"""A trigger that blocks the triggerer's loop on purpose: the control of tests/e2e/test_triggerer_loop.py,
showing that a blocking trigger is caught (and so that the provider's triggers, passing, do not block)."""

from __future__ import annotations

import asyncio
import datetime
import time

from airflow.sdk import DAG, BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_workflow_providers.core.compat import conf

#: how long the control trigger holds the loop
BLOCK_SECONDS = 0.5


class BlockingTrigger(BaseTrigger):
    def serialize(self):
        # the triggerer imports it from the repository (the test puts it on the triggerer's PYTHONPATH)
        return ("tests.e2e.dags.e2e_blocking_trigger.BlockingTrigger", {})

    async def run(self):
        time.sleep(BLOCK_SECONDS)  # the mistake: a synchronous wait on the event loop
        # then fire no sooner than the provider's trigger would (apache/airflow#66374: an event that beats
        # the executor's report of the deferral fails the task)
        await asyncio.sleep(conf.getfloat("workers", "min_heartbeat_interval", fallback=5.0) + 1.0)
        yield TriggerEvent({"blocked": BLOCK_SECONDS})


class DeferToBlockingTrigger(BaseOperator):
    def execute(self, context):
        self.defer(trigger=BlockingTrigger(), method_name="resume")

    def resume(self, context, event):
        return event


with DAG(
    "e2e_blocking_trigger",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    tags=["e2e"],
) as dag:
    DeferToBlockingTrigger(task_id="block", retries=0)
