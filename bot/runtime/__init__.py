"""The bot process: wiring, HTTP endpoints and process lifecycle."""
