"""``edihub partner``: check, list and scaffold partner profiles (``partner_profiles/<id>.yaml``).

Exit codes: 0 every profile valid, 1 profile errors (each printed as
``file:line: key: problem``), 2 the folder or config.yaml cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hub.config import ConfigError, load_config

if TYPE_CHECKING:
    from cryptography import x509

    from hub.partners.profile import As2Channel, SftpChannel

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


@partner.command("test-connection")
@click.argument("partner_id", metavar="ID")
@_folder_option
@_config_option
def test_connection(partner_id: str, folder: str | None, config_path: str | None) -> None:
    """Check a partner's channels: SFTP login, AS2 certificates and URL; takes and changes nothing.

    Each SFTP channel of profile ID (inbound and outbound; one login when both
    name the same server and user) is connected with the pinned host key and
    the profile's credentials, its folder is listed, and the server's host-key
    fingerprint, its version, the time to log in and the round-trip time of
    one request are printed.  For an AS2 channel our key pairs (as2.keys) and
    the partner's certificates are loaded and their subject and expiry printed
    (a warning within as2.cert_warn_days, a failure when expired), and the
    partner's URL (outbound) is asked with one HTTP GET: any HTTP answer means
    reachable.  Folder channels are only looked at.  Exit 0 when every channel
    answered, 1 with the reason when one did not (or ID is not a valid
    profile), 2 when the profiles folder or config.yaml cannot be read.
    """
    from hub.errors import HubError
    from hub.partners import check_profiles
    from hub.partners.profile import As2Channel, FolderChannel, SftpChannel

    profiles_dir = profiles_folder(folder, config_path)
    profiles, messages = check_profiles(_files(profiles_dir))
    profile = profiles.get(partner_id)
    if profile is None:
        for message in messages:
            if f"/{partner_id}.yaml:" in message or message.startswith(f"{partner_id}.yaml:"):
                click.echo(message)
        click.echo(f"error: no partner {partner_id!r} with a valid profile in {profiles_dir}")
        sys.exit(EXIT_ERRORS)
    failed = False
    logged_in: dict[tuple[str, int, str], str] = {}
    as2_checked: set[object] = set()
    for role, channel in (("inbound", profile.channels.inbound), ("outbound", profile.channels.outbound)):
        click.echo(f"{profile.id} {role}: {channel.describe()}")
        if isinstance(channel, As2Channel):
            try:
                config = load_config(config_path)
            except ConfigError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_UNREADABLE)
            failed = not _test_as2(channel, role, config["as2"], as2_checked) or failed
            continue
        if isinstance(channel, FolderChannel):
            path = Path(channel.path)
            if path.is_dir():
                count = sum(1 for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
                click.echo(f"  folder exists, {count} file(s)")
            else:
                click.echo("  folder does not exist yet (the hub creates it when it starts)")
            continue
        if not isinstance(channel, SftpChannel):
            click.echo(f"  no connection test for {channel.type!r} channels")
            continue
        try:
            _test_sftp(channel, role, logged_in)
        except HubError as exc:
            click.echo(f"  FAILED: {exc}")
            failed = True
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


def _test_sftp(channel: SftpChannel, role: str, logged_in: dict[tuple[str, int, str], str]) -> None:
    import fnmatch
    import stat
    import time

    from hub.transports.sftp import SftpConnection, _status_fault

    conn = SftpConnection.open(channel)
    key = (channel.host, channel.port, channel.user)
    try:
        if key not in logged_in:
            logged_in[key] = role
            click.echo(f"  host key: {conn.host_key.get_name()} {conn.host_key_fingerprint} (the pinned key)")
            click.echo(f"  server: {conn.server_version}")
            click.echo(f"  logged in as {channel.user} in {conn.connect_seconds * 1000:.0f} ms")
        started = time.perf_counter()
        try:
            conn.sftp.stat(channel.folder)
            rtt = time.perf_counter() - started
            started = time.perf_counter()
            entries = conn.sftp.listdir_attr(channel.folder)
        except OSError as exc:
            raise _status_fault(f"cannot list {channel.folder}", exc) from exc
        listed = time.perf_counter() - started
        files = [e for e in entries if stat.S_ISREG(e.st_mode or 0)]
        if role == "inbound":
            waiting = [e for e in files if fnmatch.fnmatchcase(e.filename, channel.pattern)]
            what = f"{len(waiting)} file(s) matching {channel.pattern!r}"
        else:
            what = f"{len(files)} file(s)"
        click.echo(f"  {channel.folder}: {what}; round trip {rtt * 1000:.1f} ms, listing {listed * 1000:.1f} ms")
    finally:
        conn.close()


def _test_as2(channel: As2Channel, role: str, as2_config: dict, checked: set[object]) -> bool:
    """Our key pairs (once), the partner's certificates (each once) and, outbound, the URL; False on a failure."""
    from hub.as2 import identity_from_config, load_certificates
    from hub.errors import HubError

    ok = True
    warn_days = int(as2_config.get("cert_warn_days") or 30)
    if "ours" not in checked:
        checked.add("ours")
        if not as2_config.get("as2_id") or not as2_config.get("keys"):
            click.echo("  FAILED: our AS2 identity is not configured (as2.as2_id and as2.keys in config.yaml)")
            ok = False
        else:
            try:
                identity = identity_from_config(as2_config)
            except (HubError, ValueError, KeyError, OSError) as exc:
                click.echo(f"  FAILED: our key (as2.keys): {exc}")
                ok = False
            else:
                for i, pair in enumerate(identity.keys):
                    ok = _report_certificate(f"our key [{i}] {identity.as2_id}", pair.cert, warn_days) and ok
    refs = list(channel.certificates) + ([channel.encrypt_certificate] if channel.encrypt_certificate else [])
    for ref in refs:
        try:
            certs = load_certificates(ref)
        except (HubError, ValueError, KeyError, OSError) as exc:
            click.echo(f"  FAILED: certificate {ref}: {exc}")
            ok = False
            continue
        for cert in certs:
            if cert in checked:
                continue
            checked.add(cert)
            ok = _report_certificate(f"{channel.as2_id} certificate", cert, warn_days) and ok
    if role == "outbound" and channel.url:
        ok = _reach(channel) and ok
    elif role == "inbound":
        click.echo("  the partner posts to our endpoint (as2.port of config.yaml; as2.public_url is the address "
                   "they were given)")
    return ok


