"""``tradewarden demo`` (``make demo``) as a newcomer runs it: a process, start to finish.

It must end 0 after printing the two flips it promises (drift -> ReduceOnly,
emergency stop -> Halted) with the kubectl commands that showed them, and leave
nothing running, also when interrupted with Ctrl-C half way.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tradewarden.bot.runtime.command import tradewarden_command

RUN_TIMEOUT = 80.0
ENDPOINT = re.compile(r"^(?:Kubernetes API|venue simulator)[^:]*: (https?://\S+)$", re.MULTILINE)


class Demo:
    """A running ``tradewarden demo`` whose stdout is collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def read_until(self, marker: str | None, within: float) -> None:
        """Collect lines until one contains ``marker`` (None: until the process closes stdout)."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(within):
                while line := await self.process.stdout.readline():
                    self.lines.append(line.decode(errors="replace").rstrip("\n"))
                    if marker is not None and marker in self.lines[-1]:
                        return
        except TimeoutError:
            pytest.fail(f"no {marker or 'end'} within {within} s:\n{self.output}")
        assert marker is None, f"the demo ended before printing {marker!r}:\n{self.output}"


@pytest.fixture
async def start_demo(tmp_path: Path) -> AsyncIterator[Demo]:
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(
            "demo", "--trade-seconds", "1", "--wait-seconds", "45", "--dir", str(tmp_path / "demo")
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield Demo(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def endpoints(output: str) -> list[tuple[str, int]]:
    """The API server's and the simulator's host and port, as the demo printed them."""
    found = []
    for url in ENDPOINT.findall(output):
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        found.append((parts.hostname, parts.port))
    assert len(found) == 2, output
    return found


def listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


async def test_demo_shows_the_drift_and_emergency_stop_flips_and_stops_cleanly(
    start_demo: Demo,
) -> None:
    demo = start_demo
    await demo.read_until(None, RUN_TIMEOUT)
    code = await demo.process.wait()
    output = demo.output

    assert code == 0, output
    # The newcomer sees the kubectl commands that drive it, and what they answered.
    assert "$ kubectl apply -f " in output
    assert "tradingbot.tradewarden.io/btc-grid-sim created" in output
    assert "tradingbot.tradewarden.io/eth-grid-sim created" in output
    assert (
        """$ kubectl -n dev patch tb eth-grid-sim --type=merge -p """
        """'{"spec":{"emergencyStop":{"action":"Halt","reason":"demo"}}}'"""
    ) in output
    assert re.search(r"^btc-grid-sim +binanceusdm +BTC/USDT:USDT +Running", output, re.MULTILINE)
    assert re.search(r"^tb-btc-grid-sim-0 +1/1 +Running +0 ", output, re.MULTILINE)
    # The two flips it promises.
    # Drift flips to ReduceOnly, unless the stray makes the belief debt persist and the
    # kill switch comes first: both are the bot keeping money safe (issue 12 item 11).
    assert re.search(
        r"FLIP: btc-grid-sim is (ReduceOnly \(DriftDetected\)|Aborted \(KillSwitch\))", output
    ), output
    assert "FLIP: eth-grid-sim is Halted (phase Paused, EmergencyStop)" in output
    assert "tradinghalt.tradewarden.io/desk-stop created" in output
    assert "tradinghalt.tradewarden.io/desk-stop condition met" in output
    assert re.search(r"^desk-stop +Halt +Active +2 +2 ", output, re.MULTILINE), output
    assert (
        "HALTED: btc-grid-sim is Halted, by TradingHalt desk-stop Halt: demo: the desk stops"
        in output
    )
    # The venue's ground truth: the bots' orders, told apart by their client-id prefix.
    assert re.search(r"^ +btc-grid-sim +BTCUSDT ", output, re.MULTILINE), output
    assert re.search(r"the stray tw[0-9a-f]{10}-demo1 at the venue: CANCELED", output), output
    # Nothing keeps running after the demo.
    assert output.rstrip().endswith("stopped.")
    for host, port in endpoints(output):
        assert not listening(host, port)


async def test_ctrl_c_stops_everything(start_demo: Demo) -> None:
    demo = start_demo
    await demo.read_until("=== 3. Let them trade", RUN_TIMEOUT)
    demo.process.send_signal(signal.SIGINT)
    await demo.read_until(None, 30)
    code = await demo.process.wait()

    assert code == 130, demo.output
    assert "interrupted: everything was stopped." in demo.output
    for host, port in endpoints(demo.output):
        assert not listening(host, port)
    pods = Path(demo.output.split("export KUBECONFIG=")[1].split()[0]).parent / "pods"
    # Every bot process was stopped: its log says so as its last event.
    logs = sorted(pods.glob("dev/*/logs/bot.log"))
    assert len(logs) == 2
    for log in logs:
        assert '"event":"BOT_STOP"' in log.read_text().strip().splitlines()[-1]
