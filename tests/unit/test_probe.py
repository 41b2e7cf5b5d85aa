"""What the probe reads off a bot pod (in particular, whether its bot ever ran) and its /status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tradewarden.api.manifest import parse_spec
from tradewarden.api.tradingbot import Phase, TradingMode
from tradewarden.operator.probe import fetch_status, snapshot_pod
from tradewarden.operator.status_decision import PodState, ProbeFindings, decide_status

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SPEC = parse_spec(
    {"symbol": "BTC/USDT:USDT", "risk": {"maxPosition": "0.01", "maxOrderNotional": "1000"}}
)


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "bot", "ready": False, "restartCount": 0, **fields}


UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
}


@pytest.mark.parametrize(
    ("status", "never_started"),
    [
        # Pod statuses as kube-apiserver shows them (kubectl get pod -o yaml).
        pytest.param({"phase": "Pending"}, True, id="not scheduled (no scheduler)"),
        pytest.param(UNSCHEDULABLE, True, id="unschedulable"),
        pytest.param(
            {
                "phase": "Pending",
                "containerStatuses": [
                    container(state={"waiting": {"reason": "ContainerCreating"}})
                ],
            },
            True,
            id="container creating",
        ),
        pytest.param(
            {
                "phase": "Pending",
                "containerStatuses": [container(state={"waiting": {"reason": "ErrImagePull"}})],
            },
            True,
            id="image pull failing",
        ),
        pytest.param(
            {"phase": "Running", "containerStatuses": [container(state={"running": {}})]},
            False,
            id="running",
        ),
        pytest.param(
            {
                "phase": "Running",
                "containerStatuses": [
                    container(
                        restartCount=1,
                        state={"waiting": {"reason": "CrashLoopBackOff"}},
                        lastState={"terminated": {"exitCode": 1}},
                    )
                ],
            },
            False,
            id="restarted",
        ),
        pytest.param(
            {
                "phase": "Pending",
                "containerStatuses": [
                    container(
                        state={"waiting": {"reason": "ContainerCreating"}},
                        lastState={"terminated": {"exitCode": 137}},
                    )
                ],
            },
            False,
            id="ran before",
        ),
        pytest.param(
            {"phase": "Failed", "containerStatuses": [container(state={"terminated": {}})]},
            False,
            id="terminated",
        ),
        pytest.param({"phase": "Unknown"}, False, id="node lost"),
    ],
)
def test_a_pod_whose_bot_never_ran_cannot_be_trading(
    status: dict[str, Any], never_started: bool
) -> None:
    assert snapshot_pod({}, status).state.never_started is never_started


@asynccontextmanager
async def serving(body: str, status: int = 200) -> AsyncIterator[str]:
    """A bot's /status on a free loopback port answering ``body``; yields its URL."""

    async def handle(_: web.Request) -> web.Response:
        return web.Response(text=body, status=status, content_type="application/json")

    app = web.Application()
    app.router.add_get("/status", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/status"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param('{"tradingMode": "Sideways"}', 200, id="unknown mode"),
        pytest.param('{"positions": {"BTC/USDT:USDT": "lots"}}', 200, id="position no number"),
        pytest.param("[1, 2]", 200, id="not an object"),
        pytest.param("<html>", 200, id="not JSON"),
        pytest.param('{"tradingMode": "Active"}', 503, id="not 200"),
    ],
)
async def test_an_unreadable_status_is_a_bot_that_did_not_answer(body: str, status: int) -> None:
    """The operator's reading of a broken /status: no answer (Degraded once it ran), no crash."""
    async with serving(body, status) as url, aiohttp.ClientSession() as http:
        read = await fetch_status(http, url, 2.0)
    assert read is None
    ran = PodState(exists=True, ready=True, restarts=1)
    decision = decide_status(
        ProbeFindings(bot_status=read, pod=ran, spec=SPEC, generation=1, previous=None, now=NOW)
    )
    assert (decision.status.phase, decision.flip and decision.flip.reason) == (
        Phase.DEGRADED,
        "BotUnreachable",
    )


async def test_a_readable_status_is_read_typed() -> None:
    body = '{"tradingMode": "Halted", "positions": {"BTC/USDT:USDT": "0.003"}, "newField": 1}'
    async with serving(body) as url, aiohttp.ClientSession() as http:
        read = await fetch_status(http, url, 2.0)
    assert read is not None
    assert (read.trading_mode, read.position("BTC/USDT:USDT")) == (
        TradingMode.HALTED,
        Decimal("0.003"),
    )
