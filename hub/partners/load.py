"""Reading partner profiles: YAML -> JSON Schema -> cross-field checks -> :class:`PartnerProfile`.

Every error names the file, the line and the key path::

    partner_profiles/acme.yaml:12: documents[0].direction: 'sideways' is not one of ['inbound', 'outbound']

Lines come from PyYAML's composed nodes (the line of the key for a mapping
entry, of the item for a list entry).  Nothing stops at the first error:
every problem of every file is collected, then raised as one
:class:`ProfileError`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from hub.partners.profile import (
    EDIFACT,
    SECRET_PATTERN,
    X12,
    PartnerProfile,
    build_profile,
    is_secret_reference,
    standard_of,
)

PathKey = tuple[str | int, ...]

PROFILE_SUFFIX = ".yaml"
DEFAULT_FOLDER = "partner_profiles"
"""The default of the ``partners.folder`` setting."""

# Keys whose value is a credential wherever they appear (whatever the channel type).
CREDENTIAL_KEY = re.compile(
    r"(^|_)(password|passphrase|passwd|secret|token|credentials?|private_key|api_key|apikey|access_key)$"
)
SECRET_HINT = "inline secret refused: use a '${ENV_NAME}' or 'file:/path' reference"

# Numbers YAML would make of codes and IDs are read as written (an unquoted 850 stays "850", 004010 stays
# "004010" instead of the octal 2056, a GLN keeps its digits); only these keys hold real numbers.
_NUMERIC_PATHS = (
    ("control_numbers",),
    ("acknowledgments", "expected_within_minutes"),
    ("schedule", "interval_seconds"),
    ("retry",),
    *(
        ("channels", direction, key)
        for direction in ("inbound", "outbound")
        for key in ("port", "min_age_seconds", "timeout_seconds", "retries", "retry_delay_seconds",
                    "mdn_overdue_seconds", "mdn_overdue_resends", "timeout", "attempts", "backoff_base",
                    "backoff_cap")
    ),
)


class ProfileError(ValueError):
    """One or more profiles are invalid; ``messages`` holds every ``file:line: key: problem`` line."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))

    @property
    def errors(self) -> list[str]:
        return self.messages


@cache
def profile_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a partner profile, shipped as ``hub/partners/profile.schema.json``."""
    text = resources.files("hub.partners").joinpath("profile.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(profile_schema())


def format_path(path: Iterable[str | int]) -> str:
    """``("documents", 0, "direction")`` -> ``documents[0].direction``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# ----------------------------------------------------------------- YAML nodes


