"""deecho: remove echo and reverb from recordings, and prove it did."""

__version__ = "0.1.0"

__all__ = ["__version__"]
