"""The bot's shared vocabulary: orders, their states, what a venue reports, named outcomes.

Every other bot package may import it; it imports nothing of the bot (only
``tradewarden.api``). Types here carry no I/O and no policy: the decisions
about them live in ``execution``, ``reliability`` and ``control``.
"""
