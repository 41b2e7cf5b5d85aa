"""Waiting for a condition that no event announces (another process's state, say)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 - nothing to wait on but the state itself
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {within:g}s waiting for {what}") from None
