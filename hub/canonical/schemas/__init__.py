"""Shipped JSON Schemas of the canonical documents (generated: ``python -m hub.canonical``)."""
