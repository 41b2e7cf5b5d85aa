"""The scenario catalogue: one scenario per FMEA row and per degradation-matrix row, and more.

Prices start at 50000 with the random walk off; the grid rests buys at -0.2 % / -0.4 %
and sells at +0.2 % / +0.4 %, so a :class:`MovePrice` of -0.25 % fills one buy.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt_async

from tradewarden.api.tradingbot import (
    EmergencyAction,
    EmergencyStop,
    SlippageGuard,
    TradingMode,
)
from tradewarden.bot.chaos.proxy import ProxyFault, Raise, When
from tradewarden.bot.chaos.runner import DEFAULT_SPEED
from tradewarden.bot.chaos.scenario import (
    ClearWireFaults,
    Controls,
    DropStreams,
    ExpectEvent,
    ExpectMode,
    ExpectStatus,
    ExpectVenue,
    MovePrice,
    OnceEntriesRest,
    OnceProtected,
    OnceWireFaultActs,
    OrderStorm,
    PriceWalk,
    ProxyFaults,
    RogueCancelStops,
    RogueOrder,
    Scenario,
    SpendWeight,
    Step,
    UserDataFault,
    WireFaults,
)
from tradewarden.bot.venue_sim.faults import FaultSpec

ORDER = "/fapi/v1/order"
POSITIONS = "/fapi/v3/positionRisk"
OPEN_ORDERS = "/fapi/v1/openOrders"
TICKER = "/fapi/v1/ticker/24hr"
ACCOUNT = "/fapi/v3/account"
BATCH_ORDERS = "/fapi/v1/batchOrders"
FILL_ONE_BUY = -0.25  # percent: crosses the first buy level only
GRID_REPRICE = 0.15  # percent: fills nothing, but the grid places a level on either side
GAP_THROUGH_STOP = -3.0  # percent: jumps past a stop 2 % under the entry
MARKET_DATA_PATHS = (TICKER, "/fapi/v1/premiumIndex")
# Every market fill (a triggered stop's too) slips this far: beyond the slippage guard's default.
SLIPS_BEYOND_TOLERANCE_BPS = SlippageGuard().max_slippage_bps + 10
# Venue faults count wall milliseconds; 15 bot seconds at the runner's default speed.
READ_LAG_MS = int(15 * 1000 / DEFAULT_SPEED)
CANCEL_HELD_MS = int(4 * 1000 / DEFAULT_SPEED)  # 4 bot seconds
# Binance USD-M's wording of its filter refusals (HTTP 400), as the simulator words them.
TICK_MSG = "Price not increased by tick size."
PRECISION_MSG = "Precision is over the maximum defined for this asset."
NOTIONAL_MSG = "Order's notional must be no smaller than 100 (unless you choose reduce only)."


def _wire(
    action: dict[str, Any],
    *,
    method: str | None = None,
    path: str | None = None,
    after: int = 0,
    times: int | None = None,
) -> FaultSpec:
    return FaultSpec.model_validate(
        {
            "match": {"method": method, "path": path},
            "after": after,
            "times": times,
            "action": action,
        }
    )


def _error(status: int, code: int, msg: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "msg": msg}}


def _stop(action: EmergencyAction) -> EmergencyStop:
    return EmergencyStop(action=action, reason="chaos drill")


SETTLED = ExpectEvent("ORDER_RESPONSE")  # the bot did trade: the scenario exercised the path

CATALOGUE: tuple[Scenario, ...] = (
    Scenario(
        name="baseline",
        covers="extra: no faults",
        summary="The grid trades undisturbed; every invariant holds on a quiet day, and no "
        "reconcile reports a mismatch (a fill between its reads is not one).",
        steps=(Step(3, MovePrice(FILL_ONE_BUY), jitter=2),),
        duration=10,
        expect=(
            SETTLED,
            ExpectMode(TradingMode.ACTIVE),
            ExpectEvent("RECONCILE_MISMATCH", at_least=0, at_most=0),
        ),
    ),
    Scenario(
        name="fmea_create_timeout_accepted",
        covers="FMEA: create times out but the exchange may have accepted the order",
        summary="The venue accepts creates but the replies are lost; the bot looks up by id "
        "and never sends a second order.",
        setup=(
            WireFaults((_wire({"accept_then_drop": True}, method="POST", path=ORDER, times=2),)),
        ),
        duration=12,
        expect=(ExpectEvent("ORDER_LOOKUP", where=(("found", "True"),)),),
    ),
    Scenario(
        name="fmea_create_timeout_in_process",
        covers="FMEA: create times out but the exchange may have accepted the order",
        summary="In process: create_order reaches the venue, then raises RequestTimeout.",
        setup=(
            ProxyFaults(
                (
                    ProxyFault(
                        "create_order",
                        Raise(ccxt_async.RequestTimeout),
                        after=1,
                        times=2,
                        when=When.AFTER,
                    ),
                )
            ),
        ),
        duration=10,
        expect=(ExpectEvent("ORDER_LOOKUP", where=(("found", "True"),)),),
    ),
    Scenario(
        name="fmea_duplicate_id_absent",
        covers="FMEA: duplicate clientOrderId on retry",
        summary="The venue answers -4116 though no order carries the id: the bot fetches, "
        "finds nothing and rotates a bounded, length-safe variant.",
        setup=(
            WireFaults(
                (
                    _wire(
                        _error(400, -4116, "ClientOrderId is duplicated."),
                        method="POST",
                        path=ORDER,
                        times=1,
                    ),
                )
            ),
        ),
        duration=10,
        expect=(ExpectEvent("ORDER_SUBMIT", where=(("venue_client_id", ".r1"),)),),
    ),
    Scenario(
        name="fmea_duplicate_id_present",
        covers="FMEA: duplicate clientOrderId on retry",
        summary="The create went through, but the reply says duplicate id: the bot fetches "
        "the order and adopts it instead of sending another.",
        setup=(
            ProxyFaults(
                (
                    ProxyFault(
                        "create_order",
                        Raise(ccxt_async.DuplicateOrderId),
                        times=1,
                        when=When.AFTER,
                    ),
                )
            ),
        ),
        duration=10,
        expect=(ExpectEvent("ORDER_LOOKUP", where=(("found", "True"),)),),
    ),
    Scenario(
        name="fmea_cancel_unknown_order",
        covers="FMEA: cancel of an already-filled or unknown order",
        summary="The price jumps: sells fill and buys leave the grid band. The first cancels "
        "come back 'unknown order' although the orders are open, so the bot looks them up "
        "and retries instead of forgetting them; fills are adopted from the venue.",
        steps=(
            Step(
                2,
                ProxyFaults(
                    (ProxyFault("cancel_order", Raise(ccxt_async.OrderNotFound), times=2),)
                ),
            ),
            Step(3, MovePrice(1.0), jitter=2),
        ),
        # The buys leave the band after the sells fill and the stop is placed: on a loaded
        # machine that chain alone can take most of 10 bot seconds (requests cost bot time).
        duration=20,
        expect=(
            ExpectEvent("ORDER_ERROR", where=(("operation", "cancel"),)),
            ExpectVenue(position_seen=True),
        ),
    ),
    Scenario(
        name="fmea_cancel_replace_loop",
        covers="FMEA: cancel/replace loops under ambiguity",
        summary="Every cancel fails with 503 for a while: each cancel stops after its retry "
        "budget, the cancels of one order (the strategy's, or the posture's once the 503s "
        "trip API health) stop after maxCancelReplace commands (give-up telemetry), and the "
        "bot reconciles once the venue answers again.",
        steps=(
            Step(
                2,
                WireFaults(
                    tuple(
                        # One cancel or a batch of them: the posture's cancels go in batches.
                        _wire(_error(503, -1001, "Internal error"), method="DELETE", path=path)
                        for path in (ORDER, BATCH_ORDERS)
                    )
                ),
            ),
            Step(3, MovePrice(1.0), jitter=1),
            Step(19, ClearWireFaults()),
        ),
        duration=22,
        spec={"execution": {"maxCancelReplace": 2}},
        expect=(
            ExpectEvent("ORDER_GIVEUP", where=(("operation", "cancel"),)),
            ExpectEvent(
                "ORDER_GIVEUP", where=(("operation", "cancel"), ("reason", "cancel commands"))
            ),
        ),
    ),
    Scenario(
        name="fmea_partial_fill",
        covers="FMEA: partial fill while local state assumes atomic fills",
        summary="Resting orders fill in halves; the journal adopts each part and the partial "
        "position gets its stop.",
        sim={"partial_fill_ratio": 0.5},
        steps=(Step(3, MovePrice(FILL_ONE_BUY), jitter=2), Step(7, MovePrice(0.3), jitter=1)),
        duration=12,
        expect=(ExpectVenue(position_seen=True), ExpectEvent("ORDER_STATE")),
    ),
    Scenario(
        name="fmea_missing_stop",
        covers="FMEA: position exists but its protective stop is missing",
        summary="A fill opens a position; someone cancels its stop twice; the reconciler "
        "re-places it (reduce-only) each time.",
        steps=(
            Step(2, MovePrice(FILL_ONE_BUY), jitter=1),
            Step(4, OnceProtected(RogueCancelStops())),
            Step(8, OnceProtected(RogueCancelStops())),
        ),
        duration=16,
        expect=(ExpectVenue(position_seen=True), ExpectEvent("STOP_REPAIR")),
    ),
    Scenario(
        name="fmea_contradictory_snapshots",
        covers="FMEA: delayed / contradictory open-orders vs positions snapshots",
        summary="Positions are served 5 s stale while orders fill: the snapshots disagree, "
        "belief debt grows and confidence drops.",
        steps=(
            Step(2, WireFaults((_wire({"stale_ms": 5000}, method="GET", path=POSITIONS),))),
            Step(3, MovePrice(FILL_ONE_BUY), jitter=2),
            Step(10, ClearWireFaults()),
        ),
        duration=12,
        expect=(ExpectStatus("belief.confidence", "lt", 1.0),),
    ),
    Scenario(
        name="fmea_rate_limit_storm",
        covers="FMEA: rate-limit storm / exchange overload",
        summary="Every request gets 429 -1003 for a while: capped retries, then the API "
        "health guard pauses the bot until the storm passes.",
        steps=(
            Step(
                2,
                WireFaults((_wire(_error(429, -1003, "Too many requests."), after=2, times=40),)),
                jitter=1,
            ),
        ),
        duration=10,
        expect=(
            ExpectEvent("GUARD_TRIP", where=(("guard", "apiHealth"),)),
            ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth"),
        ),
    ),
    Scenario(
        name="fmea_clock_skew_transient",
        covers="FMEA: timestamp skew / recvWindow drift (-1021)",
        summary="Two creates arrive 10 s off the venue clock: -1021, time re-sync, limited "
        "retries, then the order goes through.",
        setup=(WireFaults((_wire({"skew_ms": -10000}, method="POST", path=ORDER, times=2),)),),
        duration=10,
        expect=(ExpectEvent("ORDER_ERROR", where=(("error_class", "clock"),)), SETTLED),
    ),
    Scenario(
        name="fmea_clock_skew_persistent",
        covers="FMEA: timestamp skew / recvWindow drift (-1021)",
        summary="Every signed call reaches the venue 15 s after its timestamp (past ccxt's "
        "10 s recvWindow), so re-syncing the clock cannot help: the bot fails safe (stops "
        "adding exposure) instead of retrying forever.",
        steps=(Step(2, WireFaults((_wire({"lag_ms": 15000}),)), jitter=1),),
        # Failing safe is the promise, not which guard says it: the broker reads (three
        # failed passes) or API health (the error rate of the refused calls, the entries'
        # cancels among them) trips first, depending on how the cancels and the passes
        # interleave on a loaded machine.
        duration=20,
        expect=(
            # "guard.": a guard's trip, not the reduce-only of the bot's own stop at the end.
            ExpectMode(TradingMode.REDUCE_ONLY, "guard."),
            ExpectEvent("ORDER_ERROR", where=(("error_class", "clock_skew"),)),
        ),
    ),
    Scenario(
        name="fmea_divergence_kill_switch",
        covers="FMEA: local/exchange divergence persists",
        summary="Someone opens a position the journal cannot explain; the mismatch persists, "
        "the kill switch halts the bot and holds until the position is gone and "
        "clean reconciles are seen.",
        steps=(
            Step(2, RogueOrder("buy", "0.01")),
            # Five mismatched reconciles (kill debt 5) fit in 10 bot seconds on a quiet
            # machine; a loaded one stretches each pass, so the divergence lasts 20.
            Step(22, RogueOrder("sell", "0.01", reduce_only=True)),
        ),
        duration=28,
        divergence=((2, 22),),
        expect=(
            ExpectMode(TradingMode.HALTED, "killSwitch"),
            ExpectStatus("killSwitch.engaged", "eq", True),
        ),
    ),
    Scenario(
        name="matrix_preflight_fails",
        covers="matrix: preflight fails (API, credentials, account, market data, clock)",
        summary="Signed calls are refused with -2015 from the start: the bot reports the "
        "failed checks and never trades.",
        setup=(
            WireFaults(
                tuple(
                    _wire(
                        _error(401, -2015, "Invalid API-key, IP, or permissions for action."),
                        path=path,
                    )
                    for path in (ACCOUNT, POSITIONS, ORDER)
                )
            ),
        ),
        needs_ready=False,
        duration=6,
        expect=(
            ExpectEvent("ORDER_SUBMIT", at_least=0, at_most=0),
            ExpectStatus("preflight.passed", "eq", False),
        ),
    ),
    Scenario(
        name="matrix_api_health_errors",
        covers="matrix: API health trip (error rate, or the circuit)",
        summary="Every read gets 503 for 14 s while writes still work: the error rate trips API "
        "health, or, when the reads back off so far that too few calls fall in its window, the "
        "circuit does at the fifth failure in a row; entries are cancelled at once, the bot is "
        "reduce-only for the pause, and the probe after the outage brings it back.",
        steps=(
            # The reconcile's failing reads back off 1, 2, 4, 4 s: the fifth failure in a row
            # (the circuit) comes 11 s into the outage at the latest, whatever the load.
            Step(
                2,
                WireFaults((_wire(_error(503, -1001, "Internal error"), method="GET"),)),
                jitter=1,
            ),
            Step(16, ClearWireFaults()),
        ),
        # Recovery: the last failure (by 16) + the 8 s pause, then the next read probes.
        duration=34,
        expect=(
            ExpectEvent("GUARD_TRIP", where=(("guard", "apiHealth"),)),
            ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth", recovers=True),
        ),
    ),
    Scenario(
        name="matrix_api_health_rate_limit_usage",
        covers="matrix: API health trip (rate-limit usage from x-mbx-used-weight-1m)",
        summary="The venue publishes a small weight budget (400/min) and another client on the "
        "same IP spends most of it: the bot's used-weight header passes 90 % of the published "
        "budget (not Binance's 2400) before any 429.",
        sim={"weight_limit_1m": 400},
        # Twice, in case the venue's one-minute window turns over right after the first.
        steps=(Step(2, SpendWeight(0.9), jitter=1), Step(7, SpendWeight(0.9))),
        duration=12,
        expect=(ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth"),),
    ),
    Scenario(
        name="matrix_mark_stale",
        covers="matrix: mark price stale",
        summary="Streams drop and refuse reconnects while REST market data fails: the mark "
        "goes stale, the symbol is paused (reduce-only allowed) and trading resumes after "
        "the cooldown.",
        steps=(
            Step(
                2,
                WireFaults(
                    tuple(
                        _wire(_error(503, -1001, "Internal error"), method="GET", path=path)
                        for path in MARKET_DATA_PATHS
                    )
                ),
                jitter=1,
            ),
            # Market data stays dark for ~11 s, five more than the 6 s staleness
            # threshold, so the trip never hinges on one guard tick.
            Step(2.5, DropStreams(refuse_seconds=12)),
            Step(14, ClearWireFaults()),
        ),
        duration=30,
        expect=(ExpectMode(TradingMode.REDUCE_ONLY, "markStaleness", recovers=True),),
    ),
    Scenario(
        name="matrix_slippage",
        covers="matrix: repeated slippage failures",
        summary="The price gaps down through the protective stop three times, and the venue "
        "slips every market fill beyond the slippage guard's tolerance: each triggered stop is "
        "a slippage failure, and the third in a row pauses the symbol. A stop fill within "
        "tolerance would end the run, and a stop can sit just under the mark after a gap (the "
        "position's entries span the gap), where a re-entry dip triggers it; so no stop fill, "
        "whichever move triggers it, is within tolerance.",
        sim={"slippage_bps": SLIPS_BEYOND_TOLERANCE_BPS},
        steps=(
            Step(2, MovePrice(FILL_ONE_BUY)),
            Step(3, OnceProtected(MovePrice(GAP_THROUGH_STOP))),
            Step(4, OnceEntriesRest(MovePrice(FILL_ONE_BUY))),
            Step(5, OnceProtected(MovePrice(GAP_THROUGH_STOP))),
            Step(6, OnceEntriesRest(MovePrice(FILL_ONE_BUY))),
            Step(7, OnceProtected(MovePrice(GAP_THROUGH_STOP))),
        ),
        duration=30,
        expect=(ExpectMode(TradingMode.REDUCE_ONLY, "slippage"),),
    ),
    Scenario(
        name="matrix_broker_reads",
        covers="matrix: broker read failures in a row",
        summary="Position reads fail with 503 several times in a row: global pause with "
        "reduce-only allowed.",
        steps=(
            Step(
                2,
                WireFaults(
                    (
                        _wire(
                            _error(503, -1001, "Internal error"),
                            method="GET",
                            path=POSITIONS,
                            times=8,
                        ),
                    )
                ),
                jitter=1,
            ),
        ),
        # Three failed passes trip brokerReads: the next timer pass (up to 3 s after the
        # fault at 2-3 s), then the worker's retries 1 s and 2 s later, so by about 9 s.
        duration=14,
        expect=(ExpectMode(TradingMode.REDUCE_ONLY, "brokerReads"),),
    ),
    Scenario(
        name="matrix_drift_strays",
        covers="matrix: order reconciliation drift (bot-owned orders unknown locally)",
        summary="An order carrying the bot's id prefix appears at the venue; after 3 "
        "detections it is cancelled and the bot goes reduce-only.",
        steps=(Step(2, RogueOrder("buy", "0.003", limit_offset_pct=-3.0, bot_owned=True)),),
        duration=14,
        expect=(
            ExpectMode(TradingMode.REDUCE_ONLY, "drift"),
            ExpectVenue(strays_cancelled=True),
            ExpectStatus("drift.detected", "eq", True),
        ),
    ),
    Scenario(
        name="matrix_ws_reconnects_exhausted",
        covers="matrix: WebSocket reconnects exhausted",
        summary="The venue drops the market stream and refuses every reconnect: attempts "
        "back off and, once exhausted, the global pause trips.",
        steps=(Step(2, DropStreams(refuse_seconds=60), jitter=1),),
        duration=10,
        expect=(
            ExpectEvent("WS_EXHAUSTED"),
            ExpectMode(TradingMode.REDUCE_ONLY, "websocket"),
        ),
    ),
    Scenario(
        name="emergency_reduce_only",
        covers="extra: emergencyStop ReduceOnly",
        summary="The break-glass ReduceOnly: entries are cancelled, nothing new is opened, "
        "and lifting it resumes trading.",
        steps=(
            Step(3, Controls(emergency_stop=_stop(EmergencyAction.REDUCE_ONLY)), jitter=1),
            Step(8, Controls()),
        ),
        duration=12,
        expect=(ExpectMode(TradingMode.REDUCE_ONLY, "emergency", recovers=True),),
    ),
    Scenario(
        name="emergency_halt",
        covers="extra: emergencyStop Halt",
        summary="Halt with a position open: every non-protective order is cancelled, the "
        "stop stays.",
        steps=(
            Step(2, MovePrice(FILL_ONE_BUY), jitter=1),
            Step(6, Controls(emergency_stop=_stop(EmergencyAction.HALT)), jitter=1),
        ),
        duration=10,
        expect=(ExpectMode(TradingMode.HALTED, "emergency"), ExpectVenue(position_seen=True)),
    ),
    Scenario(
        name="emergency_flatten",
        covers="extra: emergencyStop Flatten",
        summary="Flatten with a position open: everything cancelled, the position closed "
        "with reduce-only market orders, then halted.",
        steps=(
            Step(2, MovePrice(FILL_ONE_BUY), jitter=1),
            Step(6, Controls(emergency_stop=_stop(EmergencyAction.FLATTEN)), jitter=1),
        ),
        duration=12,
        expect=(
            ExpectMode(TradingMode.HALTED, "emergency"),
            ExpectVenue(position_seen=True, flat_at_end=True),
        ),
    ),
    Scenario(
        name="spec_paused",
        covers="extra: spec.paused (planned pause)",
        summary="A planned pause: reduce-only, entries cancelled; unpausing resumes.",
        steps=(Step(3, Controls(paused=True), jitter=1), Step(8, Controls())),
        duration=12,
        expect=(ExpectMode(TradingMode.REDUCE_ONLY, "paused", recovers=True),),
    ),
    Scenario(
        name="ambiguous_5xx_create",
        covers="extra: 5xx on create (ambiguous outcome)",
        summary="Creates get 503 -1001 twice: the outcome is unknown, so the bot looks up "
        "first and resends only under the same id.",
        setup=(
            WireFaults(
                (_wire(_error(503, -1001, "Internal error"), method="POST", path=ORDER, times=2),)
            ),
        ),
        duration=10,
        expect=(ExpectEvent("ORDER_LOOKUP"), ExpectEvent("ORDER_RETRY"), SETTLED),
    ),
    Scenario(
        name="garbled_create_reply",
        covers="extra: garbled reply after the venue acted",
        summary="The venue places the order but answers with an HTML page: the bot treats "
        "it as unknown and adopts the order it finds.",
        setup=(
            WireFaults(
                (
                    _wire(
                        {"raw": {"status": 200, "body": "<html>oops</html>"}},
                        method="POST",
                        path=ORDER,
                        times=1,
                    ),
                )
            ),
        ),
        duration=10,
        expect=(ExpectEvent("ORDER_LOOKUP", where=(("found", "True"),)),),
    ),
    Scenario(
        name="open_orders_dropped_fields",
        covers="extra: open-orders snapshot missing fields",
        summary="Open-order and order replies lose their status field for a while: the bot "
        "refuses to guess and settles once the venue answers properly.",
        steps=(
            Step(
                2,
                WireFaults(
                    (_wire({"drop_fields": ["status"]}, method="GET", path=ORDER, times=4),)
                ),
            ),
            Step(3, MovePrice(FILL_ONE_BUY), jitter=2),
        ),
        duration=10,
        expect=(ExpectVenue(position_seen=True),),
    ),
)


HARDER_VENUE: tuple[Scenario, ...] = (
    Scenario(
        name="venue_resend_after_fill",
        covers="extra: ambiguous create that filled, then a resend under the same id",
        summary="The first create is accepted but its reply is lost; the order fills while the "
        "bot waits, and its lookups fail with 503. Binance takes a client id again once its "
        "order is no longer open, so a resend under the same id would be a second order: the "
        "bot leaves the outcome unknown to the reconciler, which adopts the fill.",
        setup=(
            WireFaults(
                (
                    _wire({"accept_then_drop": True}, method="POST", path=ORDER, times=1),
                    _wire(_error(503, -1001, "Internal error"), method="GET", path=ORDER, times=4),
                )
            ),
        ),
        # Filled while the create waits for its lost reply (ccxt's timeout).
        steps=(Step(0, OnceEntriesRest(MovePrice(FILL_ONE_BUY))),),
        duration=14,
        # Room for a resend after the failed lookups: the bot must not take it.
        spec={"execution": {"maxElapsedSeconds": 30.0}},
        expect=(
            ExpectEvent("ORDER_GIVEUP", where=(("reason", "lookups failed"),)),
            ExpectEvent("ORDER_SUBMIT", at_least=0, at_most=0, where=(("attempt", "2"),)),
            ExpectEvent("ORDER_STATE", where=(("state", "FILLED"),)),
            ExpectVenue(position_seen=True),
        ),
    ),
    Scenario(
        name="venue_read_lag",
        covers="extra: accepted order invisible to lookups beyond the retry budget",
        summary="The venue's reads lag its writes by 15 bot seconds (every order younger than "
        "that is missing from lookups, -2013, and from the open lists), longer than the "
        "router's 10 s retry budget, and the first create's reply is lost. Within "
        "absentGraceSeconds the bot neither resends nor calls the unseen order gone or a "
        "stray: it leaves the outcome unknown and adopts the order once the reads catch up. "
        "The orders it places meanwhile are missing from the open lists too: not a mismatch "
        "within the grace, so no drift guard churns the grid.",
        setup=(
            WireFaults(
                (
                    _wire({"accept_then_drop": True}, method="POST", path=ORDER, times=1),
                    _wire({"hide_new_orders_ms": READ_LAG_MS}, method="GET"),
                )
            ),
        ),
        duration=24,
        spec={"execution": {"absentGraceSeconds": 30.0}},
        expect=(
            ExpectEvent("ORDER_GIVEUP", where=(("reason", "retry budget spent, outcome unknown"),)),
            ExpectEvent("ORDER_SUBMIT", at_least=0, at_most=0, where=(("attempt", "2"),)),
            # The lost order is adopted (from the open list or a lookup) once reads show it.
            ExpectEvent("ORDER_STATE", where=(("state", "OPEN"),)),
            # Neither a stray nor an order "missing" from the lagging lists, so no drift.
            ExpectEvent("RECONCILE_MISMATCH", at_least=0, at_most=0),
            ExpectEvent("GUARD_TRIP", at_least=0, at_most=0),
        ),
    ),
    Scenario(
        name="venue_partial_fill_during_cancel",
        covers="extra: partial fill while a cancel is in flight",
        summary="A planned pause cancels the entries, and the venue holds each cancel for 4 bot "
        "seconds; meanwhile the price dips and half of a buy fills (resting orders fill in "
        "halves). The cancel then takes the rest: the journal records the order cancelled with "
        "the half it filled, and that half position gets its stop.",
        sim={"partial_fill_ratio": 0.5},
        steps=(
            Step(
                2,
                WireFaults(
                    tuple(
                        _wire({"delay_ms": CANCEL_HELD_MS}, method="DELETE", path=path)
                        for path in (ORDER, BATCH_ORDERS)
                    )
                ),
            ),
            Step(3, Controls(paused=True), jitter=1),
            # One mark through the buy while its cancel is held: half of it fills.
            Step(4, OnceWireFaultActs((PriceWalk(paused=True), MovePrice(FILL_ONE_BUY)))),
            Step(9, PriceWalk(paused=False)),
        ),
        duration=16,
        expect=(
            ExpectMode(TradingMode.REDUCE_ONLY, "paused"),
            ExpectEvent("ORDER_RESPONSE", where=(("operation", "cancel"), ("state", "CANCELED"))),
            ExpectVenue(position_seen=True),
        ),
    ),
    Scenario(
        name="venue_filter_rejections",
        covers="extra: precision and filter rejections (-4014, -1111, -4164)",
        summary="The venue's filters refuse the first creates, two of each: tick size -4014, "
        "precision -1111, minimum notional -4164 (as if its filters changed after the bot "
        "loaded them). Each refused order is rejected at once, never retried or resent; the bot "
        "holds that side back for maxElapsedSeconds instead of proposing it again every tick "
        "(INTENT_REFUSED venue-filter, quoting the venue), then trades once the venue accepts.",
        setup=(
            WireFaults(
                (
                    _wire(_error(400, -4014, TICK_MSG), method="POST", path=ORDER, times=2),
                    _wire(
                        _error(400, -1111, PRECISION_MSG),
                        method="POST",
                        path=ORDER,
                        after=2,
                        times=2,
                    ),
                    _wire(
                        _error(400, -4164, NOTIONAL_MSG),
                        method="POST",
                        path=ORDER,
                        after=4,
                        times=2,
                    ),
                )
            ),
        ),
        duration=22,
        spec={"execution": {"maxElapsedSeconds": 4.0}},
        expect=(
            ExpectEvent("ORDER_ERROR", at_least=6, at_most=6, where=(("error_class", "rejected"),)),
            ExpectEvent("ORDER_ERROR", where=(("venue_code", "-4014"),)),
            ExpectEvent("ORDER_ERROR", where=(("venue_code", "-1111"),)),
            ExpectEvent("ORDER_ERROR", where=(("venue_code", "-4164"),)),
            ExpectEvent("ORDER_SUBMIT", at_least=0, at_most=0, where=(("attempt", "2"),)),
            ExpectEvent("INTENT_REFUSED", where=(("reason", "venue-filter"),)),
            SETTLED,
        ),
    ),
    Scenario(
        name="venue_order_rate_storm",
        covers="extra: order-rate storm (-1015, X-MBX-ORDER-COUNT headers)",
        summary="Another client of the account spends its ORDERS budget (40 a minute here) "
        "until the venue answers -1015; the price moves so the grid re-prices and its creates "
        "are refused with -1015 (HTTP 429) and the order-count headers at the limit. The bot "
        "backs off without resending a refused order twice, and the API-health guard reads "
        "the headers and goes reduce-only. Twice, in case a minute window turns over.",
        sim={"order_limit_1m": 40},
        # The storm waits for the grid to rest: a loaded machine can take 5-8 bot seconds
        # to place it, and a storm before that left no re-pricing to refuse. The second
        # comes late enough (the first can end 13 s in) that its move does not undo the
        # first before the bot saw it.
        steps=(
            Step(2, OnceEntriesRest(OrderStorm())),
            Step(2, MovePrice(GRID_REPRICE)),
            Step(18, OrderStorm()),
            Step(18, MovePrice(-GRID_REPRICE)),
        ),
        duration=28,
        expect=(
            ExpectEvent("ORDER_ERROR", where=(("venue_code", "-1015"),)),
            ExpectEvent("GUARD_TRIP", where=(("guard", "apiHealth"),)),
            ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth"),
        ),
    ),
    Scenario(
        name="venue_stale_listen_key",
        covers="extra: stale listenKey on the private user-data stream",
        summary="The venue lets the user-data listenKey lapse: the socket stays open and "
        "silent, so a fill right after is never pushed. The periodic reconcile still finds "
        "it and protects the position; the bot's listenKey renewal takes a new key on a new "
        "socket and reconciles once for the gap, without the WebSocket guard tripping.",
        # The stream renews its key every keepaliveSeconds of the wall clock: 10 bot seconds.
        spec={"execution": {"userDataStream": {"keepaliveSeconds": 1}}},
        steps=(
            Step(2, UserDataFault(expire_key=True), jitter=1),
            Step(4, MovePrice(FILL_ONE_BUY)),
        ),
        duration=20,
        expect=(
            ExpectEvent("USER_STREAM_CONNECTED", at_least=2),
            ExpectEvent("USER_STREAM_UPDATE", where=(("reason", "stream reconnected"),)),
            ExpectEvent("USER_STREAM_EXHAUSTED", at_least=0, at_most=0),
            ExpectVenue(position_seen=True),
        ),
    ),
)

CATALOGUE = CATALOGUE + HARDER_VENUE


def scenario_named(name: str) -> Scenario:
    """The catalogue entry called ``name`` (KeyError if there is none)."""
    for scenario in CATALOGUE:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
