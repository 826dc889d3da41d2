"""Streaming EDIFACT reader, the mirror of :mod:`hub.edi.x12.reader`.

Reads a path, ``bytes`` or a binary stream in chunks and yields, in file
order:

* :class:`Interchange` when UNA/UNB have been read (``unz`` still ``None``),
* :class:`FunctionalGroup` when a UNG has been read, or when the first
  message outside UNG..UNE starts (an implicit group, ``ung`` None),
* :class:`Message` when a message is complete (UNT read, or cut short),
* :class:`GroupEnd` / :class:`InterchangeEnd` when a group or interchange is
  closed (by UNE / UNZ, or implicitly, with a finding).

Service characters come from each interchange's UNA, or are the defaults of
its syntax identifier.  The text is decoded as latin-1 (one character per
byte, the separators are ASCII in every EDIFACT repertoire) and re-decoded per
region with the interchange's character set when it holds non-ASCII bytes.

The hot path is C-level: a region of complete segments is split on the
terminator and each segment on the element separator with ``str.split``;
only regions (and then segments) that contain the release character take the
slow path that rejoins released separators.  Element values stay in their
escaped form (see :mod:`hub.edi.edifact.model`).

Problems never raise: they become :class:`~hub.edi.core.Finding` objects.
Memory is bounded by one chunk plus one message.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from hub.edi.core import ENVELOPE, SYNTAX, WARNING, Delimiters, Finding, Segment, element, split_released
from hub.edi.edifact import syntax as sx
from hub.edi.edifact.model import Document, FunctionalGroup, Interchange, Message
from hub.edi.stream import FindingCollector, Source, open_source

CHUNK_SIZE = 1 << 20
MAX_SEGMENT_LENGTH = 1 << 24
MAX_MESSAGE_SEGMENTS = 2_000_000
MAX_FINDINGS = 10_000
MAX_HEADER = 4096  # UNA + UNB are far shorter

ENVELOPE_TAGS = frozenset({"UNA", "UNB", "UNZ", "UNG", "UNE", "UNH", "UNT"})
UTF8_BOM = "\xef\xbb\xbf"  # the BOM as latin-1 text
LINE_BREAKS = "\r\n"
_HEAD = re.compile(r"UN[AB]")


@dataclass(slots=True)
class GroupEnd:
    group: FunctionalGroup


@dataclass(slots=True)
class InterchangeEnd:
    interchange: Interchange


def _odd_release_before(text: str, pos: int, rel: str | None) -> bool:
    """Is the character at ``pos`` released (preceded by an odd run of ``rel``)?"""
    if rel is None:
        return False
    n = 0
    i = pos - 1
    while i >= 0 and text[i] == rel:
        n += 1
        i -= 1
    return n % 2 == 1


def _find_unz(buf: str, term: str, elem: str, rel: str | None) -> tuple[int, int] | None:
    """Where the UNZ segment starts in ``buf``.

    Returns (position of the terminator before it, or 0; end of ``UNZ`` and its separator), or None.
    """
    i = buf.find("UNZ")
    while i != -1:
        nxt = buf[i + 3:i + 4]
        if nxt in (elem, term):
            j = i - 1
            while j >= 0 and buf[j] in " \t\r\n":
                j -= 1
            if j < 0:
                return 0, i + 4
            if buf[j] == term and not _odd_release_before(buf, j, rel):
                return j, i + 4
        i = buf.find("UNZ", i + 1)
    return None


def _find_unreleased(text: str, ch: str, start: int, rel: str | None) -> int:
    pos = text.find(ch, start)
    while pos != -1 and _odd_release_before(text, pos, rel):
        pos = text.find(ch, pos + 1)
    return pos


class EdifactReader(FindingCollector):
    """Iterate over the envelopes and messages of an EDIFACT source.

    ``encoding`` forces the character set of every interchange (otherwise the
    UNB syntax identifier decides).
    """

    def __init__(
        self,
        source: Source,
        *,
        encoding: str | None = None,
        chunk_size: int = CHUNK_SIZE,
        max_segment_length: int = MAX_SEGMENT_LENGTH,
        max_message_segments: int = MAX_MESSAGE_SEGMENTS,
        max_findings: int = MAX_FINDINGS,
    ) -> None:
        self._source = source
        self.forced_encoding = encoding
        self.encoding = encoding or "latin-1"  # of the first interchange
        self.chunk_size = chunk_size
        self.max_segment_length = max_segment_length
        self.max_message_segments = max_message_segments
        self.max_findings = max_findings
        self.name = "<stream>"
        self.findings: list[Finding] = []
        self.interchanges: list[Interchange] = []
        self.not_edifact = False
        self.leading = ""
        self.trailing = ""
        self.bytes_read = 0
        self._dropped_findings = 0
        self._started = False
        self._ic: Interchange | None = None
        self._group: FunctionalGroup | None = None
        self._implicit: FunctionalGroup | None = None
        self._tx: list[Segment] | None = None
        self._tx_dropped = 0
        self._d: Delimiters = sx.DEFAULT
        self._env_re: re.Pattern[str] = re.compile(r"'UN[ABHTGEZ]")
        self._indent_re: re.Pattern[str] = re.compile(r"'[ \t]+")
        self._codec: str | None = None  # transcode regions with this codec (None: latin-1 as is)
        self._ascii_only = False
        self._warned_charset = False
        self._unb_refs: set[str] = set()
        self._ung_refs: set[str] = set()
        self._unh_refs: set[str] = set()
        self._garbage = 0
        self._garbage_sample = ""
        self._explicit_groups = 0
        self._skipping = False
        self._stray_run: Finding | None = None  # the finding that consecutive stray segments extend

    # ------------------------------------------------------------------ input

    def _chunks(self) -> Iterator[str]:
        stream, owned, self.name = open_source(self._source)
        try:
            decode = codecs.latin_1_decode
            while True:
                data = stream.read(self.chunk_size)
                if not data:
                    break
                self.bytes_read += len(data)
                yield decode(data)[0]
        finally:
            if owned:
                stream.close()

    # --------------------------------------------------------------- findings

    # ----------------------------------------------------------------- events

    def __iter__(self):
        return self.events()

    def events(self) -> Iterator[Interchange | FunctionalGroup | Message | GroupEnd | InterchangeEnd]:
        if self._started:
            raise RuntimeError("an EdifactReader can be iterated only once")
        self._started = True
        buf = ""
        in_ic = False
        elem = "+"
        term = "'"
        rel: str | None = "?"
        eof = False
        chunks = self._chunks()
        try:
            while not eof:
                try:
                    buf += next(chunks)
                except StopIteration:
                    eof = True
                while True:
                    if not in_ic:
                        got = self._seek(buf, eof)
                        if got is None:
                            buf = self._keep_tail(buf)
                            break
                        consumed, ic = got
                        buf = buf[consumed:]
                        if ic is None:
                            continue
                        yield ic
                        d = ic.delimiters
                        term, rel = d.segment, d.release
                        elem = d.element
                        in_ic = True
                    if self._skipping:  # inside an overlong segment: drop it up to its terminator
                        cut = _find_unreleased(buf, term, 0, rel)
                        if cut == -1:
                            buf = ""
                            if not eof:
                                break
                        else:
                            buf = buf[cut + len(term):]
                        self._skipping = cut == -1 and not eof
                    m = _find_unz(buf, term, elem, rel)
                    if m is not None:
                        m_start, m_end = m
                        end = _find_unreleased(buf, term, m_end - 1 if buf[m_end - 1] == term else m_end, rel)
                        if end == -1 and not eof:
                            region, buf = buf[:m_start], buf[m_start:]
                            rest = yield from self._region(region, False)
                            if rest is not None:
                                buf = rest + buf
                                in_ic = self._ic is not None
                                continue
                            if len(buf) > self.max_segment_length:
                                buf = self._overlong(buf)
                            break
                        stop = len(buf) if end == -1 else end + len(term)
                        region, buf = buf[:stop], buf[stop:]
                        rest = yield from self._region(region, eof and not buf)
                        if rest is not None:
                            buf = rest + buf
                        in_ic = self._ic is not None
                        if in_ic and eof and not buf:
                            yield from self._close_interchange(eof=True)
                            in_ic = False
                        continue
                    if eof:
                        region, buf = buf, ""
                        rest = yield from self._region(region, True)
                        if rest is not None:
                            buf = rest
                            in_ic = self._ic is not None
                            continue
                        if self._ic is not None:
                            yield from self._close_interchange(eof=True)
                        in_ic = False
                        break
                    cut = buf.rfind(term)
                    while cut > 0 and _odd_release_before(buf, cut, rel):
                        cut = buf.rfind(term, 0, cut)
                    if cut == -1 or (cut == 0 and _odd_release_before(buf, 0, rel)):
                        if len(buf) > self.max_segment_length:
                            buf = self._overlong(buf)
                        break
                    region, buf = buf[: cut + len(term)], buf[cut + len(term):]
                    rest = yield from self._region(region, False)
                    if rest is not None:
                        buf = rest + buf
                        in_ic = self._ic is not None
                        continue
                    break
            self._finish()
        finally:
            chunks.close()

    # ------------------------------------------------------------ seeking UNB

    def _keep_tail(self, buf: str) -> str:
        if len(buf) <= MAX_HEADER * 2:
            return buf
        head, tail = buf[:-MAX_HEADER], buf[-MAX_HEADER:]
        self._note_garbage(head)
        return tail

    def _note_garbage(self, text: str) -> None:
        stripped = text.replace(UTF8_BOM, "").replace("\ufeff", "").strip()
        if not stripped:
            if not self.interchanges and not self._garbage:
                if len(self.leading) < MAX_HEADER:  # kept for exact writing, within bounds
                    self.leading += text
            elif self.interchanges and len(self.trailing) < MAX_HEADER:
                self.trailing += text
            return
        if self.interchanges and len(self.trailing) < MAX_HEADER:
            self.trailing += text[:MAX_HEADER]
        if not self._garbage:
            self._garbage_sample = stripped[:40]
        self._garbage += len(stripped)

    def _report_garbage(self) -> None:
        if not self._garbage:
            return
        sample = self._garbage_sample.encode("unicode_escape").decode("ascii")
        if self.interchanges:
            last = self.interchanges[-1]
            self._add(
                "DATA_AFTER_UNZ",
                f"{self._garbage} characters of data outside any interchange (after UNZ), starting {sample!r}",
                interchange=last.index, target=last,
                ack_level="interchange", ack_code=sx.E_UNSPECIFIED,
            )
        else:
            self._add(
                "DATA_BEFORE_UNB",
                f"{self._garbage} characters of data before the first UNA/UNB, starting {sample!r}",
                interchange=None,
            )
        self._garbage = 0
        self._garbage_sample = ""

    def _seek(self, buf: str, eof: bool) -> tuple[int, Interchange | None] | None:
        """Find and read the next UNA/UNB header in ``buf``.

        ``None``: more text needed; ``(n, None)``: skip ``n`` characters;
        ``(n, interchange)``: a header of ``n`` characters was read.
        """
        if not buf:
            return None
        m = _HEAD.search(buf)
        if m is None:
            if not eof:
                return None
            self._note_garbage(buf)
            self._report_garbage()
            return len(buf), None
        pos = m.start()
        if pos:
            self._note_garbage(buf[:pos])
            self._report_garbage()
            return pos, None
        got = self._parse_header(buf, eof)
        if got is None:
            if not eof:
                return None
            self._add("UNB_TRUNCATED", "the file ends inside the interchange header (UNA/UNB)",
                      interchange=len(self.interchanges), segment=1, segment_id="UNB",
                      ack_level="interchange", ack_code=sx.E_MISSING)
            return len(buf), None
        return got

    def _bad_header(self, why: str, skip: int, element: int | None = None, code: str = sx.E_INVALID_VALUE,
                    segment_id: str = "UNB") -> tuple[int, None]:
        self._add("UNB_INVALID", f"{why}; skipping to the next UNA/UNB", interchange=len(self.interchanges),
                  segment=1, segment_id=segment_id, element=element, ack_level="interchange", ack_code=code)
        return skip, None

    def _parse_header(self, buf: str, eof: bool) -> tuple[int, Interchange | None] | None:
        n = len(buf)
        una: str | None = None
        una_suffix = ""
        i = 0
        if buf.startswith("UNA"):
            if n < sx.UNA_LENGTH:
                return None
            una = buf[: sx.UNA_LENGTH]
            i = sx.UNA_LENGTH
            comp, elem, dec, rel, rep, term = una[3:9]
            # line breaks after UNA (unless the terminator is one)
            while i < n and buf[i] in LINE_BREAKS and buf[i] not in una[3:9] and len(una_suffix) < 2:
                una_suffix += buf[i]
                i += 1
            j = i
            while j < n and buf[j] in " \t\r\n" and buf[j] not in una[3:9]:
                j += 1
            if n - j < 4 and not eof:
                return None
            if buf[j:j + 3] != "UNB":
                self._add("UNA_WITHOUT_UNB", "UNA service string advice is not followed by UNB",
                          interchange=len(self.interchanges), segment_id="UNA",
                          ack_level="interchange", ack_code=sx.E_MISSING)
                return 3, None
            una_suffix += buf[i:j]
            i = j
        else:
            elem = buf[3] if n > 3 else ""
            if not elem:
                return None
            comp, dec, rel, rep, term = ":", ".", "?", " ", "'"
            if elem == "\x1d":
                comp, rel, term = "\x1f", "", "\x1c"
            elif elem != "+" and n > 8 and sx.is_service_candidate(buf[8]) and buf[8] != elem:
                comp = buf[8]  # the component separator after the 4-letter syntax identifier
            if not sx.is_service_candidate(elem):
                return self._bad_header(f"UNB is followed by {elem!r}, not by a data element separator", 3)
        # the UNB segment, up to its terminator
        relc = rel if rel and rel != " " else None
        end = _find_unreleased(buf, term, i, relc)
        if end == -1:
            if n - i > MAX_HEADER:
                return self._bad_header(f"no segment terminator {term!r} after UNB", i + 3, code=sx.E_MISSING)
            return None
        raw = buf[i:end]
        consumed = end + len(term)
        # line breaks after the terminator are not data
        k = consumed
        while k < n and buf[k] in LINE_BREAKS and buf[k] not in (elem, comp, term):
            k += 1
        if k >= n and not eof and k - consumed < 2:
            return None
        suffix = buf[consumed:k]
        consumed = k
        for ch in LINE_BREAKS:
            if ch not in (elem, comp, term):
                raw = raw.replace(ch, "")
        unb_parts = split_released(raw, elem, relc) if relc else raw.split(elem)
        s001 = unb_parts[1] if len(unb_parts) > 1 else ""
        s001_parts = s001.split(comp)
        syntax_id = s001_parts[0]
        version = s001_parts[1] if len(s001_parts) > 1 else ""
        head = s001[:4]
        if not (len(head) == 4 and head.isascii() and head.isalpha() and head.isupper()):
            # S001 0001 starts with four capital letters (UNOA, IATB ...): anything else is not an EDIFACT header
            return self._bad_header(
                f"UNB S001 {s001[:12]!r} does not start with a four-letter syntax identifier: not an EDIFACT header", 3
            )
        # service characters
        if una is not None:
            repetition = rep if (version == "4" and rep != " ") else None
            delims = Delimiters(element=elem, component=comp, segment=term, repetition=repetition,
                                release=relc, decimal=dec, segment_suffix=suffix)
        else:
            base = sx.default_delimiters(syntax_id, version, elem)
            delims = Delimiters(element=elem, component=comp, segment=base.segment, repetition=base.repetition,
                                release=base.release, decimal=base.decimal, segment_suffix=suffix)
        codec, ascii_only = sx.SYNTAX_CODECS.get(syntax_id, ("latin-1", False))
        if self.forced_encoding:
            codec, ascii_only = self.forced_encoding, False
        transcode = None if codecs.lookup(codec).name == "iso8859-1" else codec
        if transcode is not None and not raw.isascii():
            raw = raw.encode("latin-1").decode(codec, "surrogateescape")
            unb_parts = split_released(raw, elem, relc) if relc else raw.split(elem)
        unb = Segment(unb_parts)
        unb[0] = "UNB"
        index = len(self.interchanges)
        ic = Interchange(index=index, unb=unb, delimiters=delims, una=una, una_suffix=una_suffix,
                         encoding=codec)
        ic.segment_count = 1
        if not self.interchanges:
            self.encoding = codec
        self.interchanges.append(ic)
        self._ic = ic
        self._group = None
        self._implicit = None
        self._tx = None
        self._explicit_groups = 0
        self._ung_refs = set()
        self._unh_refs = set()
        self._d = delims
        t, e, c = re.escape(delims.segment), re.escape(delims.element), re.escape(delims.component)
        self._env_re = re.compile(t + r"UN(?:A|[BHTGEZ](?=" + e + "|" + t + "|" + c + "|$))")
        r = "" if delims.release is None else "(?<!" + re.escape(delims.release) + ")"
        self._indent_re = re.compile(r + t + r"[ \t]+")
        self._codec = transcode
        self._ascii_only = ascii_only
        self._warned_charset = False
        self._check_header(ic, una, syntax_id, version)
        return consumed, ic

    def _check_header(self, ic: Interchange, una: str | None, syntax_id: str, version: str) -> None:
        pos = {"interchange": ic.index, "segment": 1, "segment_id": "UNB"}
        d = ic.delimiters
        if una is not None:
            chars = [("component separator", d.component), ("data element separator", d.element),
                     ("release character", d.release), ("segment terminator", d.segment)]
            if d.repetition:
                chars.append(("repetition separator", d.repetition))
            seen: dict[str, str] = {}
            for label, ch in chars:
                if ch is None:
                    continue
                if not sx.is_service_candidate(ch):
                    self._add("UNA_INVALID", f"the {label} {ch!r} in UNA is a letter, digit or space",
                              target=ic, interchange=ic.index, segment_id="UNA",
                              ack_level="interchange", ack_code=sx.E_INVALID_SERVICE_CHAR)
                elif ch in seen:
                    self._add("UNA_INVALID", f"the {label} {ch!r} in UNA is also the {seen[ch]}",
                              target=ic, interchange=ic.index, segment_id="UNA",
                              ack_level="interchange", ack_code=sx.E_INVALID_SERVICE_CHAR)
                seen.setdefault(ch, label)
            if d.decimal not in (".", ","):
                self._add("UNA_DECIMAL", f"the decimal mark {d.decimal!r} in UNA is neither '.' nor ','",
                          severity=WARNING, target=ic, interchange=ic.index, segment_id="UNA")
            if una[7] != " " and version != "4":
                self._add("UNA_RESERVED", f"UNA position 5 is {una[7]!r}; syntax version {version or '?'} "
                          "reserves it (a space); no repetition separator is used",
                          severity=WARNING, target=ic, interchange=ic.index, segment_id="UNA")
        elif d.element != "+" and d.element != "\x1d":
            self._add("DELIMITERS_WITHOUT_UNA",
                      f"the data element separator is {d.element!r} but there is no UNA to announce it",
                      severity=WARNING, target=ic, **pos)
        if syntax_id not in sx.SYNTAX_CODECS:
            self._add("SYNTAX_ID_UNKNOWN", f"syntax identifier {syntax_id!r} (UNB S001/0001) is not known; "
                      "reading the interchange as latin-1", target=ic, element=1, component=1, bad_value=syntax_id,
                      ack_level="interchange", ack_code=sx.E_SYNTAX_NOT_SUPPORTED, **pos)
        if version not in sx.SYNTAX_VERSIONS:
            self._add("SYNTAX_VERSION_UNKNOWN", f"syntax version {version!r} (UNB S001/0002) is not 1-4",
                      target=ic, element=1, component=2, bad_value=version,
                      ack_level="interchange", ack_code=sx.E_SYNTAX_NOT_SUPPORTED, **pos)
        unb = ic.unb
        if len(unb) < 6:
            self._add("UNB_INCOMPLETE", f"UNB has {len(unb) - 1} data elements; S001, S002, S003, S004 and 0020 "
                      "are mandatory", target=ic, ack_level="interchange", ack_code=sx.E_MISSING, **pos)
        for n, label in ((2, "interchange sender (S002)"), (3, "interchange recipient (S003)")):
            if not ic._c(n, 1):
                self._add("UNB_VALUE", f"UNB {label} is missing", target=ic, element=n, component=1,
                          ack_level="interchange", ack_code=sx.E_MISSING, **pos)
        date, time = ic.date, ic.time
        date_ok = date.isdigit() and (len(date) == 6 or (len(date) == 8 and version == "4"))
        if date_ok:
            mm, dd = int(date[-4:-2]), int(date[-2:])
            date_ok = 1 <= mm <= 12 and 1 <= dd <= 31
        if not date_ok:
            self._add("UNB_VALUE", f"UNB date of preparation (S004/0017) {date!r} is not "
                      + ("YYMMDD or CCYYMMDD" if version == "4" else "YYMMDD"),
                      target=ic, element=4, component=1, bad_value=date,
                      ack_level="interchange", ack_code=sx.E_INVALID_VALUE, **pos)
        if not (len(time) == 4 and time.isdigit() and int(time[:2]) <= 23 and int(time[2:]) <= 59):
            self._add("UNB_VALUE", f"UNB time of preparation (S004/0019) {time!r} is not HHMM",
                      target=ic, element=4, component=2, bad_value=time,
                      ack_level="interchange", ack_code=sx.E_INVALID_VALUE, **pos)
        ref = ic.control_number
        if not ref:
            self._add("UNB_VALUE", "UNB interchange control reference (0020) is missing", target=ic, element=5,
                      ack_level="interchange", ack_code=sx.E_MISSING, **pos)
        elif len(ref) > 14:
            self._add("UNB_VALUE", f"UNB interchange control reference {ref!r} is longer than 14 characters",
                      target=ic, element=5, bad_value=ref, ack_level="interchange", ack_code=sx.E_TOO_LONG, **pos)
        if ref in self._unb_refs:
            self._add("DUPLICATE_UNB_REFERENCE", f"interchange control reference {ref} (UNB 0020) is used twice "
                      "in this file", target=ic, element=5, bad_value=ref,
                      ack_level="interchange", ack_code=sx.E_DUPLICATE, **pos)
        self._unb_refs.add(ref)

    # --------------------------------------------------------------- segments

    def _overlong(self, buf: str) -> str:
        """A segment longer than ``max_segment_length``: reported once, dropped up to its terminator."""
        pos: dict = {}
        tx = self._tx
        if self._ic is not None and tx is not None and self._group is not None:
            self._tx_dropped += 1
            pos = {"group": self._group.index, "transaction": len(self._group.transactions),
                   "segment": len(tx) + self._tx_dropped, "ack_level": "transaction"}
        else:
            pos = {"ack_level": "interchange"}
        self._add("SEGMENT_TOO_LONG", f"a segment of more than {len(buf)} characters (no segment terminator "
                  f"{self._d.segment!r}): the terminator is wrong or the file is not EDIFACT; the segment is "
                  "skipped", layer=SYNTAX, segment_id=buf[:3] if buf[:3].isalnum() else None,
                  ack_code=sx.E_INVALID_SERVICE_CHARS, **pos)
        self._skipping = True
        return ""

    def _back_to_latin1(self, text: str) -> str:
        if self._codec is None:
            return text
        return text.encode(self._codec, "surrogateescape").decode("latin-1")

    def _region(self, text: str, final: bool):
        """Read the complete segments in ``text``.

        A generator whose return value is ``None``, or text to be read again
        in seek mode (a new UNA/UNB inside the interchange, or what follows
        UNZ).
        """
        codec = self._codec
        if codec is not None and not text.isascii():
            text = text.encode("latin-1").decode(codec, "surrogateescape")
        elif self._ascii_only and not self._warned_charset and not text.isascii():
            self._warn_charset(text)
        d = self._d
        term = d.segment
        for ch in LINE_BREAKS:
            if ch in text and ch != term and ch != d.element and ch != d.component:
                text = text.replace(ch, "")
        if (term + " ") in text or (term + "\t") in text or text[:1] in (" ", "\t"):
            text = self._indent_re.sub(lambda _m: term, term + text)[len(term):]
        return (yield from self._region_fast(text, final))

    def _bulk(self, sub: str, final: bool) -> None:
        """Segments without envelope segments among them.

        Where no release character occurs the text is split in C and appended
        in one go; each segment that holds a release character is cut out and
        split on the slow path.
        """
        d = self._d
        rel = d.release
        if rel is None or rel not in sub:
            self._plain(sub, final)
            return
        term = d.segment
        lt = len(term)
        pos = 0
        n = len(sub)
        while pos < n:
            r = sub.find(rel, pos)
            if r == -1:
                break
            k = sub.rfind(term, pos, r)
            start = pos if k == -1 else k + lt
            end = _find_unreleased(sub, term, r, rel)
            if start > pos:
                self._plain(sub[pos:start], False)
            if end == -1:
                self._released(sub[start:], final)
                return
            self._released(sub[start:end + lt], False)
            pos = end + lt
        if pos < n:
            self._plain(sub[pos:], final)

    def _released(self, sub: str, final: bool) -> None:
        d = self._d
        term, elem, rel = d.segment, d.element, d.release
        assert rel is not None
        parts = split_released(sub, term, rel)
        last = parts.pop()
        if last.strip():
            parts.append(last)
            if final:
                self._unterminated(last)
        segs = [split_released(p, elem, rel) if rel in p else p.split(elem) for p in parts if p]
        self._append(segs)

    def _plain(self, sub: str, final: bool) -> None:
        d = self._d
        term, elem = d.segment, d.element
        parts = sub.split(term)
        last = parts.pop()
        if last.strip():
            parts.append(last)
            if final:
                self._unterminated(last)
        if "" in parts:
            parts = [p for p in parts if p]
        self._append([p.split(elem) for p in parts])

    def _unterminated(self, last: str) -> None:
        self._add("SEGMENT_UNTERMINATED", f"the file ends inside a segment ({last[:20]!r} has no "
                  f"terminator {self._d.segment!r})", severity=WARNING, layer=SYNTAX)

    def _append(self, segs: list[list[str]]) -> None:
        tx = self._tx
        if tx is not None:
            tx += segs
            if len(tx) > self.max_message_segments:
                keep = self.max_message_segments
                self._tx_dropped += len(tx) - keep
                del tx[keep:]
        else:
            for seg in segs:
                self._stray(seg)

    def _region_fast(self, text: str, final: bool):
        """``_region`` for text without release characters: only envelope segments are looked at one by one."""
        d = self._d
        term, elem = d.segment, d.element
        lt = len(term)
        t2 = term + text
        pos = lt
        rel = d.release if d.release is not None and d.release in text else None
        for m in self._env_re.finditer(t2):
            start = m.start() + lt
            if start < pos or (rel is not None and _odd_release_before(t2, m.start(), rel)):
                continue
            if start > pos:
                self._bulk(t2[pos:start], False)
            end = _find_unreleased(t2, term, start, rel)
            if end == -1:
                end = len(t2)
            raw = t2[start:end]
            seg = split_released(raw, elem, rel) if rel is not None and rel in raw else raw.split(elem)
            tag = seg[0][:3]
            if tag == "UNA" or tag == "UNB":
                yield from self._close_interchange(eof=False)
                return self._back_to_latin1(t2[start:])
            seg[0] = tag if len(seg[0]) == 3 else seg[0]
            yield from self._envelope(seg)
            pos = end + lt
            if self._ic is None:  # UNZ read
                leftover = t2[pos:]
                if leftover.strip(term + " \t\r\n"):
                    return self._back_to_latin1(leftover)
                return None
        if pos < len(t2):
            self._bulk(t2[pos:], final)
        return None

    def _warn_charset(self, text: str) -> None:
        ic = self._ic
        assert ic is not None
        bad = next((c for c in text if ord(c) > 127), "?")
        self._warned_charset = True
        self._add("CHARACTER_OUTSIDE_REPERTOIRE",
                  f"syntax identifier {ic.syntax_identifier} allows ASCII only; found {bad!r} "
                  f"(0x{ord(bad):02X}) and perhaps more; read as latin-1",
                  severity=WARNING, layer=SYNTAX, target=ic, ack_level="interchange",
                  ack_code=sx.E_INVALID_CHARACTER)

    def _stray(self, seg: Segment) -> None:
        ic = self._ic
        assert ic is not None
        ic.segment_count += 1
        run = self._stray_run
        if run is not None:  # one finding for a run of stray segments, not one each
            run.extra["count"] += 1
            run.message = (
                f"{run.extra['count']} segments, the first {run.segment_id!r}, are not inside a message (UNH..UNT)"
            )
            return
        where = "group" if self._group is not None and not self._group.implicit else "interchange"
        self._stray_run = self._add(
            "SEGMENT_OUTSIDE_MESSAGE",
            f"segment {seg[0][:10]!r} is not inside a message (UNH..UNT); it is in the {where} envelope",
            layer=SYNTAX, target=self._group or ic,
            group=self._group.index if self._group is not None else None,
            segment=ic.segment_count, segment_id=seg[0][:10],
            ack_level="interchange", ack_code=sx.E_OUTSIDE_MESSAGE, extra={"count": 1},
        )

    def _envelope(self, seg: Segment):
        self._stray_run = None
        tag = seg[0]
        ic = self._ic
        assert ic is not None
        if tag == "UNH":
            if self._tx is not None:
                yield self._end_message(complete=False)
            if self._group is None:
                yield from self._open_implicit_group()
            self._tx = [seg]
            self._tx_dropped = 0
        elif tag == "UNT":
            if self._tx is None:
                ic.segment_count += 1
                self._add("UNT_WITHOUT_UNH", "UNT without a matching UNH", target=self._group or ic,
                          group=self._group.index if self._group else None, segment=ic.segment_count,
                          segment_id="UNT", ack_level="interchange", ack_code=sx.E_OUTSIDE_MESSAGE)
                return
            self._tx.append(seg)
            yield self._end_message(complete=True)
        elif tag == "UNG":
            if self._tx is not None:
                yield self._end_message(complete=False)
            if self._group is not None and not self._group.implicit:
                yield self._end_group(None)
            ic.segment_count += 1
            group = FunctionalGroup(index=len(ic.groups), interchange=ic, ung=seg)
            ic.groups.append(group)
            self._group = group
            self._explicit_groups += 1
            self._unh_refs = set()  # message references are unique within their group
            pos = {"group": group.index, "segment": ic.segment_count, "segment_id": "UNG"}
            ref = group.control_number
            if not ref:
                self._add("UNG_INCOMPLETE", "UNG group reference number (0048) is missing", target=group,
                          element=5, ack_level="group", ack_code=sx.E_MISSING, **pos)
            elif ref in self._ung_refs:
                self._add("DUPLICATE_UNG_REFERENCE", f"group reference {ref} (UNG 0048) is used twice in this "
                          "interchange", target=group, element=5, bad_value=ref, ack_level="group",
                          ack_code=sx.E_DUPLICATE, **pos)
            self._ung_refs.add(ref)
            if self._implicit is not None:
                self._add("GROUPS_AND_MESSAGES_MIXED", "this interchange has messages both inside and outside "
                          "UNG..UNE groups", target=ic, ack_level="interchange",
                          ack_code=sx.E_GROUPS_AND_MESSAGES_MIXED, **pos)
            yield group
        elif tag == "UNE":
            if self._tx is not None:
                yield self._end_message(complete=False)
            ic.segment_count += 1
            if self._group is None or self._group.implicit:
                self._add("UNE_WITHOUT_UNG", "UNE without a matching UNG", target=ic, segment=ic.segment_count,
                          segment_id="UNE", ack_level="interchange", ack_code=sx.E_OUTSIDE_MESSAGE)
                return
            yield self._end_group(seg)
        elif tag == "UNZ":
            yield from self._end_interchange(seg)

    def _open_implicit_group(self):
        ic = self._ic
        assert ic is not None
        if self._implicit is None:
            group = FunctionalGroup(index=len(ic.groups), interchange=ic, ung=None)
            ic.groups.append(group)
            self._implicit = group
            if self._explicit_groups:
                self._add("GROUPS_AND_MESSAGES_MIXED", "this interchange has messages both inside and outside "
                          "UNG..UNE groups", target=ic, group=group.index, ack_level="interchange",
                          ack_code=sx.E_GROUPS_AND_MESSAGES_MIXED)
            self._group = group
            yield group
        else:
            self._group = self._implicit

    def _end_group(self, une: Segment | None) -> GroupEnd:
        group = self._group
        assert group is not None and not group.implicit
        ic = group.interchange
        group.une = une
        self._group = None
        if une is None:
            self._add("UNE_MISSING", f"group {group.control_number} (UNG 0048) has no UNE trailer", target=group,
                      group=group.index, segment_id="UNE", ack_level="group", ack_code=sx.E_MISSING)
            return GroupEnd(group)
        pos = {"group": group.index, "segment": ic.segment_count, "segment_id": "UNE"}
        d = ic.delimiters
        ref = d.unescape(element(une, 2))
        if ref != group.control_number:
            self._add("UNE_REFERENCE_MISMATCH", f"UNE reference {ref!r} does not match UNG "
                      f"{group.control_number!r}", target=group, element=2, bad_value=ref, ack_level="group",
                      ack_code=sx.E_REFERENCES_DO_NOT_MATCH, **pos)
        count = element(une, 1)
        if not (count.isdigit() and int(count) == len(group.transactions)):
            self._add("UNE_COUNT", f"UNE says {count!r} messages, the group has {len(group.transactions)}",
                      target=group, element=1, bad_value=count, ack_level="group",
                      ack_code=sx.E_COUNT_DOES_NOT_MATCH, **pos)
        return GroupEnd(group)

    def _end_message(self, complete: bool) -> Message:
        ic = self._ic
        assert ic is not None
        segs = self._tx
        assert segs is not None
        self._tx = None
        group = self._group
        assert group is not None
        msg = Message(index=len(group.transactions), interchange=ic, group=group, segments=segs,
                      complete=complete, dropped_segments=self._tx_dropped)
        ic.segment_count += msg.segment_count
        ic.message_count += 1
        group.transactions.append(msg.summary())
        pos = {"group": group.index, "transaction": msg.index}
        d = ic.delimiters
        unh = segs[0]
        ref = msg.control_number
        if not ref:
            self._add("UNH_INCOMPLETE", "UNH message reference number (0062) is missing", target=msg, segment=1,
                      segment_id="UNH", element=1, ack_level="transaction", ack_code=sx.E_MISSING, **pos)
        elif len(ref) > 14:
            self._add("UNH_VALUE", f"message reference {ref!r} (UNH 0062) is longer than 14 characters",
                      target=msg, segment=1, segment_id="UNH", element=1, bad_value=ref,
                      ack_level="element", ack_code=sx.E_TOO_LONG, **pos)
        s009 = d.components(element(unh, 2))
        if len(s009) < 4 or not all(s009[:4]):
            self._add("UNH_INCOMPLETE", f"UNH message identifier (S009) {element(unh, 2)!r} needs type, version, "
                      "release and agency", target=msg, segment=1, segment_id="UNH", element=2,
                      ack_level="transaction", ack_code=sx.E_MISSING, **pos)
        if ref and ref in self._unh_refs:
            self._add("DUPLICATE_UNH_REFERENCE", f"message reference {ref} (UNH 0062) is used twice in this "
                      "interchange", target=msg, segment=1, segment_id="UNH", element=1, bad_value=ref,
                      ack_level="transaction", ack_code=sx.E_DUPLICATE, **pos)
        self._unh_refs.add(ref)
        if not group.implicit and len(s009) >= 3:
            s008 = d.components(element(group.ung, 7)) if group.ung is not None else []
            if len(s008) >= 2 and all(s008[:2]) and (s008[0], s008[1]) != (s009[1], s009[2]):
                self._add("MESSAGE_VERSION_MISMATCH", f"UNH says {s009[0]} {s009[1]}:{s009[2]} but its group (UNG "
                          f"S008) says {s008[0]}:{s008[1]}", severity=WARNING, target=msg, segment=1,
                          segment_id="UNH", element=2, **pos)
            group_id = group.functional_id
            if group_id and group_id != s009[0]:
                self._add("MESSAGE_TYPE_MISMATCH", f"UNH message type {s009[0]} is not the group's message type "
                          f"{group_id} (UNG 0038)", severity=WARNING, target=msg, segment=1, segment_id="UNH",
                          element=2, **pos)
        if self._tx_dropped:
            self._add("MESSAGE_TOO_LARGE", f"message {ref} has {msg.segment_count} segments; only the first "
                      f"{len(segs)} were kept", severity=WARNING, layer=SYNTAX, target=msg, **pos)
        if not complete:
            self._add("UNT_MISSING", f"message {msg.type} {ref} has no UNT trailer", target=msg, segment_id="UNT",
                      ack_level="transaction", ack_code=sx.E_MISSING, **pos)
            return msg
        unt = segs[-1]
        unt_pos = {**pos, "segment": msg.segment_count, "segment_id": "UNT"}
        unt_ref = d.unescape(element(unt, 2))
        if unt_ref != ref:
            self._add("UNT_REFERENCE_MISMATCH", f"UNT reference {unt_ref!r} does not match UNH {ref!r}",
                      target=msg, element=2, bad_value=unt_ref, ack_level="transaction",
                      ack_code=sx.E_REFERENCES_DO_NOT_MATCH, **unt_pos)
        count = element(unt, 1)
        if not (count.isdigit() and int(count) == msg.segment_count):
            self._add("UNT_COUNT", f"UNT says {count!r} segments, the message has {msg.segment_count} "
                      "(UNH and UNT included)", target=msg, element=1, bad_value=count,
                      ack_level="transaction", ack_code=sx.E_COUNT_DOES_NOT_MATCH, **unt_pos)
        return msg

    def _end_interchange(self, unz: Segment):
        ic = self._ic
        assert ic is not None
        yield from self._close_open_parts()
        ic.segment_count += 1
        ic.unz = unz
        pos = {"segment": ic.segment_count, "segment_id": "UNZ"}
        ref = ic.delimiters.unescape(element(unz, 2))
        if ref != ic.control_number:
            self._add("UNZ_REFERENCE_MISMATCH", f"UNZ reference {ref!r} does not match UNB {ic.control_number!r}",
                      target=ic, element=2, bad_value=ref, ack_level="interchange",
                      ack_code=sx.E_REFERENCES_DO_NOT_MATCH, **pos)
        count = element(unz, 1)
        expected = self._explicit_groups if self._explicit_groups else ic.message_count
        what = "groups" if self._explicit_groups else "messages"
        if not (count.isdigit() and int(count) == expected):
            self._add("UNZ_COUNT", f"UNZ says {count!r} {what}, the interchange has {expected}", target=ic,
                      element=1, bad_value=count, ack_level="interchange",
                      ack_code=sx.E_COUNT_DOES_NOT_MATCH, **pos)
        self._ic = None
        self._implicit = None
        yield InterchangeEnd(ic)

    def _close_open_parts(self):
        """Close the message and group still open when the interchange ends (each missing trailer is a finding)."""
        if self._tx is not None:
            yield self._end_message(complete=False)
        if self._group is not None and not self._group.implicit:
            yield self._end_group(None)
        if self._implicit is not None:
            yield GroupEnd(self._implicit)
        self._group = None

    def _close_interchange(self, eof: bool):
        ic = self._ic
        assert ic is not None
        yield from self._close_open_parts()
        self._implicit = None
        self._add("UNZ_MISSING", f"interchange {ic.control_number} (UNB 0020) has no UNZ trailer"
                  + (" (the file ends first)" if eof else " (another UNA/UNB starts first)"),
                  target=ic, segment_id="UNZ", ack_level="interchange", ack_code=sx.E_MISSING)
        self._ic = None
        yield InterchangeEnd(ic)

    def _finish(self) -> None:
        self._report_garbage()
        if not self.interchanges:
            self.not_edifact = True
            message = ("no UNB interchange header found: this is not an EDIFACT interchange" if self.bytes_read
                       else "the file is empty: no UNB interchange header")
            self._add("NOT_EDIFACT", message, interchange=None)
        if self._dropped_findings:
            self.findings.append(Finding(code="FINDINGS_TRUNCATED", severity=WARNING, layer=ENVELOPE,
                                         message=f"{self._dropped_findings} further findings were not recorded"))


def read_document(source: Source, **options) -> Document:
    """Read a whole file into memory (for small files, tools and tests)."""
    reader = EdifactReader(source, **options)
    messages = [item for item in reader if isinstance(item, Message)]
    return Document(interchanges=reader.interchanges, messages=messages, findings=reader.findings,
                    encoding=reader.encoding, not_edifact=reader.not_edifact, leading=reader.leading,
                    trailing=reader.trailing)
