"""Hypothesis strategies for canonical documents, derived from the same type hints as the schemas."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from functools import cache
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st

from hub.canonical.documents import DOCUMENT_CLASSES, ShipNoticeLine
from hub.canonical.model import Model, _split

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_times = st.times().map(lambda t: time(t.hour, t.minute, t.second))


def _decimal_strategy() -> st.SearchStrategy[Decimal]:
    """Decimals as EDI carries them: up to 13 digits, 0-4 decimal places, trailing zeros kept."""
    units = st.integers(-(10**12), 10**12)
    return st.builds(lambda n, scale: Decimal(n).scaleb(-scale), units, st.integers(0, 4))


def for_hint(hint: Any) -> st.SearchStrategy[Any]:
    base, extra = _split(hint)
    origin = get_origin(base)
    if origin is list:
        (item,) = get_args(base)
        return st.lists(for_hint(item), max_size=2)
    if isinstance(base, type) and issubclass(base, Model):
        return for_model(base)
    if origin is Literal:
        return st.sampled_from(get_args(base))
    if base is bool:
        return st.booleans()
    if base is int:
        return st.integers(min_value=extra.get("minimum", -(10**6)), max_value=10**6)
    if base is str:
        return st.from_regex(extra["pattern"], fullmatch=True) if "pattern" in extra else _text
    if base is Decimal:
        return _decimal_strategy()
    if base.__name__ == "date":
        return st.dates()
    if base is time:
        return _times
    raise TypeError(base)


@cache
def for_model(cls: type[Model]) -> st.SearchStrategy[Any]:
    kwargs = {}
    for info in cls._fields():
        strategy = for_hint(info.hint)
        if not info.required and not info.is_list:
            strategy = st.none() | strategy
        kwargs[info.name] = strategy
    return st.builds(cls, **kwargs)


def documents(name: str) -> st.SearchStrategy[Any]:
    return for_model(DOCUMENT_CLASSES[name])


__all__ = ["ShipNoticeLine", "documents", "for_model"]
