"""A set of control numbers that stays small when the numbers come in sequence.

Duplicate control numbers must be found exactly, but a file of a million
transaction sets numbered 0001, 0002, ... should not keep a million strings.
:class:`SeenNumbers` keeps digit strings of one width as runs of consecutive
integers (a sorted list of run starts and their ends) and anything else in a
plain set, so memory grows with the number of *breaks* in the sequence, not
with the count.
"""

from __future__ import annotations

from bisect import bisect_right


class SeenNumbers:
    __slots__ = ("_width", "_starts", "_ends", "_other")

    def __init__(self) -> None:
        self._width: int | None = None  # the width of the digit strings kept as runs
        self._starts: list[int] = []  # sorted run starts
        self._ends: list[int] = []  # the last number of each run
        self._other: set[str] = set()

    def add(self, value: str) -> bool:
        """Add ``value``; True when it was already there."""
        if not (value.isascii() and value.isdigit()) or (self._width is not None and len(value) != self._width):
            if value in self._other:
                return True
            self._other.add(value)
            return False
        self._width = len(value)
        n = int(value)
        starts, ends = self._starts, self._ends
        if ends and n == ends[-1] + 1:  # the next number of the last run: the usual case
            ends[-1] = n
            return False
        i = bisect_right(starts, n) - 1  # the run starting at or before n
        if i >= 0 and n <= ends[i]:
            return True
        if i >= 0 and n == ends[i] + 1:  # extends run i, maybe joining run i + 1
            if i + 1 < len(starts) and starts[i + 1] == n + 1:
                ends[i] = ends[i + 1]
                del starts[i + 1], ends[i + 1]
            else:
                ends[i] = n
        elif i + 1 < len(starts) and starts[i + 1] == n + 1:  # extends run i + 1 downwards
            starts[i + 1] = n
        else:
            starts.insert(i + 1, n)
            ends.insert(i + 1, n)
        return False

    def __contains__(self, value: str) -> bool:
        if not (value.isascii() and value.isdigit()) or len(value) != self._width:
            return value in self._other
        n = int(value)
        i = bisect_right(self._starts, n) - 1
        return i >= 0 and n <= self._ends[i]

    def __len__(self) -> int:
        return len(self._other) + sum(e - s + 1 for s, e in zip(self._starts, self._ends, strict=True))
