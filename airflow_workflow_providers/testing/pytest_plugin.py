"""Pytest fixtures that start the bundled platform emulators."""
