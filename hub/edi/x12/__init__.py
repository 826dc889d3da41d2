"""X12: streaming reader and writer, envelopes, schemas and validation."""

from hub.edi.x12.model import Document, FunctionalGroup, Interchange, Transaction, TransactionSummary
from hub.edi.x12.reader import GroupEnd, InterchangeEnd, X12Reader, read_document

__all__ = [
    "Document",
    "FunctionalGroup",
    "GroupEnd",
    "Interchange",
    "InterchangeEnd",
    "Transaction",
    "TransactionSummary",
    "X12Reader",
    "read_document",
]
