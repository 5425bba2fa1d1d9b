"""Arcee Orchestra workflows: hook, operator, sensor."""
