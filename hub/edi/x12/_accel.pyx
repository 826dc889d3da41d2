# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled element checks for the X12 validator (optional; see hub/edi/x12/accel.py).

A :class:`SegmentRule` is one segment definition turned into arrays of small
integers (element kind, minimum, maximum, mandatory) plus the code sets and
syntax-note masks; :func:`first_unclean` runs the rules of a whole
transaction set in C.  The verdict for each segment is exactly the one of the
generated Python checker of :class:`hub.edi.x12.schema.Checkers` ("no finding
at all"); anything a rule cannot decide itself (composites, repeated
elements) is handed to a Python callable, as the generated checker does.
tests/x12/test_accel.py holds the two to the same verdicts.
"""

from cpython.unicode cimport Py_UNICODE_ISPRINTABLE

cdef enum:
    MAX_ELEMENTS = 64

# element kinds (hub/edi/x12/accel.py builds them)
cdef enum:
    K_AN = 1        # printable, no component/repetition separator, length min..max
    K_CODES = 2     # value in a code set
    K_NUMERIC = 3   # Nn: optional minus, digits (min..max of them)
    K_REAL = 4      # R: optional minus, digits with at most one decimal point
    K_DATE = 5      # DT: CCYYMMDD / YYMMDD, a real date
    K_TIME = 6      # TM: HHMM[SS[d[d]]]
    K_FREE = 7      # ID without a code list: no control character, no separator, length min..max
    K_BINARY = 8    # B: not checked
    K_CALL = 9      # a Python callable decides (composites, repeats)

# syntax note kinds
cdef enum:
    N_P = 1
    N_R = 2
    N_E = 3
    N_C = 4
    N_L = 5


cdef class SegmentRule:
    """The checks of one segment definition (see hub/edi/x12/accel.py for how it is built)."""

    cdef public bint always
    cdef int count
    cdef int last_mandatory
    cdef int kind[MAX_ELEMENTS]
    cdef int low[MAX_ELEMENTS]
    cdef int high[MAX_ELEMENTS]
    cdef bint mandatory[MAX_ELEMENTS]
    cdef list extra                 # code sets / callables, by element
    cdef int notes
    cdef int note_kind[MAX_ELEMENTS]
    cdef unsigned long long note_all[MAX_ELEMENTS]
    cdef unsigned long long note_first[MAX_ELEMENTS]

    def __init__(self, elements=None, notes=(), *, always=False):
        """``elements``: (kind, low, high, mandatory, extra) per position; ``notes``: (kind, positions)."""
        cdef int i = 0
        self.always = always
        self.extra = []
        self.count = 0
        self.last_mandatory = 0
        self.notes = 0
        if elements is None:
            return
        if len(elements) > MAX_ELEMENTS - 1 or len(notes) > MAX_ELEMENTS:
            raise ValueError("too many elements or notes for a compiled rule")
        for kind, low, high, mandatory, extra in elements:
            self.kind[i] = kind
            self.low[i] = low
            self.high[i] = high
            self.mandatory[i] = mandatory
            self.extra.append(extra)
            if mandatory:
                self.last_mandatory = i + 1
            i += 1
        self.count = i
        i = 0
        for kind, positions in notes:
            self.note_kind[i] = kind
            self.note_all[i] = 0
            for p in positions:
                if p < 1 or p >= MAX_ELEMENTS:
                    raise ValueError("syntax note position out of range")
                self.note_all[i] |= (<unsigned long long> 1) << p
            self.note_first[i] = (<unsigned long long> 1) << positions[0]
            i += 1
        self.notes = i

    cdef bint check(self, list seg, Py_UCS4 comp, Py_UCS4 rep) except -1:
        cdef Py_ssize_t n = len(seg) - 1
        cdef Py_ssize_t i
        cdef unsigned long long present = 0, m, rest
        cdef object value
        cdef int j, k
        if self.always:
            return True
        if n > self.count or n < self.last_mandatory:
            return False
        for i in range(n):
            value = seg[i + 1]
            if type(value) is not str:
                raise TypeError("segment elements must be str")
            if len(<str> value) == 0:
                if self.mandatory[i]:
                    return False
                continue
            present |= (<unsigned long long> 1) << (i + 1)
            if not _value_ok(self.kind[i], self.low[i], self.high[i], value, self.extra[i], comp, rep):
                return False
        for j in range(self.notes):
            m = present & self.note_all[j]
            k = self.note_kind[j]
            if k == N_P:
                if m != 0 and m != self.note_all[j]:
                    return False
            elif k == N_R:
                if m == 0:
                    return False
            elif k == N_E:
                if m & (m - 1):
                    return False
            elif k == N_C:
                if m & self.note_first[j]:
                    rest = self.note_all[j] & ~self.note_first[j]
                    if (m & rest) != rest:
                        return False
            elif k == N_L:
                if m & self.note_first[j]:
                    rest = self.note_all[j] & ~self.note_first[j]
                    if (m & rest) == 0:
                        return False
        return True


cdef inline bint _is_digit(Py_UCS4 c):
    return c >= 48 and c <= 57


cdef bint _value_ok(int kind, int low, int high, str value, object extra, Py_UCS4 comp, Py_UCS4 rep) except -1:
    cdef Py_ssize_t n = len(value), i, digits
    cdef Py_UCS4 c
    cdef int points
    if kind == K_CODES:
        return value in <frozenset> extra
    if kind == K_AN:
        if n < low or n > high:
            return False
        for c in value:
            if c == comp or c == rep or not Py_UNICODE_ISPRINTABLE(c):
                return False
        return True
    if kind == K_NUMERIC or kind == K_REAL:
        i = 1 if value[0] == u'-' else 0
        digits = 0
        points = 0
        while i < n:
            c = value[i]
            if _is_digit(c):
                digits += 1
            elif c == u'.' and kind == K_REAL and points == 0:
                points = 1
            else:
                return False
            i += 1
        return digits >= 1 and low <= digits <= high
    if kind == K_DATE or kind == K_TIME:
        if n < low or n > high:
            return False
        for c in value:
            if not _is_digit(c):
                return False
        if kind == K_DATE:
            return _valid_date(value, n)
        return _valid_time(value, n)
    if kind == K_FREE:
        if n < low or n > high:
            return False
        for c in value:
            if c == comp or c == rep or c < 0x20 or (0x7f <= c <= 0x9f):
                return False
        return True
    if kind == K_BINARY:
        return True
    if kind == K_CALL:
        return bool(extra(value))
    return False


cdef inline int _num(str value, Py_ssize_t start, Py_ssize_t length):
    cdef int out = 0
    cdef Py_ssize_t i
    for i in range(start, start + length):
        out = out * 10 + (<int> value[i] - 48)
    return out


cdef bint _valid_date(str value, Py_ssize_t n):
    cdef int year, month, day, days
    if n == 8:
        year = _num(value, 0, 4)
        month = _num(value, 4, 2)
        day = _num(value, 6, 2)
    elif n == 6:
        year = _num(value, 0, 2)
        year = 2000 + year if year < 50 else 1900 + year
        month = _num(value, 2, 2)
        day = _num(value, 4, 2)
    else:
        return False
    if year < 1 or month < 1 or month > 12 or day < 1:
        return False
    if month == 2:
        days = 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28
    elif month == 4 or month == 6 or month == 9 or month == 11:
        days = 30
    else:
        days = 31
    return day <= days


cdef bint _valid_time(str value, Py_ssize_t n):
    if n != 4 and n != 6 and n != 7 and n != 8:
        return False
    if _num(value, 0, 2) > 23 or _num(value, 2, 2) > 59:
        return False
    return n < 6 or _num(value, 4, 2) <= 59


def first_unclean(list segments, dict rules, str component, object repetition):
    """The index of the first segment whose rule finds something (or that has no rule); -1 when all are clean."""
    cdef Py_UCS4 comp = component[0]
    cdef Py_UCS4 rep = (<str> repetition)[0] if repetition else comp
    cdef Py_ssize_t i = 0
    cdef list seg
    cdef SegmentRule rule
    for item in segments:
        seg = item
        if len(seg) == 0:
            return i
        found = rules.get(seg[0])
        if found is None:
            return i
        rule = <SegmentRule> found
        if not rule.check(seg, comp, rep):
            return i
        i += 1
    return -1


def hl_links_clean(list segments, str tag, dict levels, object top):
    """The HL parent/level checks of hub.edi.x12.validate._hl_links_loop over the ``tag`` segments, in C."""
    cdef dict ids = {}
    cdef long last = 0, number
    cdef Py_ssize_t n
    cdef list seg
    cdef str hid, parent, level
    for item in segments:
        seg = item
        if len(seg) == 0 or seg[0] != tag:
            continue
        n = len(seg)
        hid = seg[1] if n > 1 else ""
        parent = seg[2] if n > 2 else ""
        level = seg[3] if n > 3 else ""
        if len(hid) == 0 or len(hid) > 18 or hid in ids:
            return False
        number = 0
        for c in hid:
            if not _is_digit(c):
                return False
            number = number * 10 + (<long> c - 48)
        if number <= last or (last == 0 and number != 1):
            return False
        last = number
        if parent:
            plevel = ids.get(parent)
            if plevel is None:
                return False
            if level in levels and plevel in levels and levels[level] <= levels[plevel]:
                return False
        elif level in levels and level not in top:
            return False
        ids[hid] = level
    return True


# transition kinds of hub.edi.x12.schema
cdef enum:
    T_REPEAT = 0
    T_MOVE = 1
    T_COMPLEX = 2
    T_ERROR = 3
    T_ENTER = 4
    T_ITERATE = 5


def walk_clean(list segments, list table, object step, Py_ssize_t loops):
    """The segment walk of hub.edi.x12.validate.X12Validator._run, verdict only, in C.

    ``table`` and ``step`` are the validator machine's (``table[state][tag]``
    is ``(next state, kind, arg, checkers, table[next state])``; ``step``
    fills a missing entry).  True when the walk meets no structural problem:
    no segment out of place (ERROR), no mandatory position skipped (a
    COMPLEX step with ``missing``), no segment over its maximum use, no loop
    over its repeat.  HL links are not checked here (hl_links_clean), nor the
    end of a set without SE (the caller).
    """
    cdef list counts = [0] * (loops + 1)
    cdef dict row = <dict> table[0]
    cdef object state = 0
    cdef long count = 0, n, limit
    cdef int kind
    cdef list seg
    cdef tuple t
    for item in segments:
        seg = item
        if len(seg) == 0:
            return False
        tag = seg[0]
        found = row.get(tag)
        if found is None:
            found = step(state, tag)
        t = <tuple> found
        kind = t[1]
        arg = t[2]
        if kind == T_MOVE:
            count = 1
        elif kind == T_REPEAT:
            count += 1
            limit = arg
            if limit and count > limit:
                return False
        elif kind == T_ENTER:
            count = 1
            counts[<Py_ssize_t> arg] = 1
        elif kind == T_ITERATE:
            count = 1
            n = counts[<Py_ssize_t> arg.index] + 1
            counts[<Py_ssize_t> arg.index] = n
            limit = arg.repeat
            if limit and n > limit:
                return False
        elif kind == T_COMPLEX:
            count = 1
            if arg.missing:
                return False
            loop = arg.loop
            if loop is not None:
                if arg.reset:
                    counts[<Py_ssize_t> loop.index] = 1
                else:
                    n = counts[<Py_ssize_t> loop.index] + 1
                    counts[<Py_ssize_t> loop.index] = n
                    limit = loop.repeat
                    if limit and n > limit:
                        return False
        else:
            return False
        state = t[0]
        row = <dict> t[4]
    return True
