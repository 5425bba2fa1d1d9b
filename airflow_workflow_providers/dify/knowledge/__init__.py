"""Dify knowledge bases (platform ``dify_knowledge``): keep a dataset in sync from a pipeline.

The public classes are also importable from ``airflow_workflow_providers.dify.hooks``, ``.operators``
and ``.sensors``.
"""
