"""X12 acknowledgments: build 997 / 999 / TA1 for inbound files, read inbound ones.

* :func:`acknowledge` (in :mod:`hub.acks.x12_build`): one streaming pass over
  an inbound source, returning an :class:`AckResult` with the acknowledgment
  interchanges as bytes, every finding, and a description of each ack.
* :func:`read_acks` (in :mod:`hub.acks.x12_read`): the 997s, 999s and TA1s of
  a source as :class:`AckReport` objects, every code with its meaning.
"""

from hub.acks.x12_build import (
    AckResult,
    ControlNumbers,
    DerivedControlNumbers,
    SequentialControlNumbers,
    acknowledge,
)
from hub.acks.x12_read import (
    ACCEPTED,
    ACCEPTED_WITH_ERRORS,
    AK304_CODES,
    AK403_CODES,
    AK501_CODES,
    AK502_CODES,
    AK901_CODES,
    AK905_CODES,
    IK304_CODES,
    IK403_CODES,
    IK502_CODES,
    PARTIALLY_ACCEPTED,
    REJECTED,
    TA104_CODES,
    TA105_CODES,
    UNKNOWN,
    AckReport,
    AckReports,
    CodeNote,
    ContextNote,
    ElementNote,
    SegmentNote,
    SetAck,
    read_acks,
)

__all__ = [
    "ACCEPTED",
    "ACCEPTED_WITH_ERRORS",
    "AK304_CODES",
    "AK403_CODES",
    "AK501_CODES",
    "AK502_CODES",
    "AK901_CODES",
    "AK905_CODES",
    "IK304_CODES",
    "IK403_CODES",
    "IK502_CODES",
    "PARTIALLY_ACCEPTED",
    "REJECTED",
    "TA104_CODES",
    "TA105_CODES",
    "UNKNOWN",
    "AckReport",
    "AckReports",
    "AckResult",
    "CodeNote",
    "ContextNote",
    "ControlNumbers",
    "DerivedControlNumbers",
    "ElementNote",
    "SegmentNote",
    "SequentialControlNumbers",
    "SetAck",
    "acknowledge",
    "read_acks",
]
