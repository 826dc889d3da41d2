"""X12 schema data files (JSON): see hub.edi.x12.schema for the format."""
