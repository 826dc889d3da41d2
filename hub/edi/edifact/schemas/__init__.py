"""EDIFACT directory schemas (JSON data files), shipped as package data."""
