"""Preflight: the checks a bot must pass before it may trade."""
