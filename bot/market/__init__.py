"""Market data: mark prices over WebSocket (ccxt.pro) with REST fallback and reconnect policy."""
