"""Binance USD-M error replies, with the codes and messages Binance sends."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class VenueError(Exception):
    """A request the venue rejects; rendered as Binance's ``{"code": .., "msg": ..}`` reply."""

    def __init__(
        self,
        code: int,
        msg: str,
        *,
        status: int = 400,
        headers: Mapping[str, str] = _NO_HEADERS,
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers

    def body(self) -> dict[str, object]:
        """The JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}


def unknown_error() -> VenueError:
    """-1000 for an unexpected failure inside the simulator."""
    return VenueError(-1000, "An unknown error occured while processing the request.", status=500)


def too_much_weight(limit: int, retry_after_s: int) -> VenueError:
    """-1003 with HTTP 429 once the per-minute request weight is used up."""
    return VenueError(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use the websocket for live updates to avoid polling the API.",
        status=429,
        headers={"Retry-After": str(retry_after_s)},
    )


def ip_banned(until_ms: int, retry_after_s: int) -> VenueError:
    """-1003 with HTTP 418 while the client is banned for ignoring 429s."""
    return VenueError(
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use the websocket for live updates to avoid bans.",
        status=418,
        headers={"Retry-After": str(retry_after_s)},
    )


def timestamp_outside_recv_window() -> VenueError:
    """-1021 when the request timestamp is older than recvWindow."""
    return VenueError(-1021, "Timestamp for this request is outside of the recvWindow.")


def timestamp_ahead() -> VenueError:
    """-1021 when the request timestamp is more than 1 s ahead of the server clock."""
    return VenueError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def bad_signature() -> VenueError:
    """-1022 when the HMAC does not match."""
    return VenueError(-1022, "Signature for this request is not valid.")


DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"


def illegal_characters(param: str, legal_range: str = DECIMAL_RANGE) -> VenueError:
    """-1100 when a parameter cannot be parsed."""
    return VenueError(
        -1100, f"Illegal characters found in parameter '{param}'; legal range is '{legal_range}'."
    )


def mandatory_missing(param: str) -> VenueError:
    """-1102 when a required parameter is absent or empty."""
    return VenueError(
        -1102, f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed."
    )


def one_of_missing(first: str, second: str) -> VenueError:
    """-1102 when neither of two alternative parameters is present."""
    return VenueError(
        -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!"
    )


def filter_failure(name: str) -> VenueError:
    """-1013 for a quantity or price outside the symbol's filters."""
    return VenueError(-1013, f"Filter failure: {name}")


def invalid_time_in_force() -> VenueError:
    """-1115 for an unsupported timeInForce."""
    return VenueError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> VenueError:
    """-1116 for an unsupported order type."""
    return VenueError(-1116, "Invalid orderType.")


def invalid_side() -> VenueError:
    """-1117 for a side other than BUY or SELL."""
    return VenueError(-1117, "Invalid side.")


def invalid_symbol() -> VenueError:
    """-1121 for a symbol the venue does not list."""
    return VenueError(-1121, "Invalid symbol.")


def invalid_param(param: str) -> VenueError:
    """-1130 for a parameter whose value is out of range."""
    return VenueError(-1130, f"Data sent for parameter '{param}' is not valid.")


def invalid_response_type() -> VenueError:
    """-1136 for a newOrderRespType other than ACK or RESULT."""
    return VenueError(-1136, "Invalid newOrderRespType")


def unknown_order() -> VenueError:
    """-2011 when cancelling an order that is unknown or no longer open."""
    return VenueError(-2011, "Unknown order sent.")


def order_does_not_exist() -> VenueError:
    """-2013 when querying an order the venue never saw."""
    return VenueError(-2013, "Order does not exist.")


def api_key_format_invalid() -> VenueError:
    """-2014 when the X-MBX-APIKEY header is missing or malformed."""
    return VenueError(-2014, "API-key format invalid.", status=401)


def invalid_api_key() -> VenueError:
    """-2015 when the API key is not the venue's."""
    return VenueError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)


def margin_insufficient() -> VenueError:
    """-2019 when the available balance cannot cover the order's initial margin."""
    return VenueError(-2019, "Margin is insufficient.")


def would_immediately_trigger() -> VenueError:
    """-2021 when a stop order's trigger price is already crossed."""
    return VenueError(-2021, "Order would immediately trigger.")


def reduce_only_rejected() -> VenueError:
    """-2022 when a reduce-only order would open, increase or flip a position."""
    return VenueError(-2022, "ReduceOnly Order is rejected.")


def invalid_leverage(leverage: int) -> VenueError:
    """-4028 for a leverage outside 1..125."""
    return VenueError(-4028, f"Leverage {leverage} is not valid")


def duplicate_client_order_id() -> VenueError:
    """-4116 when an *open* order of the symbol already carries the client order id."""
    return VenueError(-4116, "ClientOrderId is duplicated.")


