"""What the per-bot probe reads: the pod's state (from the pod object) and the bot's /status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from tradewarden.api.bot_status import BotStatus, read_bot_status
from tradewarden.operator.children import HTTP_PORT
from tradewarden.operator.status_decision import PodState

STATUS_URL_ANNOTATION = "tradewarden.io/status-url"
CRASH_LOOP_REASONS = frozenset({"CrashLoopBackOff"})
# Restarts at which a pod that is not ready counts as crash-looping even when the
# runtime has not (yet) said CrashLoopBackOff.
CRASH_LOOP_RESTARTS = 5


@dataclass(frozen=True)
class PodSnapshot:
    """The fields of a bot pod the probe needs, kept in the operator's pod index."""

    state: PodState
    status_url: str | None


def _bot_container(status: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = status.get("containerStatuses") or []
    return next(
        (c for c in containers if c.get("name") == "bot"), containers[0] if containers else {}
    )


def _never_started(status: Mapping[str, Any], container: Mapping[str, Any], restarts: int) -> bool:
    """The bot container has not run in this pod, ever.

    A Pending pod whose container is absent (not scheduled) or only waiting
    (ContainerCreating, ErrImagePull, ImagePullBackOff, CreateContainerConfigError),
    never restarted and with no previous termination. A container that is running,
    has terminated or restarted, or a pod past Pending, may have traded.
    """
    if status.get("phase", "Pending") != "Pending" or restarts:
        return False
    state = container.get("state") or {}
    last = container.get("lastState") or {}
    return not (state.get("running") or state.get("terminated") or last.get("terminated"))


def snapshot_pod(annotations: Mapping[str, str], status: Mapping[str, Any]) -> PodSnapshot:
    """Pod readiness, restarts and crash loop, and where its /status is served."""
    container = _bot_container(status)
    restarts = int(container.get("restartCount") or 0)
    ready = bool(container.get("ready")) or any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    waiting = (container.get("state") or {}).get("waiting") or {}
    crash_looping = waiting.get("reason") in CRASH_LOOP_REASONS or (
        not ready and restarts >= CRASH_LOOP_RESTARTS
    )
    never_started = _never_started(status, container, restarts)
    url = annotations.get(STATUS_URL_ANNOTATION)
    if url:
        url = url.rstrip("/") + "/status" if not url.rstrip("/").endswith("/status") else url
    elif status.get("podIP"):
        url = f"http://{status['podIP']}:{HTTP_PORT}/status"
    return PodSnapshot(
        state=PodState(
            exists=True,
            ready=ready,
            restarts=restarts,
            crash_looping=crash_looping,
            never_started=never_started,
        ),
        status_url=url,
    )


async def fetch_status(
    session: aiohttp.ClientSession, url: str | None, deadline_seconds: float
) -> BotStatus | None:
    """The bot's /status, or ``None`` when it does not answer in time or its answer is
    unreadable (not 200, not JSON, not a document :mod:`tradewarden.api.bot_status` reads)."""
    if url is None:
        return None
    limit = aiohttp.ClientTimeout(total=deadline_seconds)
    try:
        async with session.get(url, timeout=limit) as response:
            if response.status != 200:
                return None
            document = await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError, ValueError):
        return None
    return read_bot_status(document)
