"""The TradingBot API types (tradewarden.io/v1alpha1) and manifest loading."""
