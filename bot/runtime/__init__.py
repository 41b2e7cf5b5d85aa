"""The bot process: wiring, the execution worker, HTTP endpoints and process lifecycle."""
