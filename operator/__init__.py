"""The kopf operator: TradingBots into bot pods, their status from probes, drains, fleet halts."""
