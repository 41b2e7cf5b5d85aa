"""``tradewarden bot`` as a process: trading, dry run, bad input, failure exits."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.manifests import example_manifest
from tradewarden.api.bot_status import read_bot_status
from tradewarden.api.manifest import parse_spec
from tradewarden.api.tradingbot import Phase
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.runtime.bot import JOURNAL_FILE
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.operator.probe import fetch_status
from tradewarden.operator.status_decision import PodState, ProbeFindings, decide_status

from .conftest import cancelled_behind_its_back, journal_rows, write_manifest

UNSETTLED = {"SUBMITTING"}


def every_submit_answered(events: list[dict[str, object]]) -> bool:
    """ORDER_SUBMIT is always followed by ORDER_RESPONSE or ORDER_ERROR (same id)."""
    waiting: dict[object, int] = {}
    for event in events:
        name, coid = event.get("event"), event.get("correlation_id")
        if name == "ORDER_SUBMIT":
            waiting[coid] = waiting.get(coid, 0) + 1
        elif name in ("ORDER_RESPONSE", "ORDER_ERROR") and event.get("operation") is None:
            waiting[coid] = waiting.get(coid, 0) - 1
    return all(count == 0 for count in waiting.values())


# Every label set the alerting counters can take (issue 12 item 12).
ALERT_COUNTER_LABELS = {
    "tradewarden_guard_trips_total": (
        "guard",
        {
            "apiHealth",
            "markStaleness",
            "slippage",
            "brokerReads",
            "drift",
            "websocket",
            "killSwitch",
        },
    ),
    "tradewarden_order_retries_total": (
        "reason_class",
        {
            "retryable",
            "ambiguous",
            "rate_limited",
            "clock_skew",
            "duplicate_id",
            "unknown_order",
            "rejected",
        },
    ),
    "tradewarden_reconcile_mismatches_total": ("kind", {"snapshot", "stale", "conflict"}),
    "tradewarden_intents_refused_total": (
        "reason",
        {
            "halted",
            "reduce-only",
            "not-reducing",
            "max-order-notional",
            "max-position",
            "no-mark",
            "lease",
            "venue-filter",
            "other",
        },
    ),
    "tradewarden_order_giveups_total": ("operation", {"create", "cancel"}),
}


def counter_samples(exposition: str) -> dict[str, dict[str, float]]:
    """``{sample name: {label value: value}}`` of the single-label counters alerts use."""
    samples: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name in ALERT_COUNTER_LABELS:
                label = ALERT_COUNTER_LABELS[sample.name][0]
                samples.setdefault(sample.name, {})[sample.labels[label]] = sample.value
    return samples


async def test_alert_counters_have_every_series_at_zero_before_the_first_event(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    """``increase()`` needs a series before the first increment, or it misses that event.

    Scraped as Prometheus does, the moment the bot serves /metrics. Then a
    maxOrderNotional below one grid order makes the bot refuse every entry with
    amounts in the message: the refusals count under the fixed label, and no
    other series appears.
    """
    manifest = write_manifest(tmp_path, sim, absentGraceSeconds=0.5)
    document = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    document["spec"]["risk"]["maxOrderNotional"] = "100"  # 0.003 BTC is about 150 USDT
    manifest.write_text(yaml.safe_dump(document), encoding="utf-8")
    bot = await start_bot(manifest)
    port = (await bot.wait_for("HTTP_LISTENING"))["port"]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as reply:
            first = counter_samples(await reply.text())
        refused = await bot.wait_for("INTENT_REFUSED")
        async with http.get(f"http://127.0.0.1:{port}/metrics") as reply:
            later = counter_samples(await reply.text())
    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0

    assert first == {
        name: dict.fromkeys(values, 0.0) for name, (_, values) in ALERT_COUNTER_LABELS.items()
    }
    assert refused["reason"].startswith("max-order-notional: order notional 1")
    assert later["tradewarden_intents_refused_total"]["max-order-notional"] >= 1
    assert {name: set(series) for name, series in later.items()} == {
        name: values for name, (_, values) in ALERT_COUNTER_LABELS.items()
    }


def the_operator_reads_what_the_bot_serves(served: dict[str, Any]) -> None:
    """The bot's /status parses into the contract's model with nothing lost or renamed, and
    the operator's status decision takes the bot's mode, preflight and numbers from it."""
    typed = read_bot_status(served)
    assert typed is not None
    assert typed.to_json() == served
    decision = decide_status(
        ProbeFindings(
            bot_status=typed,
            pod=PodState(exists=True, ready=True),
            spec=parse_spec(example_manifest()["spec"]),
            generation=1,
            previous=None,
            now=datetime.now(UTC),
        )
    )
    status = decision.status
    assert status.trading_mode.value == served["tradingMode"]
    assert status.phase not in (Phase.DEGRADED, Phase.PENDING, Phase.FAILED)
    conditions = {c.type: c.status for c in status.conditions}
    assert conditions["PreflightPassed"] == "True"
    assert conditions["BotHealthy"] == "True"
    assert status.bot is not None
    assert status.bot.open_orders == len(served["openOrders"])
    assert status.bot.incomplete_lifecycles == len(served["incompleteLifecycles"])
    assert Decimal(status.bot.position) == Decimal(served["positions"].get(served["symbol"], "0"))


async def test_bot_trades_serves_status_and_stops_cleanly(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    bot = await start_bot(write_manifest(tmp_path, sim, absentGraceSeconds=0.5))
    port = (await bot.wait_for("HTTP_LISTENING"))["port"]
    await bot.wait_for("ORDER_RESPONSE", count=4)

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/status") as reply:
            status = await reply.json()
        async with http.get(f"http://127.0.0.1:{port}/readyz") as reply:
            assert reply.status == 200
        async with http.get(f"http://127.0.0.1:{port}/metrics") as reply:
            metrics = await reply.text()
        # The operator's probe reads the same server.
        probed = await fetch_status(http, f"http://127.0.0.1:{port}/status", 5.0)
    assert status["recovered"] is True
    assert status["tradingMode"] == "Active"
    assert sum(status["journal"].values()) >= 4
    assert probed is not None
    the_operator_reads_what_the_bot_serves(status)
    assert "tradewarden_orders_submitted_total" in metrics
    assert "sim-secret" not in metrics + str(status) + str(bot.events)

    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0
    assert bot.names()[-1] == "BOT_STOP"
    assert every_submit_answered(bot.events)
    rows = journal_rows(tmp_path / "state")
    assert not [row for row in rows if row["state"] in UNSETTLED]
    at_venue = {o["clientOrderId"] for o in (await sim.state())["orders"]}
    assert at_venue <= {row["venue_client_id"] for row in rows}


async def test_dry_run_logs_would_submit_and_sends_nothing(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    bot = await start_bot(write_manifest(tmp_path, sim), "--dry-run")
    would = await bot.wait_for("WOULD_SUBMIT")
    assert would["symbol"] == "BTC/USDT:USDT"
    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0
    assert (await sim.state())["orders"] == []
    assert "ORDER_SUBMIT" not in bot.names()


async def test_malformed_manifest_is_refused_naming_the_field(tmp_path: Path) -> None:
    document = example_manifest()
    del document["spec"]["risk"]["maxPosition"]
    document["spec"]["execution"]["retryBudget"] = -1
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(document), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(),
        "bot",
        "--config",
        str(manifest),
        "--state-dir",
        str(tmp_path / "state"),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"spec.risk.maxPosition: Field required" in stderr
    assert b"spec.execution.retryBudget" in stderr
    assert not (tmp_path / "state").exists()


async def test_state_dir_of_another_bot_is_refused(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    Journal.open(tmp_path / "state" / JOURNAL_FILE, "other/bot", time.time).close()
    bot = await start_bot(write_manifest(tmp_path, sim))
    assert await bot.exit_code() == 2
    assert bot.process.stderr is not None
    assert b"journal belongs to bot 'other/bot'" in await bot.process.stderr.read()
    assert (await sim.state())["orders"] == []


async def test_garbled_venue_replies_never_crash_the_loop(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    garbage = {"raw": {"status": 200, "body": "<html>502 upstream</html>"}}
    await sim.set_faults(
        [
            {
                "match": {"method": "POST", "path": "/fapi/v1/order"},
                "after": 1,
                "times": 2,
                "action": garbage,
            },
            {
                "match": {"method": "GET", "path": "/fapi/v1/order"},
                "after": 0,
                "times": 2,
                "action": {"drop_fields": ["status", "orderId"]},
            },
            {
                # Once: a garbled position read is a failed broker read, and
                # failures in a row trip the brokerReads guard (not this test's subject).
                "match": {"method": "GET", "path": "/fapi/v3/positionRisk"},
                "after": 2,
                "times": 1,
                "action": garbage,
            },
            {
                "match": {"method": "GET", "path": "/fapi/v1/ticker/24hr"},
                "after": 1,
                "times": 3,
                "action": garbage,
            },
        ]
    )
    bot = await start_bot(write_manifest(tmp_path, sim, absentGraceSeconds=0.5))
    await bot.wait_for("ORDER_RESPONSE", count=6)
    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0

    assert "BOT_FATAL" not in bot.names()
    assert "ORDER_ERROR" in bot.names()
    rows = journal_rows(tmp_path / "state")
    venue_ids = [o["clientOrderId"] for o in (await sim.state())["orders"]]
    assert len(venue_ids) == len(set(venue_ids))
    assert set(venue_ids) <= {row["venue_client_id"] for row in rows}
    assert not [row for row in rows if row["state"] in UNSETTLED]


async def test_signed_urls_never_reach_the_log(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    """Issue 12 item 13: an error keeps the request's path, never its signed query string.

    A proxy answering 502 with an HTML page makes ccxt raise with the full URL;
    the signed reads carry ``timestamp`` and ``signature`` in it.
    """
    bad_gateway = {"raw": {"status": 502, "body": "<html>502 Bad Gateway</html>"}}
    signed_reads = ("/fapi/v1/openOrders", "/fapi/v3/positionRisk", "/fapi/v1/order")
    await sim.set_faults(
        [
            {
                "match": {"method": "GET", "path": path},
                "after": 1,
                "times": 2,
                "action": bad_gateway,
            }
            for path in signed_reads
        ]
    )
    bot = await start_bot(write_manifest(tmp_path, sim, absentGraceSeconds=0.5))
    port = (await bot.wait_for("HTTP_LISTENING"))["port"]
    await bot.wait_for("ORDER_RESPONSE", count=2)
    await bot.wait_for("RECONCILE_MISMATCH", lambda e: "/fapi/v3/positionRisk" in str(e))
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/status") as reply,
    ):
        status = await reply.text()
    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0
    assert bot.process.stderr is not None
    stderr = (await bot.process.stderr.read()).decode()

    lines = [json.dumps(event) for event in bot.events]
    for text in [*lines, status, stderr]:
        assert "signature=" not in text
        assert "timestamp=" not in text
        assert "sim-secret" not in text
    errors = [line for line in lines if "ExchangeNotAvailable" in line]
    # The path and the error stay.
    assert any("GET http://127.0.0.1" in e and "/positionRisk 502 Bad Gateway" in e for e in errors)


async def test_sigterm_while_market_data_streams_stops_cleanly(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    """Issue 12 item 14: what a StatefulSet rolling update does to the pod on a spec change.

    SIGTERM while the mark-price stream is live and the operator's probe keeps
    reading /status: the market-data task stops within the grace period, /status
    is answered until the server stops (never from a closed journal), exit 0.
    """
    bot = await start_bot(write_manifest(tmp_path, sim, absentGraceSeconds=0.5))
    assert bot.process.stderr is not None
    # Read as it comes: a full stderr pipe would block the bot (the old shutdown
    # logged a traceback per /status request).
    stderr = asyncio.create_task(bot.process.stderr.read())
    port = (await bot.wait_for("HTTP_LISTENING"))["port"]
    await bot.wait_for("WS_CONNECTED")
    await bot.wait_for("ORDER_RESPONSE", count=2)
    answers: list[int] = []
    probing = asyncio.Event()

    async def probe() -> None:
        """The operator's probe: /status as fast as it answers, until the bot has exited."""
        async with aiohttp.ClientSession() as http:
            while bot.process.returncode is None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/status") as reply:
                        answers.append(reply.status)
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.01)  # the server has stopped; the process is exiting
                probing.set()

    prober = asyncio.create_task(probe())
    await probing.wait()
    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0
    await prober
    errors = (await stderr).decode()

    assert "BOT_FATAL" not in bot.names(), [e for e in bot.events if e["event"] == "BOT_FATAL"]
    assert "Traceback" not in errors, errors[-3000:]
    assert answers and set(answers) == {200}
    assert bot.names()[-1] == "BOT_STOP"


