"""Client order ids: venue-safe, stable, distinct, and recognisable by bot."""

from __future__ import annotations

import re

import pytest

from tradewarden.api.identity import bot_prefix
from tradewarden.bot.execution.client_ids import (
    EPOCH_LENGTH,
    MAX_ROTATIONS,
    client_order_id,
    epoch_text,
    new_epoch,
    rotated_client_order_id,
)

# Binance's documented rule for newClientOrderId.
BINANCE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

IDENTITIES = [
    "default/btc-grid-sim/6f1c2a8e-1d3b-4c55-9e0f-0a1b2c3d4e5f",
    "x",
    "",
    "a" * 500,
    "ünïcødé bot name with spaces / and : colons",
]
SEQUENCES = [0, 1, 35, 36, 1295, 1296, 36**5 - 1, 36**5, 10**6, 10**9 - 1, 10**9]


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_ids_are_valid_binance_client_ids(identity: str, sequence: int) -> None:
    coid = client_order_id(identity, sequence)

    assert BINANCE.match(coid), coid
    assert coid.startswith(bot_prefix(identity))


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_ids_are_stable_for_the_same_identity_and_sequence(sequence: int) -> None:
    identity = IDENTITIES[0]
    assert client_order_id(identity, sequence) == client_order_id(identity, sequence)


def test_ids_are_distinct_across_sequences() -> None:
    sequences = [*range(5000), *SEQUENCES]
    ids = {client_order_id("bot-a", sequence) for sequence in sequences}
    assert len(ids) == len(set(sequences))


def test_ids_are_distinct_across_bots() -> None:
    a, b = "default/bot-a/uid-1", "default/bot-b/uid-2"

    assert bot_prefix(a) != bot_prefix(b)
    for sequence in SEQUENCES:
        assert client_order_id(a, sequence) != client_order_id(b, sequence)
        # the reconciler must not mistake one bot's order for the other's
        assert not client_order_id(a, sequence).startswith(bot_prefix(b))


def test_prefix_is_shared_by_every_order_of_a_bot() -> None:
    prefixes = {client_order_id("bot-a", s)[: len(bot_prefix("bot-a"))] for s in SEQUENCES}
    assert prefixes == {bot_prefix("bot-a")}


def test_negative_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        client_order_id("bot-a", -1)


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_every_rotation_of_a_real_id_is_valid_and_distinct(sequence: int) -> None:
    base = client_order_id(IDENTITIES[0], sequence)

    rotated = [rotated_client_order_id(base, r) for r in range(1, MAX_ROTATIONS + 1)]

    assert all(BINANCE.match(coid) for coid in rotated), rotated
    assert len({base, *rotated}) == MAX_ROTATIONS + 1
    # the lineage stays visible in logs
    assert all(coid.startswith(base) for coid in rotated)


@pytest.mark.parametrize("rotation", [0, -1, MAX_ROTATIONS + 1, 100])
def test_rotation_is_bounded(rotation: int) -> None:
    with pytest.raises(ValueError, match="rotation"):
        rotated_client_order_id(client_order_id("bot-a", 1), rotation)


@pytest.mark.parametrize(
    ("base_length", "fits"),
    [(30, True), (33, True), (34, False), (36, False)],
)
def test_rotation_never_produces_an_id_the_venue_would_refuse(base_length: int, fits: bool) -> None:
    base = "a" * base_length
    if fits:
        assert BINANCE.match(rotated_client_order_id(base, MAX_ROTATIONS))
    else:
        with pytest.raises(ValueError, match="id rules"):
            rotated_client_order_id(base, MAX_ROTATIONS)


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_epoch_ids_fit_binance_even_rotated(identity: str, sequence: int) -> None:
    for epoch in (epoch_text(0), epoch_text(36**EPOCH_LENGTH - 1), new_epoch()):
        coid = client_order_id(identity, sequence, epoch)
        assert BINANCE.match(coid), coid
        assert coid.startswith(bot_prefix(identity))
        assert BINANCE.match(rotated_client_order_id(coid, MAX_ROTATIONS))


def test_ids_are_distinct_across_epochs_and_from_pre_epoch_ids() -> None:
    ids = [
        client_order_id("bot-a", s, e)
        for e in ("", epoch_text(1), epoch_text(2))
        for s in SEQUENCES
    ]
    assert len(ids) == len(set(ids))


def test_epochs_are_eight_base36_digits_and_random() -> None:
    drawn = {new_epoch() for _ in range(200)}
    assert len(drawn) == 200
    assert all(re.fullmatch(r"[0-9a-z]{8}", epoch) for epoch in drawn)
    with pytest.raises(ValueError):
        epoch_text(36**EPOCH_LENGTH)
