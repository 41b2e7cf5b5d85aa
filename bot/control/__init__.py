"""The bot side of the TradingBot contract: watch its own resource, dead-man, Lease fencing."""
