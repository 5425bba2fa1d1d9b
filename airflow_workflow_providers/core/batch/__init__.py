"""Batch runs: one task runs a platform's workflow over many items, resumable, on the triggerer.

Theory of operation
-------------------
On the worker, the batch operator reads every item (a list, or a JSONL/CSV file), turns each into the
platform's start arguments with the platform operator's own ``start_spec``, checks each with its own
``check_inputs`` (pre-flight: nothing starts while an item is bad, unless ``skip_invalid``), and spills the
start arguments next to the output (:mod:`.items`, :mod:`.journal`). The engine (:mod:`.engine`) then
starts and polls the runs -- on the triggerer (:mod:`.trigger`) or, in blocking mode, on the worker with
the same coroutine on a thread of its own (:mod:`.blocking`) -- with at most ``concurrency`` in flight, lowered and raised again as the platform
answers (:mod:`.window`). Every step that matters for "exactly once" is journaled before or right after
it happens, in immutable segment objects next to the output (object stores cannot append), so a kill,
crash, retry or re-run resumes where the batch stopped. The worker finally assembles the output file.
"""
