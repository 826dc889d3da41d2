"""UN/EDIFACT: streaming reader and writer, envelopes, schemas, validation and CONTRL."""

from hub.edi.edifact.analyse import Analysis, analyse
from hub.edi.edifact.model import Document, FunctionalGroup, Interchange, Message, Transaction, TransactionSummary
from hub.edi.edifact.reader import EdifactReader, GroupEnd, InterchangeEnd, read_document

__all__ = [
    "Analysis",
    "Document",
    "EdifactReader",
    "FunctionalGroup",
    "GroupEnd",
    "Interchange",
    "InterchangeEnd",
    "Message",
    "Transaction",
    "TransactionSummary",
    "analyse",
    "read_document",
]
