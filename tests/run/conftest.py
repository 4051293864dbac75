"""Fixtures shared by the run tests: ``world`` (a tiny random-weights model, six small
scenes, a two-voyage log; defined in test_run.py)."""

from test_run import world  # noqa: F401