class _Loader(yaml.SafeLoader):
    """Safe YAML whose mapping keys are the text written (``997: warning`` has the key "997")."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "a key must be text", key_node.start_mark
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


class _Source:
    """One YAML text: its data, the line of every key path and the raw text of every scalar."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.lines: dict[PathKey, int] = {}
        self.scalars: dict[PathKey, str] = {}
        self.errors: list[tuple[int, str]] = []
        self.data: Any = None
        try:
            loader = _Loader(text)
            try:
                node = loader.get_single_node()
                if node is None:
                    self.errors.append((1, "the file is empty; a profile is a mapping"))
                    return
                self._index(node, (), node.start_mark.line + 1, set())
                if self.errors:
                    return
                self.data = loader.construct_document(node)
            finally:
                loader.dispose()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            self.errors.append((line, f"YAML syntax: {problem}"))
            return
        except yaml.YAMLError as exc:
            self.errors.append((1, f"YAML syntax: {exc}"))
            return
        if not isinstance(self.data, dict):
            self.errors.append((1, "the top level must be a mapping of keys (id, name, identities...)"))
            self.data = None
            return
        self._coerce_codes()

    def _index(self, node: yaml.Node, path: PathKey, line: int, stack: set[int]) -> None:
        self.lines.setdefault(path, line)
        if id(node) in stack:
            self.errors.append((line, f"{format_path(path) or 'the document'}: an alias refers to itself"))
            return
        stack = stack | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
                if key in seen:
                    where = format_path(path + (key,))
                    self.errors.append((key_line, f"{where}: duplicate key (first at line {seen[key]})"))
                    continue
                seen[key] = key_line
                self._index(value_node, path + (key,), key_line, stack)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, path + (i,), item.start_mark.line + 1, stack)
        elif isinstance(node, yaml.ScalarNode):
            self.scalars[path] = node.value

    def _coerce_codes(self) -> None:
        """Numbers outside the numeric keys come back as the text written (codes and IDs are strings)."""
        for path, raw in self.scalars.items():
            if not path or any(path[: len(numeric)] == numeric for numeric in _NUMERIC_PATHS):
                continue
            parent = self.data
            try:
                for part in path[:-1]:
                    parent = parent[part]
                value = parent[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                parent[path[-1]] = raw

    def line(self, path: Iterable[str | int]) -> int:
        key = tuple(path)
        while key not in self.lines and key:
            key = key[:-1]
        return self.lines.get(key, 1)


# ------------------------------------------------------------------- checking


class _Errors:
    def __init__(self, source: _Source) -> None:
        self.source = source
        self.items: list[tuple[int, str, str]] = []

    def add(self, path: Iterable[str | int], message: str, line: int | None = None) -> None:
        path = tuple(path)
        where = format_path(path)
        self.items.append((self.source.line(path) if line is None else line, where, message))

    def lines(self) -> list[str]:
        out = []
        for line, where, message in sorted(set(self.items), key=lambda item: (item[0], item[1], item[2])):
            head = f"{self.source.name}:{line}: "
            out.append(f"{head}{where}: {message}" if where else f"{head}{message}")
        return out


def _schema_errors(data: dict[str, Any], errors: _Errors, secret_paths: set[PathKey]) -> None:
    for error in _validator().iter_errors(data):
        path: PathKey = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            known = error.schema.get("properties", {})
            for key in error.instance:
                if key not in known and path + (key,) not in secret_paths:
                    errors.add(path + (key,), f"unknown key (expected one of: {', '.join(known)})")
            continue
        if "propertyNames" in error.relative_schema_path:
            errors.add(
                path + (error.instance,), "not a finding code (upper-case letters, digits and _, e.g. SE01_COUNT)"
            )
            continue
        if path in secret_paths:
            continue
        if error.validator == "pattern" and error.validator_value == SECRET_PATTERN:
            errors.add(path, SECRET_HINT)  # never echo what may be a secret
            continue
        errors.add(path, error.message)


def _secret_errors(data: Any, path: PathKey, errors: _Errors, found: set[PathKey]) -> None:
    """Any credential-named key anywhere (any channel type, present or future) must hold a reference."""
    if isinstance(data, dict):
        for key, value in data.items():
            if path == () and key == "leniency":
                continue
            sub = path + (key,)
            if isinstance(key, str) and CREDENTIAL_KEY.search(key.lower()) and not isinstance(value, dict | list):
                if value is not None and not is_secret_reference(value):
                    errors.add(sub, SECRET_HINT)
                    found.add(sub)
                continue
            _secret_errors(value, sub, errors, found)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _secret_errors(value, path + (i,), errors, found)


def _id_error(data: dict[str, Any], stem: str | None, errors: _Errors) -> None:
    if stem is not None and isinstance(data.get("id"), str) and data["id"] != stem:
        errors.add(("id",), f"{data['id']!r} must equal the file name ({stem}{PROFILE_SUFFIX})")


def _semantic_errors(data: dict[str, Any], errors: _Errors) -> None:
    """What the schema cannot say: cross-field rules."""
    identities = data["identities"]
    seen: dict[tuple[str, str, str], int] = {}
    for i, doc in enumerate(data["documents"]):
        standard = standard_of(doc["type"])
        if standard not in identities:
            errors.add(
                ("documents", i, "type"),
                f"{doc['type']} is an {standard.upper()} document but identities.{standard} is missing",
            )
        key = (doc["type"], doc["direction"], doc["version"])
        if key in seen:
            errors.add(("documents", i), f"{' '.join(key)} is listed twice (also documents[{seen[key]}])")
        else:
            seen[key] = i
    syntax = data.get("syntax", {})
    x12 = syntax.get("x12")
    if x12 is not None:
        chars = {"element": "*", "component": ">", "repetition": "^", "segment": "~"}
        chars.update({k: v for k, v in x12.items() if k in chars})
        _distinct(chars, ("syntax", "x12"), errors)
    edifact = syntax.get("edifact")
    if edifact is not None and "una" in edifact:
        una = edifact["una"]
        path = ("syntax", "edifact", "una")
        if una[2] not in ".,":
            errors.add(path, f"the decimal mark (3rd character) must be '.' or ',', not {una[2]!r}")
        chars = {"component": una[0], "element": una[1], "release": una[3], "segment": una[5]}
        if una[4] != " ":
            chars["repetition"] = una[4]
        if any(c.isalnum() for c in chars.values()):
            errors.add(path, "service characters must not be letters or digits")
        _distinct(chars, path, errors, key_per_char=False)
    numbers = data.get("control_numbers", {})
    widths = {"interchange": 9, "group": 9, "transaction": 4}
    for name, default_width in widths.items():
        counter = numbers.get(name, {})
        width = counter.get("width", default_width)
        start = counter.get("start", 1)
        if start >= 10**width:
            errors.add(("control_numbers", name, "start"), f"{start} does not fit in {width} digit(s)")
        if X12 in identities and "width" in counter:
            limits = {"interchange": (9, 9), "group": (1, 9), "transaction": (4, 9)}[name]
            if not limits[0] <= width <= limits[1]:
                field = {"interchange": "ISA13", "group": "GS06", "transaction": "ST02"}[name]
                allowed = str(limits[0]) if limits[0] == limits[1] else f"{limits[0]} to {limits[1]}"
                errors.add(("control_numbers", name, "width"), f"{field} takes {allowed} digits, not {width}")
    _sftp_errors(data, errors)
    _as2_errors(data, errors)


def _as2_errors(data: dict[str, Any], errors: _Errors) -> None:
    """An outbound AS2 channel needs the partner's URL (inbound, the partner posts to ours)."""
    outbound = data["channels"]["outbound"]
    if outbound.get("type") == "as2" and not outbound.get("url"):
        errors.add(("channels", "outbound"), "an outbound as2 channel needs 'url' (where we POST)")


def _sftp_errors(data: dict[str, Any], errors: _Errors) -> None:
    """The hosted drop zone hands uploads to the pipeline through the partner's inbound folder channel."""
    if "sftp_account" in data and data["channels"]["inbound"].get("type") != "folder":
        errors.add(
            ("sftp_account",),
            "the hosted SFTP zone delivers uploads into the partner's inbound folder: channels.inbound must be "
            "of type folder",
        )


def _distinct(chars: dict[str, Any], path: PathKey, errors: _Errors, key_per_char: bool = True) -> None:
    owner: dict[str, str] = {}
    for name, char in chars.items():
        if char is None:
            continue
        if char in owner:
            where = path + (name,) if key_per_char else path
            errors.add(where, f"{name} {char!r} is the same character as {owner[char]}")
        else:
            owner[char] = name


def parse_profile(text: str, name: str, stem: str | None = None) -> PartnerProfile:
    """A profile from YAML ``text``; ``name`` is the file name used in messages, ``stem`` the expected id."""
    source = _Source(name, text)
    errors = _Errors(source)
    for line, message in source.errors:
        errors.add((), message, line=line)
    if source.data is not None:
        secret_paths: set[PathKey] = set()
        _secret_errors(source.data, (), errors, secret_paths)
        _schema_errors(source.data, errors, secret_paths)
        if not errors.items:
            _semantic_errors(source.data, errors)
        _id_error(source.data, stem, errors)
    if errors.items:
        raise ProfileError(errors.lines())
    lines = {format_path(path): line for path, line in source.lines.items() if path}
    return build_profile(source.data, source=name, lines=lines)


def load_profile(path: str | os.PathLike) -> PartnerProfile:
    """Read and check one ``<id>.yaml``; raises :class:`ProfileError` with every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError([f"{path}:1: not UTF-8 text ({exc.reason})"]) from exc
    except OSError as exc:
        raise ProfileError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    return parse_profile(text, str(path), stem=path.name[: -len(PROFILE_SUFFIX)] if path.suffix == ".yaml" else None)


def profile_files(folder: str | os.PathLike) -> list[Path]:
    """The ``*.yaml`` files of a profiles folder (hidden files left out), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ProfileError([f"{folder}: no such folder of partner profiles"])
    return sorted(p for p in folder.iterdir() if p.suffix == PROFILE_SUFFIX and not p.name.startswith("."))


def check_profiles(paths: Iterable[str | os.PathLike]) -> tuple[dict[str, PartnerProfile], list[str]]:
    """Load every file, then check them against each other: (valid profiles by id, every error line).

    A profile that clashes with an earlier one (same id, same sender identity)
    is reported naming both files and left out.
    """
    profiles: dict[str, PartnerProfile] = {}
    messages: list[str] = []
    owners: dict[tuple[str, str, str], PartnerProfile] = {}
    sftp_users: dict[str, PartnerProfile] = {}
    for path in paths:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            messages.extend(exc.messages)
            continue
        clash = []
        if profile.id in profiles:
            other = profiles[profile.id]
            clash.append(f"{profile.where('id')}: id: {profile.id!r} is already used by {other.where('id')}")
        for standard in (X12, EDIFACT):
            sender = profile.identities.sender(standard)
            if sender is None:
                continue
            key = (standard, *sender.key())
            other = owners.get(key)
            if other is not None and other.id != profile.id:
                where = f"identities.{standard}.sender"
                clash.append(
                    f"{profile.where(where)}: {where}: {standard.upper()} identity {sender} is already "
                    f"partner {other.id!r} ({other.where(where)})"
                )
        account = profile.sftp_account
        if account is not None:
            other = sftp_users.get(account.username)
            if other is not None and other.id != profile.id:
                clash.append(
                    f"{profile.where('sftp_account')}: sftp_account.username: {account.username!r} is already the "
                    f"login of partner {other.id!r} ({other.where('sftp_account')})"
                )
        if clash:
            messages.extend(clash)
            continue
        if account is not None:
            sftp_users[account.username] = profile
        profiles[profile.id] = profile
        for standard in (X12, EDIFACT):
            sender = profile.identities.sender(standard)
            if sender is not None:
                owners[(standard, *sender.key())] = profile
    return profiles, messages


def load_profiles(folder: str | os.PathLike = DEFAULT_FOLDER) -> dict[str, PartnerProfile]:
    """Every profile of ``folder`` by id; raises :class:`ProfileError` listing every file's errors."""
    profiles, messages = check_profiles(profile_files(folder))
    if messages:
        raise ProfileError(messages)
    return profiles


def find_partner(
    profiles: Mapping[str, PartnerProfile] | Iterable[PartnerProfile],
    standard: str,
    sender_qualifier: str | None,
    sender_id: str,
    *,
    active_only: bool = True,
) -> PartnerProfile | None:
    """The partner whose ``standard`` envelope sender is ``sender_qualifier``/``sender_id`` (X12 padding ignored).

    Inactive partners are skipped unless ``active_only`` is false.
    """
    values = profiles.values() if isinstance(profiles, Mapping) else profiles
    wanted = ((sender_qualifier or "").strip(), sender_id.strip())
    for profile in values:
        if active_only and not profile.active:
            continue
        sender = profile.identities.sender(standard)
        if sender is not None and sender.key() == wanted:
            return profile
    return None
