"""``edihub as2``: the AS2 messages we sent and the MDNs that answered them (sync and async).

Read from the store (``database.url``): one row per message, with its MDN's
disposition, whether the MIC matched, whether it was signed, and the sha256
under which the MDN's raw bytes are archived.  ``--state pending`` lists the
async MDNs still awaited, ``--state overdue`` those reported late (see
``mdn_overdue_action`` in ``hub/as2/README.md``), ``--state post-failed``
those whose POST failed and that the transaction's retry posts again.
Every other MDN the endpoint got -- a second one for a message already
answered, one refused while being read, one for no message of ours -- is an
event (``as2 show``, ``as2 events``) naming its archived bytes (``as2 raw``).
Exit codes: 0 done, 1 no such message (or no MDN to print), 2 the
configuration or the database cannot be used.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from hub.cli.ops import _config_option, _json_option, _store, _table, _when

STATES = ("pending", "overdue", "delivered", "rejected", "mdn-invalid", "sent", "post-failed")


def message_json(m: Any) -> dict[str, Any]:
    return {"id": m.id, "message_id": m.message_id, "partner": m.partner_id, "partner_as2_id": m.partner_as2_id,
            "our_as2_id": m.our_as2_id, "transaction_id": m.transaction_id, "filename": m.filename,
            "mdn": m.mdn_mode, "state": m.state, "sent_at": _when(m.sent_at), "sends": m.sends,
            "last_sent_at": _when(m.last_sent_at), "due_at": _when(m.due_at), "signed": m.signed,
            "encrypted": m.encrypted, "compressed": m.compressed, "size": m.size,
            "mdn_message_id": m.mdn_message_id, "mdn_received_at": _when(m.mdn_received_at),
            "disposition": m.disposition, "mic_matched": m.mic_matched, "mdn_signed": m.mdn_signed,
            "mdn_sha256": m.mdn_sha256, "mdn_size": m.mdn_size, "problems": m.problems, "post_error": m.post_error}


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


@click.group("as2")
def as2() -> None:
    """AS2 messages sent and their MDNs: mdns, show, events, raw."""


@as2.command("mdns")
@click.option("--partner", "partner_id", help="Only this partner's.")
@click.option("--state", type=click.Choice(STATES), help="Only in this state (pending: async MDN awaited; overdue: "
                                                          "reported late; post-failed: the retry posts it again).")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@_config_option
@_json_option
def mdns(partner_id: str | None, state: str | None, limit: int, config_path: str | None, as_json: bool) -> None:
    """List the AS2 messages we sent and their MDNs, newest first: disposition, MIC matched, signed."""
    rows = _store(config_path).list_as2_messages(partner_id=partner_id, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps({"messages": [message_json(m) for m in rows]}, indent=2))
        return
    _table([[m.id, _when(m.sent_at), m.partner_id, m.message_id, m.mdn_mode, m.state, m.disposition,
             _yes_no(m.mic_matched), _yes_no(m.mdn_signed), m.sends,
             _when(m.mdn_received_at) or (_when(m.due_at) if m.state in ("pending", "overdue") else None)]
            for m in rows],
           ["id", "sent", "partner", "message-id", "mdn", "state", "disposition", "mic", "signed", "sends",
            "mdn at / due"])


@as2.command("show")
@click.argument("message_id")
@click.option("--raw", is_flag=True, help="Write the MDN exactly as received (HTTP headers, then body) to stdout.")
@_config_option
@_json_option
def show(message_id: str, raw: bool, config_path: str | None, as_json: bool) -> None:
    """One AS2 message by Message-ID: its record, its MDN and its event log (--raw: the MDN's bytes)."""
    store = _store(config_path)
    m = store.as2_message(message_id)
    if m is None:
        click.echo(f"error: no AS2 message {message_id!r}", err=True)
        sys.exit(1)
    if raw:
        if m.mdn_sha256 is None:
            click.echo(f"error: AS2 message {m.message_id} has no MDN ({m.state})", err=True)
            sys.exit(1)
        _write_archived(config_path, m.mdn_sha256)
        return
    out = message_json(m)
    out["events"] = [{"at": _when(e.at), "event": e.event, "detail": e.detail}
                     for e in store.events_for("as2_message", m.id)]
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    for key, value in out.items():
        if key != "events":
            click.echo(f"{key + ':':17} {'' if value is None else value}")
    click.echo("events:")
    for e in out["events"]:
        click.echo(f"  {e['at']}  {e['event']}  {json.dumps(e['detail'], default=str) if e['detail'] else ''}"
                   .rstrip())


@as2.command("events")
@click.option("--partner", "partner_id", help="Only this partner's.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@_config_option
@_json_option
def events(partner_id: str | None, limit: int, config_path: str | None, as_json: bool) -> None:
    """The AS2 event log, newest first: sends, MDNs (first, again, refused), resends, overdue -- also of the MDNs
    that name no message of ours (message-id empty).  --json (or as2 show) gives every detail, such as the sha256
    of an MDN's bytes for as2 raw."""
    rows = _store(config_path).as2_events(partner_id=partner_id, limit=limit)
    out = [{"at": _when(e.at), "event": e.event, "detail": e.detail,
            "message_id": message_id or (e.detail.get("message_id") if isinstance(e.detail, dict) else None)}
           for e, message_id in rows]
    if as_json:
        click.echo(json.dumps({"events": out}, indent=2, default=str))
        return
    _table([[e["at"], e["message_id"], e["event"], _summary(e["detail"])] for e in out],
           ["at", "message-id", "event", "detail"])


def _summary(detail: Any) -> str:
    if not isinstance(detail, dict):
        return "" if detail is None else str(detail)
    keys = ("partner", "disposition", "state", "error")
    return " ".join(f"{k}={detail[k]}" for k in keys if detail.get(k) is not None)


@as2.command("raw")
@click.argument("sha256")
@_config_option
def raw_mdn(sha256: str, config_path: str | None) -> None:
    """Write an MDN kept in the archive (a sha256 that as2 show or as2 events names) exactly as received: HTTP
    headers, then body."""
    if not _store(config_path).as2_mdn_known(sha256):
        click.echo(f"error: no MDN {sha256!r} is named by an AS2 message or event", err=True)
        sys.exit(1)
    _write_archived(config_path, sha256.strip().lower())


def _write_archived(config_path: str | None, sha256: str) -> None:
    from hub.config import load_config
    from hub.store import Archive

    archive = Archive(load_config(config_path)["folders"]["archive"])
    try:
        data = archive.read_bytes(sha256)
    except OSError as exc:
        click.echo(f"error: MDN {sha256} not in the archive: {exc}", err=True)
        sys.exit(1)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
