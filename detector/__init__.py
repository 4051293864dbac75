"""ccount: count shipping containers in sub-meter satellite imagery of ports.

The import package is ``detector``; the console script is ``ccount``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