async def test_reconcile_failing_past_tight_loop_timeout_exits_nonzero(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, sim, tightLoopTimeoutSeconds=2, absentGraceSeconds=0.5)
    bot = await start_bot(manifest)
    await bot.wait_for("RECOVERY_DONE")
    outage = {"status": 503, "code": -1001, "msg": "Internal error"}
    await sim.set_faults(
        [
            {
                "match": {"path": "/fapi/v3/positionRisk"},
                "after": 0,
                "times": None,
                "action": {"error": outage},
            }
        ]
    )
    assert await bot.exit_code() == 3
    fatal = await bot.wait_for("BOT_FATAL")
    assert fatal["reason"] == "tight-loop timeout"

    await sim.clear_faults()
    restarted = await start_bot(manifest)
    await restarted.wait_for("RECOVERY_DONE")
    restarted.process.send_signal(signal.SIGTERM)
    assert await restarted.exit_code() == 0
    venue_ids = [o["clientOrderId"] for o in (await sim.state())["orders"]]
    assert len(venue_ids) == len(set(venue_ids))


async def test_second_process_on_the_same_state_dir_exits_at_once_naming_the_holder(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, sim, absentGraceSeconds=0.5)
    first = await start_bot(manifest)
    await first.wait_for("ORDER_RESPONSE", count=4)

    second = await start_bot(manifest)
    assert await second.exit_code() == 2
    assert second.process.stderr is not None
    stderr = (await second.process.stderr.read()).decode()
    assert f"in use by pid {first.process.pid}" in stderr
    assert "one bot per state directory" in stderr
    # Refused before anything else: no HTTP server, no journal, no venue call.
    assert second.events == []

    # The first bot's orders are untouched and it still trades and stops cleanly.
    assert cancelled_behind_its_back(await sim.state(), tmp_path / "state") == []
    assert first.process.returncode is None
    first.process.send_signal(signal.SIGTERM)
    assert await first.exit_code() == 0
    assert every_submit_answered(first.events)