def _report_certificate(label: str, cert: x509.Certificate, warn_days: int) -> bool:
    from hub.as2 import describe_certificate

    info = describe_certificate(cert, label=label, warn_days=warn_days)
    line = f"  {label}: {info.subject}, not after {info.not_after:%Y-%m-%d} ({info.days_left} day(s))"
    if info.status in ("expired", "not-yet-valid"):
        click.echo(f"{line}\n  FAILED: {info.warning}")
        return False
    click.echo(line + (f"\n  warning: {info.warning}" if info.warning else ""))
    return True


def _reach(channel: As2Channel) -> bool:
    """One HTTP GET to the partner's AS2 URL: any HTTP status means something answers there."""
    import time

    import httpx

    timeout = min(float(channel.timeout), 30.0)
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(str(channel.url), headers=dict(channel.http_headers))
    except httpx.TimeoutException:
        click.echo(f"  FAILED: {channel.url}: no answer within {timeout:g} s")
        return False
    except httpx.HTTPError as exc:
        click.echo(f"  FAILED: cannot reach {channel.url}: {type(exc).__name__}: {exc}")
        return False
    elapsed = (time.perf_counter() - started) * 1000
    click.echo(f"  {channel.url}: reachable, HTTP {response.status_code} in {elapsed:.0f} ms")
    return True
