"""Strategy plug-ins: they propose intents and never talk to the exchange."""
