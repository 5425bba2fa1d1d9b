"""Benchmarks of the provider (``make bench`` / ``python -m benchmarks``; not part of ``make test``).

- :mod:`benchmarks.scale`: N deferred runs driven by Airflow's own ``TriggerRunner`` in one event
  loop, ours vs the floor (bare aiohttp) vs the usual alternative (``HttpAsyncHook``), plus the
  saturation point of each; emulators in a separate process on loopback.
- :mod:`benchmarks.imports`: own import time of each operator module and the parse time of a DAG
  file with 1000 of our operators.
- :mod:`benchmarks.report`: the tables, ratios and plot written into ``BENCHMARKS.md``.
"""
