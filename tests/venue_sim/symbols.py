"""Unified ccxt symbols of the simulator's default markets."""

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
