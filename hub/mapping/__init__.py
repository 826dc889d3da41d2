"""Declarative YAML mappings between X12 sets / EDIFACT messages and canonical documents (see README.md here).

>>> from hub.mapping import load_mapping
>>> m = load_mapping("common/850.004010")          # checked now: MappingError names file:line: key
>>> doc = m.to_canonical(transaction)              # a valid canonical document dict
>>> body = m.to_edi(doc)                           # the segments between ST and SE
>>> data = render(doc, profile)                    # a whole interchange, as bytes
"""

from hub.mapping.inbound import build_tree, convert, to_canonical
from hub.mapping.language import (
    Group,
    Mapping,
    MappingError,
    Rule,
    common_mapping_name,
    find_mapping_file,
    load_mapping,
    parse_field,
    parse_location,
)
from hub.mapping.outbound import ControlNumbers, render, to_edi

__all__ = [
    "ControlNumbers",
    "Group",
    "Mapping",
    "MappingError",
    "Rule",
    "build_tree",
    "common_mapping_name",
    "convert",
    "find_mapping_file",
    "load_mapping",
    "parse_field",
    "parse_location",
    "render",
    "to_canonical",
    "to_edi",
]
