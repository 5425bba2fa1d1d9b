"""Scade flows: hook, operator, sensor."""
