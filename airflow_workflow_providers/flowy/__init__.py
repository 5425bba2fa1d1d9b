"""Flowy generative apps: hook, operator, sensor."""
