"""The ``ccount`` command line: one module per command (see :mod:`detector.cli.main`)."""

__all__: list[str] = []
