"""The bot's Prometheus metrics, all under ``tradewarden_``.

Each bot builds its own registry, so tests and benchmarks can run several
bots in one process. Labels carry outcomes and classes, never ids, keys or
numbers. The counters alerts use with ``increase()`` start with every label
set they can take at 0, so the first event is an increase, not a new series.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from tradewarden.bot.model.guards import GUARD_NAMES
from tradewarden.bot.model.outcomes import ErrorClass, Operation, RefusalKind, Verdict

# The venue snapshot kinds the reconciler counts, besides the evidence verdicts.
SNAPSHOT_MISMATCH = "snapshot"
MISMATCH_KINDS = (SNAPSHOT_MISMATCH, Verdict.STALE.value, Verdict.CONFLICT.value)
GIVEUP_OPERATIONS = (Operation.CREATE.value, Operation.CANCEL.value)


def _start_at_zero(counter: Counter, label: str, values: Iterable[str]) -> None:
    for value in values:
        counter.labels(**{label: value})


class BotMetrics:
    """Counters and gauges the order path and the runtime update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.orders_submitted = Counter(
            "tradewarden_orders_submitted",
            "Order create requests sent to the venue (each attempt).",
            registry=r,
        )
        self.orders_responded = Counter(
            "tradewarden_orders_responded",
            "Order create attempts by outcome.",
            ["outcome"],
            registry=r,
        )
        self.retries = Counter(
            "tradewarden_order_retries",
            "Retries by error class.",
            ["reason_class"],
            registry=r,
        )
        self.giveups = Counter(
            "tradewarden_order_giveups",
            "Requests abandoned after the retry budget or max elapsed time.",
            ["operation"],
            registry=r,
        )
        self.incomplete_lifecycles = Gauge(
            "tradewarden_incomplete_lifecycles",
            "Intents without a terminal outcome past the threshold.",
            registry=r,
        )
        self.journal_orders = Gauge(
            "tradewarden_journal_orders",
            "Journaled orders by state.",
            ["state"],
            registry=r,
        )
        self.reconcile_mismatches = Counter(
            "tradewarden_reconcile_mismatches",
            "Venue snapshots that were stale or contradicted the journal.",
            ["kind"],
            registry=r,
        )
        self.position = Gauge(
            "tradewarden_position",
            "Signed position at the venue, in base units.",
            ["symbol"],
            registry=r,
        )
        self.trading_mode = Gauge(
            "tradewarden_trading_mode",
            "1 for the current trading mode, 0 for the others.",
            ["mode"],
            registry=r,
        )
        self.execution_queue_full = Counter(
            "tradewarden_execution_queue_full",
            "Commands dropped because the execution queue was full.",
            registry=r,
        )
        self.intents_refused = Counter(
            "tradewarden_intents_refused",
            "Strategy intents refused by posture or risk limits.",
            ["reason"],
            registry=r,
        )
        # The reliability layer: guards, belief, kill switch, protection, market data.
        self.guard_trips = Counter(
            "tradewarden_guard_trips",
            "Guard trips by guard name.",
            ["guard"],
            registry=r,
        )
        self.stop_repairs = Counter(
            "tradewarden_stop_repairs",
            "Protective-stop repairs by outcome.",
            ["outcome"],
            registry=r,
        )
        self.belief_confidence = Gauge(
            "tradewarden_belief_confidence",
            "Confidence (0..1) that the local view matches the venue.",
            registry=r,
        )
        self.mismatch_streak = Gauge(
            "tradewarden_mismatch_streak",
            "Reconciles in a row that disagreed with the venue.",
            registry=r,
        )
        self.kill_switch_engaged = Gauge(
            "tradewarden_kill_switch_engaged",
            "1 while the kill switch holds the bot halted.",
            registry=r,
        )
        self.api_error_rate = Gauge(
            "tradewarden_api_error_rate",
            "Share of venue requests that failed over the API-health window.",
            registry=r,
        )
        self.rate_limit_usage = Gauge(
            "tradewarden_rate_limit_usage",
            "Used request weight as a share of the venue's per-minute limit.",
            registry=r,
        )
        self.ws_reconnects = Counter(
            "tradewarden_ws_reconnects",
            "Market-data WebSocket reconnect attempts.",
            registry=r,
        )
        self.user_stream_reconnects = Counter(
            "tradewarden_user_stream_reconnects",
            "User-data stream reconnect attempts (dropped socket, refused dial, stale listenKey).",
            registry=r,
        )
        self.user_stream_wakes = Counter(
            "tradewarden_user_stream_wakes",
            "Reconciles the user-data stream woke (a fill, an order ended, the socket opened).",
            registry=r,
        )
        self.protection_missing = Gauge(
            "tradewarden_protection_missing",
            "1 while a position lacks its protective stop beyond the repair window.",
            registry=r,
        )
        self.preflight_passed = Gauge(
            "tradewarden_preflight_passed",
            "1 when the last preflight passed, 0 when it failed.",
            registry=r,
        )
        _start_at_zero(self.guard_trips, "guard", GUARD_NAMES)
        _start_at_zero(self.retries, "reason_class", (c.value for c in ErrorClass))
        _start_at_zero(self.reconcile_mismatches, "kind", MISMATCH_KINDS)
        _start_at_zero(self.intents_refused, "reason", (k.value for k in RefusalKind))
        _start_at_zero(self.giveups, "operation", GIVEUP_OPERATIONS)
