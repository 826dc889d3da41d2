"""edihub: a B2B/EDI managed file exchange hub."""

__version__ = "0.1.0"
