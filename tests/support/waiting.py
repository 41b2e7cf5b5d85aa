"""Waiting for a condition that no event announces (another process's state, say).

Both helpers poll until the condition returns something truthy and hand that back, so a
test can wait for an object and use it; on timeout they fail with an AssertionError that
names what was awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    condition: Callable[[], Any],
    what: str,
    within: float = 30.0,
    context: Callable[[], Any] | None = None,
) -> Any:
    """Poll the sync ``condition`` every 50 ms until it returns something truthy; return it.

    Between polls the event loop runs, so a bot or server in the same loop makes progress.
    Fails naming ``what`` after ``within`` seconds; the message ends with ``context()`` when
    given (the state that did not change, say).
    """

    async def check() -> Any:
        return condition()

    return await _poll(check, what, within, interval=0.05, context=context)


async def eventually_async(
    check: Callable[[], Awaitable[Any]],
    what: str,
    within: float = 30.0,
    context: Callable[[], Any] | None = None,
) -> Any:
    """Await ``check`` every 200 ms until it returns something truthy; return it.

    For checks that read over the network or run a command (kubectl, the sandbox's API).
    Fails as ``eventually`` does, a check still in flight at the deadline cancelled.
    """
    return await _poll(check, what, within, interval=0.2, context=context)


async def _poll(
    check: Callable[[], Awaitable[Any]],
    what: str,
    within: float,
    interval: float,
    context: Callable[[], Any] | None,
) -> Any:
    try:
        async with asyncio.timeout(within):
            while not (result := await check()):  # noqa: ASYNC110 - nothing to wait on but the state itself
                await asyncio.sleep(interval)
    except TimeoutError:
        suffix = "" if context is None else f"; {context()}"
        raise AssertionError(f"timed out after {within:g}s waiting for {what}{suffix}") from None
    return result
