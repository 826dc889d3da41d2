"""SeenNumbers finds exactly the duplicates a plain set finds, with little memory for sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.edi.seen import SeenNumbers

NUMBERS = st.one_of(
    st.integers(0, 60).map(lambda n: f"{n:04d}"),
    st.integers(0, 60).map(str),
    st.sampled_from(["", "A1", "0001 ", "٣", "99999"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(NUMBERS, max_size=120))
def test_same_answers_as_a_set(values):
    seen, plain = SeenNumbers(), set()
    for value in values:
        assert seen.add(value) == (value in plain)
        plain.add(value)
        assert value in seen
    assert len(seen) == len(plain)


def test_a_long_sequence_is_one_run():
    seen = SeenNumbers()
    assert not any(seen.add(f"{n:09d}") for n in range(1, 100_001))
    assert len(seen._starts) == 1 and len(seen) == 100_000
    assert seen.add("000050000")


def test_runs_join_when_a_gap_fills():
    seen = SeenNumbers()
    for n in (1, 2, 4, 5, 3):
        seen.add(f"{n:02d}")
    assert (seen._starts, seen._ends) == ([1], [5])
