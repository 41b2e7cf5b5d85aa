"""A local Binance USD-M futures REST venue for ccxt: matching, accounts, fault injection."""
