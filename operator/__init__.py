"""The kopf operator that reconciles TradingBots into bot pods (built in a later issue)."""
