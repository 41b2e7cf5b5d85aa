"""Helpers the tests share: one of each, imported from here, never copied into a test.

- :mod:`tests.support.clock`: a fake clock (time, and a sleep that advances it);
- :mod:`tests.support.orders`: a ``JournaledOrder`` as the journal would hold it;
- :mod:`tests.support.manifests`: the bundled example TradingBot, pointed at a simulator;
- :mod:`tests.support.sim`: the simulator settings tests run (a quiet or a walking market).

The simulator itself is a fixture, ``venue_sim`` (also ``sim``) in ``tests/conftest.py``,
shaped per directory or test by overriding ``sim_settings`` and ``sim_clock``.
"""
