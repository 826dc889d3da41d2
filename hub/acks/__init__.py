"""Acknowledgments: 997 / 999 / TA1 for X12 (:mod:`hub.acks.x12`), built and read."""
