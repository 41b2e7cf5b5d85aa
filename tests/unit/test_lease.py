"""Lease fencing: who may trade an account+symbol, decided from the Lease and the local clock."""

from __future__ import annotations

from typing import Any

import pytest

from tradewarden.api.identity import lease_name
from tradewarden.bot.control.lease import (
    LeaseAction,
    LeaseRecord,
    RivalSighting,
    Tenure,
    decide_lease,
    lease_body,
    lease_owner,
)

ME = "trading/btc-grid"
RIVAL = "trading/btc-grid-2"
T0 = 1_000_000.0
CREATE, RENEW, TAKE, WAIT = (
    LeaseAction.CREATE,
    LeaseAction.RENEW,
    LeaseAction.TAKE_OVER,
    LeaseAction.WAIT,
)


def record(holder: str | None, renew: str = "r1", version: str = "7") -> LeaseRecord:
    return LeaseRecord.from_object(
        {
            "metadata": {"name": "tw-main-btc", "resourceVersion": version},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": 15,
                "renewTime": renew,
                "acquireTime": "a0",
                "leaseTransitions": 2,
            },
        }
    )


def seen(rec: LeaseRecord, at: float) -> RivalSighting:
    return RivalSighting(rec.fingerprint, at)


RIVAL_REC = record(RIVAL)

# (case, lease, now, what this bot saw before, expected action, expected sighting)
DECISIONS: list[tuple[str, LeaseRecord | None, float, RivalSighting | None, LeaseAction, Any]] = [
    ("no lease: create it", None, T0, None, CREATE, None),
    ("ours: renew", record(ME), T0, None, RENEW, None),
    ("released (no holder): take it", record(None), T0, None, TAKE, None),
    ("rival, first sight: wait, start watching", RIVAL_REC, T0, None, WAIT, seen(RIVAL_REC, T0)),
    (
        "rival, unchanged for less than the duration: wait",
        RIVAL_REC,
        T0 + 14.9,
        seen(RIVAL_REC, T0),
        WAIT,
        seen(RIVAL_REC, T0),
    ),
    (
        "rival, unchanged for the whole duration: take over",
        RIVAL_REC,
        T0 + 15,
        seen(RIVAL_REC, T0),
        TAKE,
        None,
    ),
    (
        "rival renewed meanwhile: the clock restarts",
        record(RIVAL, renew="r2", version="8"),
        T0 + 20,
        seen(RIVAL_REC, T0),
        WAIT,
        seen(record(RIVAL, renew="r2", version="8"), T0 + 20),
    ),
    (
        "a new rival took it: the clock restarts",
        record("trading/third", version="9"),
        T0 + 20,
        seen(RIVAL_REC, T0),
        WAIT,
        seen(record("trading/third", version="9"), T0 + 20),
    ),
]


@pytest.mark.parametrize("row", DECISIONS, ids=[row[0] for row in DECISIONS])
def test_decide_lease(
    row: tuple[str, LeaseRecord | None, float, RivalSighting | None, LeaseAction, Any],
) -> None:
    _, lease, now, previous, action, sighting = row
    decision = decide_lease(lease, ME, now, previous)
    assert decision.action is action
    assert decision.sighting == sighting


def test_rival_renewing_in_time_is_never_taken_over() -> None:
    sighting = None
    for step in range(10):
        rival = record(RIVAL, renew=f"r{step}", version=str(step))
        decision = decide_lease(rival, ME, T0 + 5 * step, sighting)
        assert decision.action is WAIT
        sighting = decision.sighting


# (case, renewed at, now, refusal expected?)
TENURE = [
    ("never held", None, T0, "not held"),
    ("fresh", T0, T0 + 1, None),
    ("just before expiry", T0, T0 + 14.99, None),
    ("expired locally", T0, T0 + 15, "expired locally"),
]


@pytest.mark.parametrize(
    ("case", "renewed_at", "now", "refusal"), TENURE, ids=[row[0] for row in TENURE]
)
def test_tenure_gate(case: str, renewed_at: float | None, now: float, refusal: str | None) -> None:
    tenure = Tenure("tw-main-btc", 15, renewed_at)
    reason = tenure.refusal(now)
    assert tenure.held(now) is (refusal is None)
    if refusal is None:
        assert reason is None
    else:
        assert reason is not None and refusal in reason and "tw-main-btc" in reason


# (account, symbol, expected Lease name)
NAMES = [
    ("main", "BTC/USDT:USDT", "tw-main-btc-usdt-usdt"),
    ("Desk-1", "eth_usdt", "tw-desk-1-eth-usdt"),
    ("a" * 60, "BTC/USDT:USDT", "tw-" + "a" * 60),
]


@pytest.mark.parametrize(("account", "symbol", "expected"), NAMES)
def test_lease_name(account: str, symbol: str, expected: str) -> None:
    name = lease_name(account, symbol)
    assert name == expected
    assert len(name) <= 63


def test_renew_keeps_acquire_time_and_fences_on_resource_version() -> None:
    body = lease_body(RENEW, record(ME), name="tw-main-btc", namespace="trading", holder=ME, now=T0)
    spec = body["spec"]
    assert spec["holderIdentity"] == ME
    assert spec["acquireTime"] == "a0"
    assert spec["renewTime"] == "1970-01-12T13:46:40.000000Z"
    assert spec["leaseTransitions"] == 2
    assert spec["leaseDurationSeconds"] == 15
    assert body["metadata"]["resourceVersion"] == "7"


def test_take_over_counts_a_transition_and_restarts_acquire_time() -> None:
    body = lease_body(TAKE, RIVAL_REC, name="tw-main-btc", namespace="trading", holder=ME, now=T0)
    assert body["spec"]["holderIdentity"] == ME
    assert body["spec"]["acquireTime"] == body["spec"]["renewTime"]
    assert body["spec"]["leaseTransitions"] == 3


def test_create_has_no_resource_version() -> None:
    body = lease_body(CREATE, None, name="tw-main-btc", namespace="trading", holder=ME, now=T0)
    assert "resourceVersion" not in body["metadata"]
    assert body["spec"]["leaseTransitions"] == 0


def test_waiting_writes_nothing() -> None:
    with pytest.raises(ValueError, match="waiting"):
        lease_body(WAIT, RIVAL_REC, name="tw-main-btc", namespace="trading", holder=ME, now=T0)


def test_the_lease_names_its_holders_trading_bot_as_owner_on_every_write() -> None:
    owner = lease_owner("btc", "uid-1")
    assert owner == {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingBot",
        "name": "btc",
        "uid": "uid-1",
    }
    for action, current in ((CREATE, None), (RENEW, record(ME)), (TAKE, RIVAL_REC)):
        body = lease_body(
            action, current, name="tw-main-btc", namespace="trading", holder=ME, now=T0, owner=owner
        )
        assert body["metadata"]["ownerReferences"] == [owner]
    unowned = lease_body(CREATE, None, name="tw-main-btc", namespace="trading", holder=ME, now=T0)
    assert "ownerReferences" not in unowned["metadata"]