def min_notional(notional: str) -> VenueError:
    """-4164 when a non-reduce-only order is below the symbol's minimum notional."""
    return VenueError(
        -4164,
        f"Order's notional must be no smaller than {notional} (unless you choose reduce only).",
    )


def invalid_path(method: str, path: str) -> VenueError:
    """-5000 with HTTP 404 for a path/method the venue does not serve."""
    return VenueError(-5000, f"Path {path}, Method {method} is invalid", status=404)


def param_not_required(param: str) -> VenueError:
    """-1106 when a parameter conflicts with the rest of the request."""
    return VenueError(-1106, f"Parameter '{param}' sent when not required.")


def precision_over_max() -> VenueError:
    """-1111 when a price or quantity has more decimals than the symbol's tick or step."""
    return VenueError(-1111, "Precision is over the maximum defined for this asset.")


def quantity_not_positive() -> VenueError:
    """-4003 for a zero quantity."""
    return VenueError(-4003, "Quantity less than or equal to zero.")


def quantity_over_max() -> VenueError:
    """-4005 above LOT_SIZE (or, for market orders, MARKET_LOT_SIZE) maxQty."""
    return VenueError(-4005, "Quantity greater than max quantity.")


def price_over_max() -> VenueError:
    """-4002 above PRICE_FILTER maxPrice."""
    return VenueError(-4002, "Price greater than max price.")


def price_under_min() -> VenueError:
    """-4013 below PRICE_FILTER minPrice."""
    return VenueError(-4013, "Price less than min price.")


def price_not_on_tick() -> VenueError:
    """-4014 for a price that is not a multiple of the tick size."""
    return VenueError(-4014, "Price not increased by tick size.")


def qty_not_on_step() -> VenueError:
    """-4023 for a quantity that is not a multiple of the step size."""
    return VenueError(-4023, "Qty not increased by step size.")


def price_above_band(cap: str) -> VenueError:
    """-4016 for a limit price above PERCENT_PRICE's multiplierUp times the mark."""
    return VenueError(-4016, f"Limit price can't be higher than {cap}.")


def price_below_band(floor: str) -> VenueError:
    """-4024 for a limit price below PERCENT_PRICE's multiplierDown times the mark."""
    return VenueError(-4024, f"Limit price can't be lower than {floor}.")


def max_open_orders() -> VenueError:
    """-2025 when the symbol already has MAX_NUM_ORDERS open orders."""
    return VenueError(-2025, "Reach max open order limit.")


def max_algo_orders() -> VenueError:
    """-4045 when the symbol already has MAX_NUM_ALGO_ORDERS waiting conditional orders."""
    return VenueError(-4045, "Reach max stop order limit.")


def too_many_orders(limit: int, window: str) -> VenueError:
    """-1015 with HTTP 429 once the account's ORDERS limit for a window is used up."""
    return VenueError(
        -1015, f"Too many new orders; current limit is {limit} orders per {window}.", status=429
    )


def position_side_mismatch() -> VenueError:
    """-4061 when an order's positionSide does not fit the account's position mode."""
    return VenueError(-4061, "Order's position side does not match user's setting.")


def invalid_position_side() -> VenueError:
    """-4060 for a positionSide other than BOTH, LONG or SHORT."""
    return VenueError(-4060, "Invalid position side.")


def position_side_unchanged() -> VenueError:
    """-4059 when the account is already in the requested position mode."""
    return VenueError(-4059, "No need to change position side.")


def position_side_locked_by_orders() -> VenueError:
    """-4067 when the position mode changes while orders are open."""
    return VenueError(-4067, "Position side cannot be changed if there exists open orders.")


def position_side_locked_by_position() -> VenueError:
    """-4068 when the position mode changes while a position is open."""
    return VenueError(-4068, "Position side cannot be changed if there exists position.")


def margin_type_unchanged() -> VenueError:
    """-4046 when the symbol already has the requested margin type."""
    return VenueError(-4046, "No need to change margin type.")


def margin_type_locked_by_orders() -> VenueError:
    """-4047 when the margin type changes while the symbol has open orders."""
    return VenueError(-4047, "Margin type cannot be changed if there exists open orders.")


def margin_type_locked_by_position() -> VenueError:
    """-4048 when the margin type changes while the symbol has a position."""
    return VenueError(-4048, "Margin type cannot be changed if there exists position.")


def no_need_to_modify() -> VenueError:
    """-5027 when an amendment changes neither quantity nor price."""
    return VenueError(-5027, "No need to modify the order.")


def invalid_batch_size() -> VenueError:
    """-4082 for a batch of new orders that is empty or longer than five."""
    return VenueError(-4082, "Invalid number of batch place orders.")


def invalid_interval() -> VenueError:
    """-1120 for a kline interval Binance does not offer."""
    return VenueError(-1120, "Invalid interval.")
