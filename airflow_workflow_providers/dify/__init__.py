"""Dify workflow apps: hook, operator, sensor."""
