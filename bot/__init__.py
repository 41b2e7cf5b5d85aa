"""The bot process: venue adapter, order path, strategy, runtime and the venue simulator."""
