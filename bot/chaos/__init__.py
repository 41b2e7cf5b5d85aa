"""Chaos harness: fault plans, the scenario catalogue and the invariants checked after each."""
