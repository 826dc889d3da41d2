"""Streaming X12 reader.

Reads a path, ``bytes`` or a binary stream in chunks and yields, in file
order:

* :class:`Interchange` when an ISA has been read (``iea`` still ``None``),
* :class:`FunctionalGroup` when a GS has been read,
* :class:`Transaction` when a transaction set is complete (SE read, or the
  set was cut short by another envelope segment or the end of the file),
* :class:`GroupEnd` / :class:`InterchangeEnd` when a group or interchange is
  closed (by GE / IEA, or implicitly, with a finding).

Delimiters are read from every ISA.  Problems never raise: they become
:class:`~hub.edi.core.Finding` objects, attached to the innermost object they
concern and collected in :attr:`X12Reader.findings`.  Memory is bounded by
one chunk plus one transaction set, plus the per-set summaries and ST02
duplicate check described at :class:`X12Reader`.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, repeat
from operator import itemgetter

from hub.edi.core import ENVELOPE, SYNTAX, WARNING, Delimiters, Finding, Segment, element
from hub.edi.seen import SeenNumbers
from hub.edi.stream import FindingCollector, Source, open_source
from hub.edi.x12.model import Document, FunctionalGroup, Interchange, Transaction, TransactionSummary

CHUNK_SIZE = 1 << 20
MAX_SEGMENT_LENGTH = 1 << 24  # 16 MiB without a terminator: the terminator is wrong
MAX_TRANSACTION_SEGMENTS = 2_000_000
MAX_FINDINGS = 10_000
OVERLONG_HEAD = 80  # characters kept of a segment longer than max_segment_length

ENVELOPE_TAGS = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE", "TA1"})
ENVELOPE_INITIALS = frozenset(tag[0] for tag in ENVELOPE_TAGS)

# Offsets of the element separators in a correctly padded ISA (ISA is 106 chars).
ISA_SEPARATOR_OFFSETS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106

EBCDIC_ISA = (b"\xc9\xe2\xc1",)  # "ISA" in cp037 and cp500
UTF8_BOM = b"\xef\xbb\xbf"
SNIFF_WHITESPACE = b" \t\r\n\x00\x40\x25\x05\x0d\x15"  # ASCII and EBCDIC blanks and line ends
SNIFF_LIMIT = 1 << 20
LINE_BREAKS = "\r\n"

_first = itemgetter(0)
_match_start = re.Match.start


@lru_cache(maxsize=64)
def _envelope_pattern(term: str, elem: str, blanks: bool = False) -> re.Pattern[str]:
    """A segment terminator followed by an envelope segment's tag and element separator (matching the
    terminator only); with ``blanks``, also a terminator followed by a space or tab (matching both)."""
    tags = "|".join(sorted(ENVELOPE_TAGS, key=lambda t: (-len(t), t)))
    blank = "[ \t]|" if blanks else ""
    return re.compile(f"{re.escape(term)}(?:{blank}(?=(?:{tags}){re.escape(elem)}))")


@dataclass(slots=True)
class GroupEnd:
    group: FunctionalGroup


@dataclass(slots=True)
class InterchangeEnd:
    interchange: Interchange


def _is_delimiter_char(ch: str) -> bool:
    return not ch.isalnum() and ch != " "


class X12Reader(FindingCollector):
    """Iterate over the envelopes and transaction sets of an X12 source.

    ``encoding`` forces a character set; by default it is ``latin-1`` (every
    byte maps to one character, so writing back gives the same bytes),
    ``utf-8`` when the file starts with a UTF-8 byte order mark, and ``cp037``
    when the first interchange is EBCDIC-encoded.

    ``keep_summaries`` (default True) keeps a :class:`TransactionSummary` per
    set in ``FunctionalGroup.transactions`` (what ``inspect`` lists).  A
    consumer that does not need them passes False: then what stays in memory
    per set read is its ST02 in the group's duplicate check, which costs
    nothing while the numbers run in sequence (see :mod:`hub.edi.seen`), and
    ``FunctionalGroup.transaction_count``.
    """

    def __init__(
        self,
        source: Source,
        *,
        encoding: str | None = None,
        ebcdic_codec: str = "cp037",
        chunk_size: int = CHUNK_SIZE,
        max_segment_length: int = MAX_SEGMENT_LENGTH,
        max_transaction_segments: int = MAX_TRANSACTION_SEGMENTS,
        max_findings: int = MAX_FINDINGS,
        keep_summaries: bool = True,
    ) -> None:
        self._source = source
        self.keep_summaries = keep_summaries
        self.encoding = encoding
        self.ebcdic_codec = ebcdic_codec
        self.chunk_size = chunk_size
        self.max_segment_length = max_segment_length
        self.max_transaction_segments = max_transaction_segments
        self.max_findings = max_findings
        self.name = "<stream>"
        self.findings: list[Finding] = []
        self.interchanges: list[Interchange] = []
        self.not_x12 = False
        self.leading = ""  # BOM / whitespace before the first ISA, as text
        self.bytes_read = 0
        self._dropped_findings = 0
        self._started = False
        # state
        self._ic: Interchange | None = None
        self._group: FunctionalGroup | None = None
        self._tx: list[Segment] | None = None
        self._tx_dropped = 0
        self._elem = "*"
        self._term = "~"
        self._prefixes: tuple[str, ...] = ()
        self._envelope_re: re.Pattern[str] | None = None
        self._scan_re: re.Pattern[str] | None = None
        self._isa_numbers = SeenNumbers()
        self._gs_numbers = SeenNumbers()
        self._st_numbers = SeenNumbers()
        self._garbage = 0  # non-space characters seen outside interchanges, not yet reported
        self._loose_sets = 0  # transaction sets met outside any functional group
        self._skipping = False  # inside an overlong segment, skipping to its terminator
        self._overlong_head = ""
        self._stray_run: Finding | None = None  # the finding that consecutive stray segments extend
        self._garbage_sample = ""

    # ------------------------------------------------------------------ input

    def _chunks(self) -> Iterator[str]:
        stream, owned, self.name = open_source(self._source)
        try:
            # Sniff the encoding from enough bytes, whatever size the reads come in.
            first = b""
            while len(first.lstrip(SNIFF_WHITESPACE)) < 3 and len(first) < SNIFF_LIMIT:
                data = stream.read(self.chunk_size)
                if not data:
                    break
                first += data
            self.bytes_read += len(first)
            encoding = self.encoding
            if first.startswith(UTF8_BOM):
                encoding = encoding or "utf-8"
            elif encoding is None:
                stripped = first.lstrip(SNIFF_WHITESPACE)
                encoding = self.ebcdic_codec if stripped.startswith(EBCDIC_ISA) else "latin-1"
            self.encoding = encoding
            errors = "surrogateescape" if codecs.lookup(encoding).name in ("utf-8",) else "strict"
            decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
            data = first
            while data:
                text = decoder.decode(data)
                if text:
                    yield text
                data = stream.read(self.chunk_size)
                self.bytes_read += len(data)
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
        finally:
            if owned:
                stream.close()

    # --------------------------------------------------------------- findings

    # ----------------------------------------------------------------- events

    def __iter__(self) -> Iterator[Interchange | FunctionalGroup | Transaction | GroupEnd | InterchangeEnd]:
        return self.events()

    def events(self) -> Iterator[Interchange | FunctionalGroup | Transaction | GroupEnd | InterchangeEnd]:
        if self._started:
            raise RuntimeError("an X12Reader can be iterated only once")
        self._started = True
        buf = ""
        in_interchange = False
        iea_needle = isa_needle = ""
        clean: tuple[str, ...] = ()
        indent_re: re.Pattern[str] | None = None
        term = "~"
        eof = False
        chunks = self._chunks()
        try:
            while not eof:
                try:
                    buf += next(chunks)
                except StopIteration:
                    eof = True
                while True:
                    if not in_interchange:
                        got = self._seek_isa(buf, eof)
                        if got is None:  # need more text
                            buf = self._keep_tail(buf)
                            break
                        consumed, isa = got
                        if isa is None:  # the text at the head was not an ISA; skip past it
                            buf = buf[consumed:]
                            continue
                        buf = buf[consumed:]
                        ic = self._ic
                        assert ic is not None
                        yield ic
                        d = ic.delimiters
                        term = d.segment
                        self._term = term
                        self._elem = d.element
                        self._prefixes = tuple(tag + d.element for tag in ENVELOPE_TAGS)
                        self._envelope_re = _envelope_pattern(term, d.element)
                        self._scan_re = _envelope_pattern(term, d.element, blanks=True)
                        used = set(d.service_characters())
                        clean = tuple(c for c in LINE_BREAKS if c not in used)
                        iea_needle = "IEA" + d.element
                        isa_needle = "ISA" + d.element
                        indent_re = None
                        if "\t" not in used and " " not in used:
                            indent_re = re.compile(r"(\A|" + re.escape(term) + r")[ \t]+")
                        in_interchange = True
                    # inside an interchange
                    if self._skipping:  # the rest of an overlong segment, up to its terminator
                        k = buf.find(term)
                        if k == -1:
                            buf = ""
                            if eof:
                                yield from self._close_interchange(eof=True)
                                in_interchange = False
                            break
                        # the kept head of the overlong segment stands in for it
                        buf = self._overlong_head + term + buf[k + len(term) :]
                        self._skipping = False
                    m = _find_segment(buf, term, iea_needle)
                    n = _find_segment(buf, term, isa_needle)
                    if n is not None and (m is None or n[0] < m[0]):
                        # another ISA before this interchange's IEA: the IEA is missing
                        region, buf = buf[: n[0]], buf[n[0] :]
                        rest = yield from self._region(region, clean, indent_re)
                        if rest:
                            buf = rest + buf
                        if self._ic is not None:
                            yield from self._close_interchange(eof=False)
                        in_interchange = False
                        continue
                    if m is not None:
                        end = buf.find(term, m[1])
                        if end == -1 and not eof:  # the IEA is not complete yet
                            region, buf = buf[: m[0]], buf[m[0] :]
                            rest = yield from self._region(region, clean, indent_re)
                            if rest:
                                buf = rest + buf
                            in_interchange = self._ic is not None
                            if rest or not in_interchange:
                                continue
                            if len(buf) > self.max_segment_length:
                                buf = self._overlong(buf)
                            break
                        stop = len(buf) if end == -1 else end + len(term)
                        region, buf = buf[:stop], buf[stop:]
                    elif eof:
                        region, buf = buf, ""
                    else:
                        cut = buf.rfind(term)
                        if cut == -1:
                            if len(buf) > self.max_segment_length:
                                buf = self._overlong(buf)
                            break
                        region, buf = buf[: cut + len(term)], buf[cut + len(term) :]
                    rest = yield from self._region(region, clean, indent_re)
                    if rest:  # text after an IEA (or an ISA) met inside the region: read it again
                        buf = rest + buf
                    in_interchange = self._ic is not None
                    if in_interchange and eof and not buf:
                        yield from self._close_interchange(eof=True)
                        in_interchange = False
                    if not in_interchange or rest or m is not None:
                        continue
                    break
            self._finish()
        finally:
            chunks.close()

    # ----------------------------------------------------------- seeking ISA

    def _keep_tail(self, buf: str) -> str:
        """While seeking an ISA, keep a short tail (an ISA may straddle chunks)."""
        if len(buf) <= 4096:
            return buf
        head, tail = buf[:-200], buf[-200:]
        self._note_garbage(head)
        return tail

    def _note_garbage(self, text: str) -> None:
        if not self.interchanges and not self.leading and text.startswith("\ufeff"):
            self.leading = "\ufeff"  # the byte order mark is kept for writing, whatever follows it
            text = text[1:]
        stripped = text.replace("\ufeff", "").strip()
        if not stripped:
            if not self.interchanges and not self._garbage:
                self.leading += text
            return
        if not self._garbage:
            self._garbage_sample = stripped[:40]
        self._garbage += len(stripped)

    def _report_garbage(self) -> None:
        if not self._garbage:
            return
        sample = self._garbage_sample.encode("unicode_escape").decode("ascii")
        if self.interchanges:
            self._add(
                "DATA_AFTER_IEA",
                f"{self._garbage} characters of data outside any interchange (after IEA), starting {sample!r}",
                interchange=self.interchanges[-1].index,
            )
        else:
            self._add(
                "DATA_BEFORE_ISA",
                f"{self._garbage} characters of data before the first ISA, starting {sample!r}",
                interchange=None,
            )
        self._garbage = 0
        self._garbage_sample = ""

    def _seek_isa(self, buf: str, eof: bool) -> tuple[int, Interchange | None] | None:
        """Find and read the next ISA in ``buf``.

        Returns ``None`` when more text is needed, ``(n, None)`` when the first
        ``n`` characters are to be skipped, ``(n, interchange)`` when an ISA of
        ``n`` characters (terminator and its line break included) was read.
        """
        if not buf:
            return None
        pos = buf.find("ISA")
        while pos != -1 and pos + 3 < len(buf) and not _is_delimiter_char(buf[pos + 3]):
            pos = buf.find("ISA", pos + 1)
        if pos == -1 or pos + 3 >= len(buf):
            if not eof:
                return None
            self._note_garbage(buf)
            self._report_garbage()
            return len(buf), None
        if pos:
            self._note_garbage(buf[:pos])
            self._report_garbage()
            return pos, None
        parsed = self._parse_isa(buf, eof)
        if parsed is None:
            if not eof:
                return None
            self._add(
                "ISA_TRUNCATED",
                "the file ends inside the ISA segment",
                interchange=len(self.interchanges),
                segment=1,
                segment_id="ISA",
                ack_level="interchange",
                ack_code="023",
            )
            return len(buf), None
        return parsed

    def _parse_isa(self, buf: str, eof: bool) -> tuple[int, Interchange] | None:
        elem = buf[3]
        breaks = "" if elem in LINE_BREAKS else LINE_BREAKS
        # Walk the ISA, skipping line breaks (80-column wrapping), until ISA16.
        chars: list[str] = []
        seps = 0
        i = 0
        n = len(buf)
        limit = 400  # an ISA padded even very wrongly is far shorter
        while i < n and i < limit:
            ch = buf[i]
            i += 1
            if ch in breaks:
                continue
            chars.append(ch)
            if ch == elem:
                seps += 1
                if seps == 16:
                    break
        if seps < 16:
            if i >= limit:
                return self._bad_isa(buf, i, "the ISA segment does not have 16 elements")
            return None  # more text needed (at the end of the file: the ISA is truncated)
        # ISA16 is the next character, then the terminator (line breaks skipped
        # only while they cannot be the terminator itself).
        if i >= n:
            return None
        isa16 = buf[i]
        i += 1
        if i >= n:
            return None
        term = buf[i]
        i += 1
        body = "".join(chars)
        fields = body.split(elem)[1:17]
        fields[15] = isa16
        # the terminator is followed by an optional CR/LF that is not data
        suffix = ""
        if term not in LINE_BREAKS:
            while i < n and buf[i] in LINE_BREAKS and len(suffix) < 2:
                suffix += buf[i]
                i += 1
        elif term == "\r" and i < n and buf[i] == "\n":
            suffix = "\n"
            i += 1
        if i >= n and not eof:
            return None  # keep reading: the suffix may continue in the next chunk
        return i, self._start_interchange(fields, elem, isa16, term, suffix, body + isa16)

    def _bad_isa(self, buf: str, consumed: int, why: str) -> tuple[int, None]:
        self._add(
            "ISA_INVALID",
            f"{why}; skipping to the next ISA",
            interchange=len(self.interchanges),
            segment=1,
            segment_id="ISA",
            ack_level="interchange",
            ack_code="022",
        )
        return max(consumed, 3), None

    def _start_interchange(
        self, fields: list[str], elem: str, comp: str, term: str, suffix: str, raw: str
    ) -> Interchange:
        index = len(self.interchanges)
        version = fields[11]
        rep: str | None = None
        rep_warning = None
        if version[:5].isdigit() and version[:5] >= "00402":
            candidate = fields[10]
            if len(candidate) == 1 and _is_delimiter_char(candidate):
                rep = candidate
            else:
                rep_warning = candidate
        delims = Delimiters(element=elem, component=comp, segment=term, repetition=rep, segment_suffix=suffix)
        isa = Segment(["ISA", *fields])
        ic = Interchange(index=index, isa=isa, delimiters=delims, encoding=self.encoding or "latin-1")
        ic.segment_count = 1
        self._ic = ic
        self.interchanges.append(ic)
        self._group = None
        self._tx = None
        self._gs_numbers = SeenNumbers()
        self._loose_sets = 0
        pos = {"interchange": index, "segment": 1, "segment_id": "ISA"}
        # fixed width
        if len(raw) != ISA_LENGTH - 1 or any(raw[o] != elem for o in ISA_SEPARATOR_OFFSETS):
            bad = [
                f"ISA{n:02d}"
                for n, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), start=1)
                if len(value) != width
            ]
            self._add(
                "ISA_WIDTH",
                f"the ISA segment is {len(raw) + 1} characters, not the fixed 106"
                + (f" ({', '.join(bad)} not padded to its fixed width)" if bad else ""),
                severity=WARNING,
                target=ic,
                **pos,
            )
        odd = [f"ISA{n:02d}" for n, value in enumerate(fields, start=1) if not value.isascii()]
        if odd:
            self._add(
                "ISA_NON_ASCII",
                f"{', '.join(odd)} contain non-ASCII characters (padding must be spaces)",
                severity=WARNING,
                target=ic,
                **pos,
            )
        if rep_warning is not None:
            self._add(
                "ISA11_NOT_SEPARATOR",
                f"ISA12 version {version} takes a repetition separator in ISA11, found {rep_warning!r}; "
                "reading without one",
                severity=WARNING,
                target=ic,
                element=11,
                **pos,
            )
        # delimiters must differ from each other and from data characters
        service = [
            ("element separator", elem, "026"),
            ("component separator", comp, "027"),
            ("segment terminator", term, "004"),
        ]
        seen: dict[str, str] = {}
        for label, ch, code in service:
            if ch.isalnum() or ch == " ":
                self._add(
                    "DELIMITER_INVALID",
                    f"the {label} {ch!r} is a data character",
                    target=ic,
                    ack_level="interchange",
                    ack_code=code,
                    **pos,
                )
            elif ch in seen:
                self._add(
                    "DELIMITER_CLASH",
                    f"the {label} {ch!r} is also the {seen[ch]}",
                    target=ic,
                    ack_level="interchange",
                    ack_code=code,
                    **pos,
                )
            seen.setdefault(ch, label)
        self._check_isa_values(ic)
        control = fields[12].strip()
        if self._isa_numbers.add(control):
            self._add(
                "DUPLICATE_ISA13",
                f"interchange control number {control} (ISA13) is used twice in this file",
                target=ic,
                element=13,
                bad_value=control,
                ack_level="interchange",
                ack_code="025",
                **pos,
            )
        return ic

    def _check_isa_values(self, ic: Interchange) -> None:
        isa = ic.isa
        pos = {"interchange": ic.index, "segment": 1, "segment_id": "ISA"}
        checks = [
            (
                1,
                "00-07",
                lambda v: v in ("00", "01", "02", "03", "04", "05", "06", "07"),
                "010",
                "authorization information qualifier",
            ),
            (3, "{00,01}", lambda v: v in ("00", "01"), "012", "security information qualifier"),
            (
                5,
                "a 2-character code",
                lambda v: len(v.strip()) == 2 and v.strip().isalnum(),
                "005",
                "sender ID qualifier",
            ),
            (6, "non-blank", lambda v: v.strip() != "", "006", "sender ID"),
            (
                7,
                "a 2-character code",
                lambda v: len(v.strip()) == 2 and v.strip().isalnum(),
                "007",
                "receiver ID qualifier",
            ),
            (8, "non-blank", lambda v: v.strip() != "", "008", "receiver ID"),
            (9, "YYMMDD", _valid_yymmdd, "014", "interchange date"),
            (10, "HHMM", _valid_hhmm, "015", "interchange time"),
            (12, "5 digits", lambda v: len(v) == 5 and v.isdigit(), "017", "interchange version"),
            (
                13,
                "9 digits",
                lambda v: len(v.strip()) == 9 and v.strip().isdigit(),
                "018",
                "interchange control number",
            ),
            (14, "0 or 1", lambda v: v.strip() in ("0", "1"), "019", "acknowledgment requested"),
            (15, "P, T or I", lambda v: v.strip() in ("P", "T", "I"), "020", "usage indicator"),
        ]
        version = element(isa, 12)
        if not (version.isdigit() and version >= "00402"):
            checks.append((11, "U", lambda v: v == "U", "016", "interchange standards identifier"))
        for n, expected, ok, ta1, label in checks:
            value = element(isa, n)
            if not ok(value):
                self._add(
                    "ISA_VALUE",
                    f"ISA{n:02d} {label} {value!r} is invalid (expected {expected})",
                    target=ic,
                    element=n,
                    bad_value=value,
                    ack_level="interchange",
                    ack_code=ta1,
                    **pos,
                )

    # --------------------------------------------------------------- segments

    def _overlong(self, buf: str) -> str:
        """A segment with no terminator within ``max_segment_length``: keep its head, skip the rest."""
        self._skipping = True
        self._overlong_head = self._cut_overlong(buf)
        return ""

    def _cut_overlong(self, raw: str) -> str:
        """Report an overlong segment once and return its first characters, which stand in for it.

        The segment still counts as one segment (so SE01 stays checkable); its
        elements are cut, and the finding says so.
        """
        pos: dict = {}
        if self._group is not None:
            pos["group"] = self._group.index
            if self._tx is not None:
                pos["transaction"] = self._group.transaction_count
        if self._tx is not None:
            pos["segment"] = len(self._tx) + self._tx_dropped + 1
        head = raw.lstrip("\r\n\t ".replace(self._term, ""))[:OVERLONG_HEAD].split(self._term)[0]
        self._add(
            "SEGMENT_TOO_LONG",
            f"segment {head.split(self._elem)[0][:10]!r} runs over {self.max_segment_length} characters without a "
            f"segment terminator {self._term!r} (wrong terminator, or not X12): only its first "
            f"{len(head)} characters were kept",
            layer=SYNTAX,
            ack_level="interchange",
            ack_code="023",
            segment_id=head.split(self._elem)[0][:10],
            **pos,
        )
        return head

    def _region(self, text, clean, indent_re):
        """Process complete segments in ``text``.

        A generator whose return value is ``None``, or the unread text from an
        ISA met inside an interchange (missing IEA), to be read again in
        seek mode.
        """
        for ch in clean:
            if ch in text:
                text = text.replace(ch, "")
        starts: list[int] | None = None  # where the envelope segments' terminators are, when found here
        if indent_re is not None:
            if "\t" in text or " " in text[:1]:
                text = indent_re.sub(r"\1", text)
            else:
                # one pass finds both the envelope segments and any indentation after a terminator
                starts = []
                for m in self._scan_re.finditer(text):
                    at = m.start()
                    if m.end() - at == 2:  # a blank after a terminator: indented segments
                        text = indent_re.sub(r"\1", text)
                        starts = None
                        break
                    starts.append(at)
        term = self._term
        parts = text.split(term)
        if parts and not parts[-1]:
            parts.pop()
        lined_up = text  # what the parts were split from, while they still line up with it
        if "" in parts:
            parts = [p for p in parts if p]
            lined_up = ""  # they no longer do: _parts finds the envelope in the parts themselves
        limit = self.max_segment_length
        if len(text) > limit and max(map(len, parts)) > limit:
            # an overlong segment: read what comes before it first, so that the
            # finding has the position the segment really has
            i = next(i for i, p in enumerate(parts) if len(p) > limit)
            rest = yield from self._parts(parts[:i])
            if rest is not None or self._ic is None:
                return (rest or "") + term.join(parts[i:]) + term
            return (yield from self._parts([self._cut_overlong(parts[i]), *parts[i + 1 :]]))
        return (yield from self._parts(parts, lined_up, starts))

    def _envelope_indexes(self, parts: list[str], text: str, starts: list[int] | None = None) -> list[int]:
        """The indexes in ``parts`` of the envelope segments (ISA IEA GS GE ST SE).

        With ``text`` (``parts`` is exactly ``text.split(terminator)``) a
        regex finds each terminator followed by an envelope tag (``starts``:
        where :meth:`_region` found them already) and the terminators before
        it are counted, both in C; otherwise the first letters of all parts
        are tested and the candidates checked.
        """
        prefixes = self._prefixes
        if not text:
            return [
                i
                for i in compress(range(len(parts)), map(ENVELOPE_INITIALS.__contains__, map(_first, parts)))
                if parts[i].startswith(prefixes)
            ]
        term = self._term
        out = [0] if text.startswith(prefixes) else []
        count = text.count
        index = last = 0
        if starts is None:
            starts = list(map(_match_start, self._envelope_re.finditer(text)))
        for start in starts:
            index += count(term, last, start + 1)
            last = start + 1
            out.append(index)
        return out

    def _parts(self, parts: list[str], text: str = "", starts: list[int] | None = None):
        """Process the segments ``parts`` (raw, terminators removed); returns what :meth:`_region` returns.

        ``text``, when given, is what ``parts`` was split from, ``starts`` where
        its envelope segments are (see :meth:`_envelope_indexes`).
        """
        term = self._term
        # Find the envelope segments in C, then split the segments between
        # them one transaction set at a time, so that the Python-level work is
        # per envelope segment and the memory a set uses is freed (and
        # reused, cache-hot) before the next one is built.
        elem = self._elem
        envelope = self._envelope_indexes(parts, text, starts)
        tx = self._tx
        start = 0
        for i in envelope:
            if i > start:
                if tx is not None:  # the usual case, inline: a set's body between ST and SE
                    tx.extend(map(str.split, parts[start:i], repeat(elem)))
                else:
                    self._body(tx, parts[start:i], elem)
            start = i + 1
            seg = parts[i].split(elem)
            tag = seg[0]
            # the two envelope segments of every set, inline: no generator calls
            self._stray_run = None
            if tag == "SE" and tx is not None:
                tx.append(seg)
                self._tx = tx
                yield self._end_transaction(True)
                tx = None
                continue
            if tag == "ST" and tx is None and self._ic is not None:
                tx = [seg]
                self._tx_dropped = 0
                continue
            if tag == "ISA":
                self._tx = tx
                rest = term.join(parts[i:]) + term
                yield from self._close_interchange(eof=False)
                return rest
            self._tx = tx
            yield from self._envelope(seg)
            tx = self._tx
            if self._ic is None:  # IEA read: what follows is read again outside the interchange
                return term.join(parts[i + 1 :]) + term if i + 1 < len(parts) else None
        if start < len(parts):
            tx = self._body(tx, parts[start:] if start else parts, elem)
        self._tx = tx
        if tx is not None and len(tx) > self.max_transaction_segments:
            keep = self.max_transaction_segments
            self._tx_dropped += len(tx) - keep
            del tx[keep:]
        return None

    def _body(self, tx: list[Segment] | None, parts: list[str], elem: str) -> list[Segment] | None:
        segs = map(str.split, parts, repeat(elem))
        if tx is not None:
            tx.extend(segs)
        else:
            for seg in segs:
                self._stray(seg)
        return tx

    def _stray(self, seg: Segment) -> None:
        ic = self._ic
        assert ic is not None
        ic.segment_count += 1
        run = self._stray_run
        if run is not None:  # one finding for a run of stray segments, not one each
            run.extra["count"] += 1
            run.message = (
                f"{run.extra['count']} segments, the first {run.segment_id!r}, are not inside a transaction set "
                "(ST..SE)"
            )
            return
        where = "functional group" if self._group is not None else "interchange"
        self._stray_run = self._add(
            "SEGMENT_OUTSIDE_TRANSACTION",
            f"segment {seg[0][:10]!r} is not inside a transaction set (ST..SE); it is in the {where} envelope",
            layer=SYNTAX,
            target=self._group or ic,
            group=self._group.index if self._group is not None else None,
            segment=ic.segment_count,
            segment_id=seg[0][:10],
            ack_level="interchange",
            ack_code="024",
            extra={"count": 1},
        )

    def _envelope(self, seg: Segment):
        self._stray_run = None
        tag = seg[0]
        ic = self._ic
        assert ic is not None
        if tag == "ST":
            yield from self._start_transaction(seg)
        elif tag == "SE":
            if self._tx is None:
                ic.segment_count += 1
                self._add(
                    "SE_WITHOUT_ST",
                    "SE without a matching ST",
                    layer=ENVELOPE,
                    target=self._group or ic,
                    group=self._group.index if self._group else None,
                    segment=ic.segment_count,
                    segment_id="SE",
                    ack_level="interchange",
                    ack_code="024",
                )
                return
            self._tx.append(seg)
            yield self._end_transaction(complete=True)
        elif tag == "GS":
            yield from self._start_group(seg)
        elif tag == "GE":
            if self._tx is not None:
                yield self._end_transaction(complete=False)
            ic.segment_count += 1
            if self._group is None:
                self._add(
                    "GE_WITHOUT_GS",
                    "GE without a matching GS",
                    target=ic,
                    segment=ic.segment_count,
                    segment_id="GE",
                    ack_level="interchange",
                    ack_code="024",
                )
                return
            yield self._end_group(seg)
        elif tag == "IEA":
            yield from self._end_interchange(seg)
        elif tag == "TA1":
            if self._tx is not None:
                self._tx.append(seg)
                return
            ic.segment_count += 1
            ic.ta1s.append(seg)
            if self._group is not None:
                self._add(
                    "TA1_INSIDE_GROUP",
                    "TA1 inside a functional group; it belongs between ISA and the first GS",
                    layer=SYNTAX,
                    target=self._group,
                    group=self._group.index,
                    segment=ic.segment_count,
                    segment_id="TA1",
                    ack_level="interchange",
                    ack_code="024",
                )

    def _start_group(self, seg: Segment):
        ic = self._ic
        assert ic is not None
        yield from self._close_open_parts()
        ic.segment_count += 1
        group = FunctionalGroup(index=len(ic.groups), interchange=ic, gs=seg)
        ic.groups.append(group)
        self._group = group
        self._st_numbers = SeenNumbers()
        pos = {"group": group.index, "segment": ic.segment_count, "segment_id": "GS"}
        if len(seg) < 9:
            self._add(
                "GS_INCOMPLETE",
                f"GS has {len(seg) - 1} elements, 8 are required",
                target=group,
                ack_level="group",
                ack_code="6",
                **pos,
            )
        control = element(seg, 6)
        if not (control.isdigit() and 1 <= len(control) <= 9):
            self._add(
                "GS06_INVALID",
                f"group control number GS06 {control!r} must be 1-9 digits",
                target=group,
                element=6,
                bad_value=control,
                ack_level="group",
                ack_code="6",
                **pos,
            )
        if self._gs_numbers.add(control):
            self._add(
                "DUPLICATE_GS06",
                f"group control number {control} (GS06) is used twice in this interchange",
                target=group,
                element=6,
                bad_value=control,
                ack_level="group",
                ack_code="19",
                **pos,
            )
        yield group

    def _end_group(self, ge: Segment | None) -> GroupEnd:
        group = self._group
        assert group is not None
        ic = group.interchange
        group.ge = ge
        self._group = None
        if ge is None:
            self._add(
                "GE_MISSING",
                f"functional group {group.control_number} (GS06) has no GE trailer",
                target=group,
                group=group.index,
                segment_id="GE",
                ack_level="group",
                ack_code="3",
            )
            return GroupEnd(group)
        pos = {"group": group.index, "segment": ic.segment_count, "segment_id": "GE"}
        if element(ge, 2) != group.control_number:
            self._add(
                "GE02_MISMATCH",
                f"GE02 {element(ge, 2)!r} does not match GS06 {group.control_number!r}",
                target=group,
                element=2,
                bad_value=element(ge, 2),
                ack_level="group",
                ack_code="4",
                **pos,
            )
        count = element(ge, 1)
        if not (count.isdigit() and int(count) == group.transaction_count):
            self._add(
                "GE01_COUNT",
                f"GE01 says {count!r} transaction sets, the group has {group.transaction_count}",
                target=group,
                element=1,
                bad_value=count,
                ack_level="group",
                ack_code="5",
                **pos,
            )
        return GroupEnd(group)

    def _start_transaction(self, seg: Segment):
        if self._tx is not None:
            yield self._end_transaction(complete=False)
        self._tx = [seg]
        self._tx_dropped = 0

    def _end_transaction(self, complete: bool) -> Transaction:
        segs = self._tx
        assert segs is not None and self._ic is not None
        self._tx = None
        limit = self.max_transaction_segments
        if len(segs) > limit:  # keep the first segments and the trailer; count the rest
            self._tx_dropped += len(segs) - limit
            del segs[limit - 1 : -1]
        group = self._group
        dropped = self._tx_dropped
        count = len(segs) + dropped
        st = segs[0]
        control = st[2] if len(st) > 2 else ""
        if group is not None:
            tx_index = group.transaction_count
            group.transaction_count = tx_index + 1
            if self.keep_summaries:
                group.transactions.append(TransactionSummary(st[1] if len(st) > 1 else "", control, count))
        else:  # sets outside any group are numbered among themselves
            tx_index = self._loose_sets
            self._loose_sets += 1
        tx = Transaction(tx_index, self._ic, group, segs, [], complete, dropped)
        self._ic.segment_count += count
        duplicate = group is not None and self._st_numbers.add(control)
        se = segs[-1]
        clean = (
            complete
            and group is not None
            and not dropped
            and not duplicate
            and 4 <= len(control) <= 9
            and len(se) > 2
            and se[2] == control
            and se[1] == str(count)
        )
        if not clean:
            self._check_transaction(tx, duplicate)
        return tx

    def _check_transaction(self, tx: Transaction, duplicate: bool) -> None:
        """The slow path of :meth:`_end_transaction`: say what is wrong with the envelope of ``tx``."""
        segs = tx.segments
        group = tx.group
        pos = {"group": group.index if group else None, "transaction": tx.index}
        st = segs[0]
        control = element(st, 2)
        if group is None:
            self._add(
                "ST_OUTSIDE_GROUP",
                f"transaction set {element(st, 1)} {control} is not inside a functional group (GS..GE)",
                target=tx,
                segment=1,
                segment_id="ST",
                ack_level="transaction",
                ack_code="18",
                **pos,
            )
        if not (4 <= len(control) <= 9) or not control.strip():
            self._add(
                "ST02_INVALID",
                f"transaction set control number ST02 {control!r} must be 4-9 characters",
                target=tx,
                segment=1,
                segment_id="ST",
                element=2,
                bad_value=control,
                ack_level="transaction",
                ack_code="7",
                **pos,
            )
        if duplicate:
            self._add(
                "DUPLICATE_ST02",
                f"transaction set control number {control} (ST02) is used twice in this group",
                target=tx,
                segment=1,
                segment_id="ST",
                element=2,
                bad_value=control,
                ack_level="transaction",
                ack_code="23",
                **pos,
            )
        if tx.dropped_segments:
            self._add(
                "TRANSACTION_TOO_LARGE",
                f"transaction set {control} has {tx.segment_count} segments; only the first {len(segs) - 1} and "
                "the last were kept (max_transaction_segments)",
                severity=WARNING,
                layer=SYNTAX,
                target=tx,
                **pos,
            )
        if not tx.complete:
            self._add(
                "SE_MISSING",
                f"transaction set {element(st, 1)} {control} has no SE trailer",
                target=tx,
                segment_id="SE",
                ack_level="transaction",
                ack_code="2",
                **pos,
            )
            return
        se = segs[-1]
        se_pos = {**pos, "segment": tx.segment_count, "segment_id": "SE"}
        if element(se, 2) != control:
            self._add(
                "SE02_MISMATCH",
                f"SE02 {element(se, 2)!r} does not match ST02 {control!r}",
                target=tx,
                element=2,
                bad_value=element(se, 2),
                ack_level="transaction",
                ack_code="3",
                **se_pos,
            )
        count = element(se, 1)
        if not (count.isdigit() and int(count) == tx.segment_count):
            self._add(
                "SE01_COUNT",
                f"SE01 says {count!r} segments, the transaction set has {tx.segment_count} (ST and SE included)",
                target=tx,
                element=1,
                bad_value=count,
                ack_level="transaction",
                ack_code="4",
                **se_pos,
            )

    def _end_interchange(self, iea: Segment):
        ic = self._ic
        assert ic is not None
        yield from self._close_open_parts()
        ic.segment_count += 1
        ic.iea = iea
        pos = {"segment": ic.segment_count, "segment_id": "IEA"}
        if element(iea, 2).strip() != ic.control_number:
            self._add(
                "IEA02_MISMATCH",
                f"IEA02 {element(iea, 2)!r} does not match ISA13 {ic.control_number!r}",
                target=ic,
                element=2,
                bad_value=element(iea, 2),
                ack_level="interchange",
                ack_code="001",
                **pos,
            )
        count = element(iea, 1)
        if not (count.isdigit() and int(count) == len(ic.groups)):
            self._add(
                "IEA01_COUNT",
                f"IEA01 says {count!r} functional groups, the interchange has {len(ic.groups)}",
                target=ic,
                element=1,
                bad_value=count,
                ack_level="interchange",
                ack_code="021",
                **pos,
            )
        self._ic = None
        yield InterchangeEnd(ic)

    def _close_open_parts(self):
        """Close the set and group still open when a group or interchange starts or ends (missing trailers)."""
        if self._tx is not None:
            yield self._end_transaction(complete=False)
        if self._group is not None:
            yield self._end_group(None)

    def _close_interchange(self, eof: bool):
        """Close the open interchange without an IEA."""
        ic = self._ic
        assert ic is not None
        yield from self._close_open_parts()
        self._add(
            "IEA_MISSING",
            f"interchange {ic.control_number} (ISA13) has no IEA trailer"
            + (" (the file ends first)" if eof else " (another ISA starts first)"),
            target=ic,
            segment_id="IEA",
            ack_level="interchange",
            ack_code="023",
        )
        self._ic = None
        yield InterchangeEnd(ic)

    def _finish(self) -> None:
        self._report_garbage()
        if not self.interchanges:
            self.not_x12 = True
            already = any(f.code == "DATA_BEFORE_ISA" for f in self.findings)
            message = (
                "no ISA interchange header found: this is not an X12 interchange"
                if self.bytes_read
                else "the file is empty: no ISA interchange header"
            )
            if already:
                message += " (see the data reported above)"
            self._add("NOT_X12", message, interchange=None)
        if self._dropped_findings:
            self.findings.append(
                Finding(
                    code="FINDINGS_TRUNCATED",
                    severity=WARNING,
                    layer=ENVELOPE,
                    message=f"{self._dropped_findings} further findings were not recorded",
                )
            )


def _find_segment(buf: str, term: str, needle: str) -> tuple[int, int] | None:
    """Where a segment beginning with ``needle`` (``"IEA*"``) starts in ``buf``.

    Returns (the index just after the previous segment's terminator, the index
    just after ``needle``).  The needle counts only at a segment start: at the
    head of the buffer or after the terminator, with line breaks and
    indentation allowed between.
    """
    skip = "\r\n\t ".replace(term, "")
    pos = buf.find(needle)
    while pos != -1:
        j = pos - 1
        while j >= 0 and buf[j] in skip:
            j -= 1
        if j < 0:
            return 0, pos + len(needle)
        if buf[j] == term:
            return j + 1, pos + len(needle)
        pos = buf.find(needle, pos + 1)
    return None


def _valid_yymmdd(value: str) -> bool:
    if len(value) != 6 or not value.isdigit():
        return False
    try:  # the century does not change which dates exist, except 00 (2000 was a leap year)
        _dt.date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        return False
    return True


def _valid_hhmm(value: str) -> bool:
    if len(value) != 4 or not value.isdigit():
        return False
    return int(value[:2]) <= 23 and int(value[2:]) <= 59


def read_document(source: Source, **options) -> Document:
    """Read a whole file into memory (for small files, tools and tests)."""
    reader = X12Reader(source, **options)
    events = list(reader)
    transactions = [item for item in events if isinstance(item, Transaction)]
    return Document(
        interchanges=reader.interchanges,
        transactions=transactions,
        findings=reader.findings,
        encoding=reader.encoding or "latin-1",
        not_x12=reader.not_x12,
        leading=reader.leading,
        events=events,
    )
