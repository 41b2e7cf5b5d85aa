"""Pure parts of the user-data stream: what wakes the reconcile, how a listenKey lives."""

from __future__ import annotations

import pytest

from tradewarden.bot.market.user_stream import wake_reason
from tradewarden.bot.venue_sim.errors import VenueError
from tradewarden.bot.venue_sim.userdata import ListenKeys, parse_events


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        ({"status": "open", "filled": 0.0}, None),  # the bot's own placement
        ({"status": "open", "filled": None}, None),  # a stop waiting for its trigger
        ({"status": "open", "filled": 0.001}, "fill"),  # a partial fill
        ({"status": "closed", "filled": 0.003}, "fill"),
        ({"status": "canceled", "filled": 0.0}, "order canceled"),
        ({"status": "expired", "filled": 0}, "order expired"),
        ({"status": "rejected"}, "order rejected"),
    ],
)
def test_what_wakes_the_reconcile(order: dict[str, object], reason: str | None) -> None:
    assert wake_reason(order) == reason


def test_a_listen_key_lives_its_validity_from_the_last_keepalive() -> None:
    keys = ListenKeys(validity_s=60)
    key = keys.create(now=0)
    assert len(key) == 64 and key.isalnum()
    assert keys.create(now=30) == key  # the active key, extended to 90
    assert keys.keepalive(now=80) == key  # extended to 140
    assert keys.lapsed(now=139) is None
    assert keys.lapsed(now=140) == key
    assert keys.lapsed(now=141) is None  # told once
    with pytest.raises(VenueError) as refused:
        keys.keepalive(now=141)
    assert (refused.value.code, refused.value.msg) == (-1125, "This listenKey does not exist.")
    assert keys.create(now=141) != key


def test_a_closed_key_cannot_be_kept_alive() -> None:
    keys = ListenKeys(validity_s=60)
    key = keys.create(now=0)
    assert keys.close(now=1) == key
    with pytest.raises(VenueError):
        keys.keepalive(now=2)
    with pytest.raises(VenueError):
        keys.close(now=2)


def test_the_events_parameter_is_an_allow_list() -> None:
    assert parse_events(None) is None
    assert parse_events("ORDER_TRADE_UPDATE/ACCOUNT_UPDATE") == {
        "ORDER_TRADE_UPDATE",
        "ACCOUNT_UPDATE",
    }
