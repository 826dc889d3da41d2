"""``edihub partner``: check, list and scaffold partner profiles (``partner_profiles/<id>.yaml``).

Exit codes: 0 every profile valid, 1 profile errors (each printed as
``file:line: key: problem``), 2 the folder or config.yaml cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.config import ConfigError, load_config

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_UNREADABLE = 2

_folder_option = click.option(
    "--folder",
    type=click.Path(file_okay=False),
    help="Folder of partner profiles (default: the partners.folder setting, partner_profiles).",
)
_config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(dir_okay=False), help="config.yaml to read partners.folder from."
)


def profiles_folder(folder: str | None, config_path: str | None) -> Path:
    """``--folder``, else the ``partners.folder`` setting, else ``partner_profiles``."""
    from hub.partners import DEFAULT_FOLDER

    if folder:
        return Path(folder)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    return Path((config.get("partners") or {}).get("folder") or DEFAULT_FOLDER)


def _files(folder: Path) -> list[Path]:
    from hub.partners import ProfileError, profile_files

    try:
        return profile_files(folder)
    except ProfileError as exc:
        for message in exc.messages:
            click.echo(f"error: {message}", err=True)
        sys.exit(EXIT_UNREADABLE)


@click.group("partner")
def partner() -> None:
    """Partner profiles: validate, list, add."""


@partner.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@_folder_option
@_config_option
@click.option("--mappings", "mappings_dir", default="mappings", show_default=True,
              help="Folder the profiles' mapping names are resolved in.")
def validate(files: tuple[str, ...], folder: str | None, config_path: str | None, mappings_dir: str) -> None:
    """Check partner profiles against the schema and each other, and load the mapping each document names.

    FILES default to every *.yaml of the profiles folder.  Every error is
    printed as FILE:LINE: KEY: PROBLEM; exit 1 when there is any, 2 when the
    folder does not exist.
    """
    from hub.partners import check_profiles
    from hub.partners.mappings import mapping_errors

    paths = [Path(f) for f in files] if files else _files(profiles_folder(folder, config_path))
    profiles, messages = check_profiles(paths)
    for pid in list(profiles):
        problems = mapping_errors(profiles[pid], (mappings_dir,))
        if problems:
            messages.extend(problems)
            del profiles[pid]
    for message in messages:
        click.echo(message)
    bad = len(paths) - len(profiles)
    if messages:
        click.echo(f"{len(messages)} error(s) in {bad} of {len(paths)} profile(s)")
        sys.exit(EXIT_ERRORS)
    click.echo(f"{len(profiles)} profile(s) valid")


@partner.command("list")
@click.option("--json", "as_json", is_flag=True, help='Print one JSON object {"partners": [...]}.')
@_folder_option
@_config_option
def list_partners(as_json: bool, folder: str | None, config_path: str | None) -> None:
    """List the partners: id, name, standards, documents and channels.

    Invalid profiles are left out and their errors printed on standard error
    (exit 1).
    """
    from hub.partners import check_profiles

    profiles, messages = check_profiles(_files(profiles_folder(folder, config_path)))
    ordered = [profiles[key] for key in sorted(profiles)]
    if as_json:
        click.echo(json.dumps({"partners": [p.to_json() for p in ordered]}, ensure_ascii=False))
    else:
        for p in ordered:
            state = "" if p.active else " (inactive)"
            docs = ", ".join(f"{d.type} {'in' if d.direction == 'inbound' else 'out'}" for d in p.documents)
            click.echo(f"{p.id}: {p.name}{state}")
            click.echo(f"  standards: {', '.join(p.standards)}")
            click.echo(f"  documents: {docs}")
            click.echo(
                f"  channels: inbound {p.channels.inbound.describe()}, outbound {p.channels.outbound.describe()}"
            )
    for message in messages:
        click.echo(message, err=True)
    sys.exit(EXIT_ERRORS if messages else EXIT_OK)


@partner.command("add")
@click.argument("partner_id", metavar="ID")
@click.option("--name", required=True, help="The partner's name.")
@click.option("--standard", required=True, type=click.Choice(["x12", "edifact"]), help="The standard spoken.")
@click.option("--sender-qualifier", help="ISA05 (X12, required) or UNB 0007 (EDIFACT) of the partner.")
@click.option("--sender-id", required=True, help="ISA06 or UNB 0004: the partner's interchange ID.")
@click.option("--our-qualifier", help="ISA07 / our UNB qualifier (default ZZ for X12, ZZZ for EDIFACT).")
@click.option("--our-id", default="EDIHUB", show_default=True, help="ISA08 / UNB 0010: our interchange ID.")
@click.option("--doc-version", help="Version of the documents (default 004010 for X12, D96A for EDIFACT).")
@_folder_option
@_config_option
def add(
    partner_id: str,
    name: str,
    standard: str,
    sender_qualifier: str | None,
    sender_id: str,
    our_qualifier: str | None,
    our_id: str,
    doc_version: str | None,
    folder: str | None,
    config_path: str | None,
) -> None:
    """Write a new profile ID.yaml: folder channels inbound/ID/ and outbound/ID/, the common mappings.

    Refuses to overwrite a profile, or to reuse another partner's identity.
    """
    from hub.partners import PROFILE_SUFFIX, ProfileError, check_profiles, parse_profile, render_profile

    if standard == "x12" and not sender_qualifier:
        click.echo("error: --sender-qualifier is required for x12 (ISA05, e.g. ZZ)", err=True)
        sys.exit(EXIT_UNREADABLE)
    target_folder = profiles_folder(folder, config_path)
    target = target_folder / f"{partner_id}{PROFILE_SUFFIX}"
    if target.exists():
        click.echo(f"error: {target} already exists; not overwritten", err=True)
        sys.exit(EXIT_ERRORS)
    text = render_profile(
        partner_id, name, standard, sender_qualifier, sender_id, our_qualifier, our_id, version=doc_version
    )
    try:
        new = parse_profile(text, str(target), stem=partner_id)
    except ProfileError as exc:
        for message in exc.messages:
            click.echo(message, err=True)
        click.echo(f"error: {target} not written", err=True)
        sys.exit(EXIT_ERRORS)
    if target_folder.is_dir():
        existing, _ = check_profiles(_files(target_folder))
        sender = new.identities.sender(standard)
        for other in existing.values():
            theirs = other.identities.sender(standard)
            if theirs is not None and sender is not None and theirs.key() == sender.key():
                where = f"identities.{standard}.sender"
                click.echo(
                    f"error: {standard.upper()} identity {sender} is already partner {other.id!r} "
                    f"({other.where(where)}); {target} not written",
                    err=True,
                )
                sys.exit(EXIT_ERRORS)
    try:
        target_folder.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        click.echo(f"error: {target} already exists; not overwritten", err=True)
        sys.exit(EXIT_ERRORS)
    except OSError as exc:
        click.echo(f"error: cannot write {target}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    click.echo(f"wrote {target}")
