"""EDIFACT syntax facts shared by the reader, the writer and validation.

* the default service characters (ISO 9735 part 1, 5.1) and the UNA layout,
* the character repertoires of the syntax identifiers UNOA..UNOY (and IATA's
  IATA/IATB) and the Python codec that decodes each,
* the UN/ECE 0085 syntax error codes that CONTRL reports.
"""

from __future__ import annotations

from hub.edi.core import Delimiters

UNA_LENGTH = 9  # "UNA" + component, element, decimal mark, release, repetition/reserved, terminator

#: Default service characters when no UNA is present (levels A and above).
DEFAULT = Delimiters(element="+", component=":", segment="'", repetition=None, release="?", decimal=".")
#: Syntax version 4 adds ``*`` as the default repetition separator.
DEFAULT_V4 = Delimiters(element="+", component=":", segment="'", repetition="*", release="?", decimal=".")
#: Level B (UNOB / IATB) defaults are information separators, without a release character.
DEFAULT_LEVEL_B = Delimiters(element="\x1d", component="\x1f", segment="\x1c", repetition=None, release=None)
DEFAULT_LEVEL_B_V4 = Delimiters(element="\x1d", component="\x1f", segment="\x1c", repetition="\x19", release=None)

#: syntax identifier -> (codec used to decode the interchange, ASCII-only repertoire?)
#: UNOA/UNOB (and IATA's IATA/IATB) are ISO 646 subsets: read as latin-1 so that
#: every byte round-trips, with a warning for any byte outside ASCII.
SYNTAX_CODECS: dict[str, tuple[str, bool]] = {
    "UNOA": ("latin-1", True),
    "UNOB": ("latin-1", True),
    "IATA": ("latin-1", True),
    "IATB": ("latin-1", True),
    "UNOC": ("latin-1", False),  # ISO 8859-1
    "UNOD": ("iso8859_2", False),
    "UNOE": ("iso8859_5", False),
    "UNOF": ("iso8859_7", False),
    "UNOG": ("iso8859_3", False),
    "UNOH": ("iso8859_4", False),
    "UNOI": ("iso8859_6", False),
    "UNOJ": ("iso8859_8", False),
    "UNOK": ("iso8859_9", False),
    "UNOW": ("utf-8", False),  # ISO 10646-1 in UTF-8 (syntax 4)
    "UNOY": ("utf-8", False),  # ISO 10646-1 without code extension; read as UTF-8
}

SYNTAX_VERSIONS = frozenset({"1", "2", "3", "4"})

# UN/ECE 0085 "Syntax error, coded" (the values CONTRL UCI/UCF/UCM/UCS/UCD carry).
E_SYNTAX_NOT_SUPPORTED = "2"
E_NOT_RECIPIENT = "7"
E_INVALID_VALUE = "12"
E_MISSING = "13"
E_VALUE_NOT_SUPPORTED = "14"
E_NOT_SUPPORTED_IN_POSITION = "15"
E_TOO_MANY_CONSTITUENTS = "16"
E_UNSPECIFIED = "18"
E_INVALID_DECIMAL = "19"
E_INVALID_SERVICE_CHAR = "20"
E_INVALID_CHARACTER = "21"
E_INVALID_SERVICE_CHARS = "22"
E_DUPLICATE = "26"
E_REFERENCES_DO_NOT_MATCH = "28"
E_COUNT_DOES_NOT_MATCH = "29"
E_GROUPS_AND_MESSAGES_MIXED = "30"
E_OUTSIDE_MESSAGE = "33"
E_TOO_MANY_REPETITIONS = "35"
E_TOO_MANY_GROUP_REPETITIONS = "36"
E_INVALID_CHARACTER_TYPE = "37"
E_MISSING_DIGIT_BEFORE_DECIMAL = "38"
E_TOO_LONG = "39"
E_TOO_SHORT = "40"
E_TRAILING_SEPARATOR = "45"
E_CHARSET_NOT_SUPPORTED = "46"

CODE_TEXT = {
    "2": "syntax version or level not supported",
    "7": "interchange recipient not actual recipient",
    "12": "invalid value",
    "13": "missing",
    "14": "value not supported in this position",
    "15": "not supported in this position",
    "16": "too many constituents",
    "18": "unspecified error",
    "19": "invalid decimal notation",
    "20": "character invalid as service character",
    "21": "invalid character(s)",
    "22": "invalid service character(s)",
    "26": "duplicate detected",
    "28": "references do not match",
    "29": "control count does not match number of instances received",
    "30": "functional groups and messages mixed",
    "33": "invalid occurrence outside message, package or group",
    "35": "too many data element or segment repetitions",
    "36": "too many segment group repetitions",
    "37": "invalid type of characters",
    "38": "missing digit in front of decimal sign",
    "39": "data element too long",
    "40": "data element too short",
    "45": "trailing separator",
    "46": "character set not supported",
}


def default_delimiters(syntax_id: str, version: str, element: str) -> Delimiters:
    """The service characters of an interchange without UNA.

    ``element`` is the character that follows ``UNB`` in the file: level B
    interchanges that use the information separators say so there.
    """
    v4 = version == "4"
    if element == "\x1d":
        return DEFAULT_LEVEL_B_V4 if v4 else DEFAULT_LEVEL_B
    return DEFAULT_V4 if v4 else DEFAULT


def is_service_candidate(ch: str) -> bool:
    """May ``ch`` serve as a separator (not a letter, digit or space)?"""
    return len(ch) == 1 and not ch.isalnum() and ch != " "
