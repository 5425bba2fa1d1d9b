"""Runs one batch engine in its own process, for the kill -9 test: ``python -m tests.batch.engine_child <output> <total> <concurrency>``."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from airflow_workflow_providers.core.batch.engine import BatchEngine, BatchPlan
from airflow_workflow_providers.core.batch.journal import BatchStore
from airflow_workflow_providers.core.registry import hook_class

if __name__ == "__main__":
    output, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    plan = BatchPlan(
        total=total, concurrency=concurrency, poll_interval=0.2, end_time=time.time() + 300, item_timeout=120
    )
    engine = BatchEngine(
        hook_class("dify")("dify_default"), BatchStore(output), plan, logging.getLogger("child")
    )
    asyncio.run(engine.run())
