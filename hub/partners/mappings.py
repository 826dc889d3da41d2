"""Checking the mappings a partner profile names: each must load (checked against its schema and the canonical
documents) and read or write the document type it is named for.

Kept apart from the profile loader so that reading a profile does not need the mapping engine; ``edihub partner
validate`` and the runtime call :func:`mapping_errors` before a profile is used.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.partners.profile import PartnerProfile


def mapping_errors(profile: PartnerProfile, search_path: Sequence[str] = ("mappings",)) -> list[str]:
    """``file:line: documents[i].mapping: problem`` for every mapping of ``profile`` that cannot be used."""
    from hub.mapping import MappingError, load_mapping

    errors: list[str] = []
    for i, doc in enumerate(profile.documents):
        if not doc.mapping:
            continue
        key = f"documents[{i}].mapping"
        where = f"{profile.where(key)}: {key}"
        try:
            mapping = load_mapping(doc.mapping, tuple(search_path))
        except MappingError as exc:
            first = exc.errors[0]
            more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
            errors.append(f"{where}: mapping {doc.mapping!r} does not load: {first}{more}")
            continue
        if mapping.transaction != doc.type:
            errors.append(f"{where}: mapping {doc.mapping!r} is for {mapping.transaction}, not {doc.type}")
        elif mapping.standard != doc.standard:
            errors.append(f"{where}: mapping {doc.mapping!r} is {mapping.standard}, the document is {doc.standard}")
    return errors
