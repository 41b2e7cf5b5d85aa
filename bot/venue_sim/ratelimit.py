"""Per-minute request weight accounting with Binance's 429 and 418 escalation."""

from __future__ import annotations

import math

from tradewarden.bot.venue_sim import errors

WINDOW_S = 60


class WeightLimiter:
    """One fixed one-minute window, as Binance's REQUEST_WEIGHT limit counts it.

    Requests beyond the limit get 429; a client that keeps going after
    ``ban_after_429s`` of them in one window is banned with 418 for ``ban_duration_s``.
    Rejected requests still count, so hammering never clears the window early.
    """

    def __init__(self, limit: int, ban_after_429s: int, ban_duration_s: float) -> None:
        self._limit = limit
        self._ban_after = ban_after_429s
        self._ban_duration_s = ban_duration_s
        self._window = -1
        self._used = 0
        self._rejections = 0
        self._banned_until_s = 0.0

    def used(self, now_s: float) -> int:
        """Weight used in the window containing ``now_s``; sent as x-mbx-used-weight-1m."""
        return self._used if self._window_of(now_s) == self._window else 0

    def charge(self, weight: int, now_s: float) -> int:
        """Count a request; raise 418 while banned and 429 when over the limit."""
        if now_s < self._banned_until_s:
            raise errors.ip_banned(
                int(self._banned_until_s * 1000), math.ceil(self._banned_until_s - now_s)
            )
        window = self._window_of(now_s)
        if window != self._window:
            self._window, self._used, self._rejections = window, 0, 0
        self._used += weight
        if self._used <= self._limit:
            return self._used
        self._rejections += 1
        if self._rejections > self._ban_after:
            self._banned_until_s = now_s + self._ban_duration_s
            raise errors.ip_banned(
                int(self._banned_until_s * 1000), math.ceil(self._ban_duration_s)
            )
        retry_after = math.ceil((window + 1) * WINDOW_S - now_s)
        raise errors.too_much_weight(self._limit, max(retry_after, 1))

    @staticmethod
    def _window_of(now_s: float) -> int:
        return int(now_s // WINDOW_S)


ORDER_WINDOWS = (("10S", 10, "10 SECOND"), ("1M", 60, "1 MINUTE"))


class OrderLimiter:
    """Binance's ORDERS limits: new orders per 10 seconds and per minute, per account.

    Fixed windows like the weight; an order refused with -1015 does not count.
    ``counts`` feeds the ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` reply headers.
    """

    def __init__(self, limit_10s: int, limit_1m: int) -> None:
        self._limits = {"10S": limit_10s, "1M": limit_1m}
        self._windows: dict[str, tuple[int, int]] = {}  # name -> (window index, count)

    def counts(self, now_s: float) -> dict[str, int]:
        """Orders placed in the windows containing ``now_s``, by window name."""
        counts = {}
        for name, seconds, _ in ORDER_WINDOWS:
            window, count = self._windows.get(name, (-1, 0))
            counts[name] = count if window == int(now_s // seconds) else 0
        return counts

    def charge(self, orders: int, now_s: float) -> None:
        """Count ``orders`` new orders; -1015 (HTTP 429) if a window would overflow."""
        counts = self.counts(now_s)
        for name, _, label in ORDER_WINDOWS:
            if counts[name] + orders > self._limits[name]:
                raise errors.too_many_orders(self._limits[name], label)
        for name, seconds, _ in ORDER_WINDOWS:
            self._windows[name] = (int(now_s // seconds), counts[name] + orders)