async def test_dry_run_beside_a_live_bot_on_the_same_account_changes_nothing_at_the_venue(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    # The runbooks' advice: the live manifest, a fresh state directory, --dry-run.
    manifest = write_manifest(tmp_path, sim, reconcileIntervalSeconds=0.5)
    live = await start_bot(manifest)
    await live.wait_for("ORDER_RESPONSE", count=4)
    # A fill gives the live bot a position, hence a protective stop at the venue.
    await sim.set_price("BTCUSDT", Decimal((await sim.state())["marks"]["BTCUSDT"]) * 99 / 100)
    await live.wait_for("STOP_REPAIR", lambda e: e.get("outcome") == "placed")
    before = await sim.state()

    dry = await start_bot(manifest, "--dry-run", state_dir=tmp_path / "dry-state")
    # Its empty journal beside the live bot's orders reads as a lost one: a dry run says so
    # and goes on, since it sends nothing.
    assert (await dry.wait_for("JOURNAL_LOST"))["dry_run"] is True
    # Every live order and the stop are strays to the dry run; it sees them three times.
    stray = await dry.wait_for("RECONCILE_MISMATCH", lambda e: e.get("verdict") == "stray")
    assert stray["action"] == "would-cancel"
    await dry.wait_for("WOULD_CANCEL", lambda e: e["correlation_id"].startswith("tw"))
    dry.process.send_signal(signal.SIGTERM)
    assert await dry.exit_code() == 0
    after = await sim.state()

    # Ground truth: the dry run cancelled nothing, placed nothing, left the leverage alone.
    assert cancelled_behind_its_back(after, tmp_path / "state") == []
    live_ids = {row["venue_client_id"] for row in journal_rows(tmp_path / "state")}
    placed = [o["clientOrderId"] for o in after["orders"]]
    placed += [a["clientAlgoId"] for a in after["algoOrders"]]
    assert set(placed) <= live_ids
    leverage = "POST /fapi/v1/leverage"
    assert after["requests"].get(leverage) == before["requests"].get(leverage)
    assert not {"ORDER_SUBMIT", "ORDER_RESPONSE", "BOT_FATAL"} & set(dry.names())
    assert journal_rows(tmp_path / "dry-state") == []

    live.process.send_signal(signal.SIGTERM)
    assert await live.exit_code() == 0
    assert every_submit_answered(live.events)


async def test_a_lost_journal_is_refused_while_the_venue_shows_the_bots_orders(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    manifest = write_manifest(tmp_path, sim, absentGraceSeconds=0.5)
    first = await start_bot(manifest)
    await first.wait_for("ORDER_RESPONSE", count=4)
    # A fill, so the account holds a position and its stop too.
    await sim.set_price("BTCUSDT", Decimal((await sim.state())["marks"]["BTCUSDT"]) * 99 / 100)
    await first.wait_for("STOP_REPAIR", lambda e: e.get("outcome") == "placed")
    first.process.send_signal(signal.SIGTERM)
    assert await first.exit_code() == 0
    await sim.pause_walk()
    before = await sim.state()

    (state_dir / JOURNAL_FILE).write_bytes(b"")  # truncated to 0 bytes
    truncated = await start_bot(manifest)
    assert await truncated.exit_code() == 2
    assert truncated.process.stderr is not None
    stderr = (await truncated.process.stderr.read()).decode()
    assert "has no history, but the venue shows this bot's orders" in stderr
    assert "runbooks/lost-journal.md" in stderr
    assert "JOURNAL_LOST" in truncated.names()
    assert "ORDER_SUBMIT" not in truncated.names()

    shutil.rmtree(state_dir)  # the whole state directory gone
    deleted = await start_bot(manifest)
    assert await deleted.exit_code() == 2
    assert "ORDER_SUBMIT" not in deleted.names()

    # Nothing was sent: the venue holds exactly what the first bot left.
    after = await sim.state()
    assert after["orders"] == before["orders"]
    assert after["algoOrders"] == before["algoOrders"]
    assert after["positions"] == before["positions"]
