"""Venue adapter: builds the ccxt client the bot trades through."""
