"""Structured event logs and Prometheus metrics of one bot."""
