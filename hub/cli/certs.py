"""``edihub certs list``: the AS2 certificates in use, soonest expiry first.

Ours come from ``as2.keys`` of config.yaml, the partners' from the
``certificates`` (and ``encrypt_certificate``) of their ``as2`` channels.
Exit codes: 0 listed (warnings included), 2 the configuration, a profile or a
certificate cannot be read.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from hub.config import ConfigError, load_config


def certificate_entries(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(label, certificate)`` for our keys and every partner's AS2 certificates (each listed once per label)."""
    from hub.as2 import load_certificates, load_key_pair
    from hub.partners import load_profiles
    from hub.partners.profile import As2Channel

    entries: list[tuple[str, Any]] = []
    for i, key in enumerate(config["as2"].get("keys") or []):
        pair = load_key_pair(key["key"], password=key.get("password"), cert=key.get("cert"))
        entries.append((f"ours[{i}] {config['as2'].get('as2_id') or ''}".rstrip(), pair.cert))
    seen: set[tuple[str, bytes]] = set()
    for pid, profile in sorted(load_profiles(config["partners"]["folder"]).items()):
        for channel in (profile.channels.inbound, profile.channels.outbound):
            if not isinstance(channel, As2Channel):
                continue
            refs = list(channel.certificates) + ([channel.encrypt_certificate] if channel.encrypt_certificate else [])
            for ref in refs:
                for cert in load_certificates(ref):
                    key_ = (pid, cert.fingerprint(_sha256()))
                    if key_ in seen:
                        continue
                    seen.add(key_)
                    entries.append((f"{pid} ({channel.as2_id})", cert))
    return entries


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


@click.group("certs")
def certs() -> None:
    """AS2 certificates: ours (as2.keys) and the partners' (their as2 channels)."""


@certs.command("list")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="config.yaml to use.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_command(config_path: str | None, as_json: bool) -> None:
    """Subject, SHA-256 fingerprint and expiry of every AS2 certificate; warns within as2.cert_warn_days."""
    from hub.as2 import list_certificates
    from hub.errors import HubError
    from hub.partners import ProfileError

    try:
        config = load_config(config_path)
        entries = certificate_entries(config)
    except ProfileError as exc:
        click.echo("error: partner profiles: " + "; ".join(exc.messages), err=True)
        sys.exit(2)
    except (ConfigError, HubError, ValueError, OSError, KeyError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    infos = list_certificates(entries, warn_days=int(config["as2"]["cert_warn_days"]))
    warnings = [i.warning for i in infos if i.warning]
    if as_json:
        click.echo(json.dumps({"certificates": [i.to_json() for i in infos], "warnings": warnings}, indent=2))
        return
    if not infos:
        click.echo("no AS2 certificates configured")
        return
    for info in infos:
        click.echo(f"{info.label}\n  subject      {info.subject}\n  fingerprint  {info.fingerprint_sha256}\n"
                   f"  not after    {info.not_after:%Y-%m-%d %H:%M:%S} UTC ({info.days_left} day(s), {info.status})")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
