"""Typed access to Binance request parameters, failing with Binance's parameter errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal

from tradewarden.bot.venue_sim import errors
from tradewarden.bot.venue_sim.engine import OrderRef
from tradewarden.bot.venue_sim.models import OrderType, Side

# The pattern Binance quotes in its -1100 message.
_DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
_INTEGER = re.compile(r"^[0-9]{1,19}$")
# Binance's allowed client order id alphabet and length.
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


class Params:
    """The merged query and form parameters of one request."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def raw(self) -> Mapping[str, str]:
        """The parameters as sent."""
        return self._values

    def optional(self, name: str) -> str | None:
        """A parameter's value; empty counts as absent, as on Binance."""
        value = self._values.get(name)
        return value if value else None

    def required(self, name: str) -> str:
        """A parameter that must be present (-1102 otherwise)."""
        value = self.optional(name)
        if value is None:
            raise errors.mandatory_missing(name)
        return value

    def decimal(self, name: str) -> Decimal | None:
        """An optional plain decimal such as ``0.001`` (-1100 when malformed)."""
        value = self.optional(name)
        if value is None:
            return None
        if not _DECIMAL.match(value):
            raise errors.illegal_characters(name)
        return Decimal(value)

    def integer(self, name: str) -> int | None:
        """An optional non-negative integer (-1100 when malformed)."""
        value = self.optional(name)
        if value is None:
            return None
        if not _INTEGER.match(value):
            raise errors.illegal_characters(name)
        return int(value)

    def client_id(self, name: str) -> str | None:
        """An optional client order id (-1100 outside Binance's alphabet or 36 characters)."""
        value = self.optional(name)
        if value is not None and not _CLIENT_ID.match(value):
            raise errors.illegal_characters(name, _CLIENT_ID.pattern)
        return value

    def boolean(self, name: str) -> bool:
        """``true``/``false`` in any case, absent meaning false (-1130 otherwise)."""
        value = self.optional(name)
        if value is None:
            return False
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise errors.invalid_param(name)
        return lowered == "true"

    def symbol(self) -> str:
        """The mandatory symbol."""
        return self.required("symbol").upper()

    def side(self) -> Side:
        """The mandatory side (-1117 for anything but BUY/SELL)."""
        try:
            return Side(self.required("side").upper())
        except ValueError:
            raise errors.invalid_side() from None

    def position_side(self) -> str:
        """The optional positionSide, BOTH when absent (-4060 for anything else than the three)."""
        value = (self.optional("positionSide") or "BOTH").upper()
        if value not in ("BOTH", "LONG", "SHORT"):
            raise errors.invalid_position_side()
        return value

    def acknowledge_only(self) -> bool:
        """Whether a new order is answered before it is matched (Binance USD-M's default).

        ``newOrderRespType`` is ``ACK`` (the default: the order as accepted, NEW
        and unfilled, even when it is about to fill) or ``RESULT`` (the order
        after the matching); anything else is -1136.
        """
        value = (self.optional("newOrderRespType") or "ACK").upper()
        if value not in ("ACK", "RESULT"):
            raise errors.invalid_response_type()
        return value == "ACK"

    def order_type(self) -> OrderType:
        """The mandatory order type (-1116 for types the venue does not simulate)."""
        try:
            return OrderType(self.required("type").upper())
        except ValueError:
            raise errors.invalid_order_type() from None

    def order_refs(self, ids_name: str, client_ids_name: str, limit: int) -> list[OrderRef]:
        """A JSON list of venue ids or of client ids, such as ``["a","b"]`` (batch endpoints).

        The names match in any case: ccxt sends them lower-cased, the venue's
        documentation camel-cased.
        """
        lowered = {name.lower(): value for name, value in self._values.items() if value}
        for name, by_client_id in ((client_ids_name, True), (ids_name, False)):
            text = lowered.get(name.lower())
            if text is None:
                continue
            try:
                items = json.loads(text)
            except ValueError:
                raise errors.invalid_param(name) from None
            if not isinstance(items, list) or not 0 < len(items) <= limit:
                raise errors.invalid_param(name)
            if by_client_id:
                if not all(isinstance(i, str) and _CLIENT_ID.match(i) for i in items):
                    raise errors.illegal_characters(name, _CLIENT_ID.pattern)
                return [OrderRef(client_order_id=item) for item in items]
            if not all(isinstance(i, int) and i >= 0 for i in items):
                raise errors.illegal_characters(name)
            return [OrderRef(order_id=item) for item in items]
        raise errors.one_of_missing(ids_name, client_ids_name)

    def order_ref(self, id_name: str, client_id_name: str) -> OrderRef:
        """An order reference by venue id or client id (-1102 when neither is sent)."""
        order_id = self.integer(id_name)
        client_id = self.optional(client_id_name)
        if order_id is None and client_id is None:
            raise errors.one_of_missing(id_name, client_id_name)
        return OrderRef(order_id=order_id, client_order_id=client_id)
