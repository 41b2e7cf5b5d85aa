"""Helpers the tests share: one of each, imported from here, never copied into a test.

- :mod:`tests.support.clock`: a fake clock (time, and a sleep that advances it).
"""
