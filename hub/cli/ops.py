"""Operators' commands over the state store: status, files, transactions, reprocess, resend, acks, db.

Every listing takes ``--json`` (one JSON object on standard output) and prints
a readable table otherwise.  The store is the one of config.yaml
(``database.url``); ``-c`` names another config file.  Exit codes: 0 done,
1 an ID that does not exist or cannot be acted on, 2 the configuration or the
database cannot be used.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

from hub.config import ConfigError, load_config

_config_option = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
                              help="config.yaml to use.")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _store(config_path: str | None, *, upgrade: bool = True):
    from pathlib import Path

    from hub.errors import HubError
    from hub.store import open_store

    try:
        config = load_config(config_path)
        url = config["database"]["url"]
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return open_store(url, upgrade=upgrade)
    except (ConfigError, HubError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _when(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    text = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(headers)]
    widths = [min(w, 60) for w in widths]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in text:
        click.echo("  ".join(v[:60].ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _file_json(f: Any) -> dict[str, Any]:
    return {"id": f.id, "name": f.original_name, "partner": f.partner_id, "channel": f.channel, "sha256": f.sha256,
            "size": f.size, "state": f.state, "reason": f.reason, "received_at": _when(f.received_at),
            "attempts": f.attempts, "next_attempt_at": _when(f.next_attempt_at)}


def _tx_json(t: Any, *, canonical: bool = False) -> dict[str, Any]:
    out = {"id": t.id, "direction": t.direction, "partner": t.partner_id, "type": t.type,
           "control_number": t.control_number, "number": t.document_number, "state": t.state, "reason": t.reason,
           "file_id": t.file_id, "attempts": t.attempts, "next_attempt_at": _when(t.next_attempt_at),
           "updated_at": _when(t.updated_at)}
    if canonical:
        out["canonical"] = t.canonical
        out["findings"] = t.findings
    return out


def _ack_json(a: Any) -> dict[str, Any]:
    return {"id": a.id, "partner": a.partner_id, "direction": a.direction, "kind": a.kind,
            "interchange": a.interchange_control_number, "group": a.group_control_number,
            "transaction": a.transaction_control_number, "transaction_id": a.transaction_id, "result": a.result,
            "due_at": _when(a.due_at), "received_at": _when(a.received_at)}


# ------------------------------------------------------------------ status


@click.command("status")
@_config_option
@_json_option
def status(config_path: str | None, as_json: bool) -> None:
    """Counts of files and transactions by state and partner, of acknowledgments by result, of AS2 messages by
    MDN state."""
    store = _store(config_path)
    out = {
        "files": store.counts_by_state("file"),
        "transactions": store.counts_by_state("transaction"),
        "by_partner": {str(k): v for k, v in store.counts_by_partner("transaction").items()},
        "acknowledgments": store.ack_counts(),
        "as2_messages": store.as2_counts(),
    }
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo("files:        " + (", ".join(f"{k} {v}" for k, v in sorted(out["files"].items())) or "none"))
    click.echo("transactions: " + (", ".join(f"{k} {v}" for k, v in sorted(out["transactions"].items())) or "none"))
    states = sorted({s for counts in out["by_partner"].values() for s in counts})
    if states:
        _table([[p, *[counts.get(s, 0) for s in states]] for p, counts in sorted(out["by_partner"].items())],
               ["partner", *states])
    for direction, results in sorted(out["acknowledgments"].items()):
        click.echo(f"acks {direction}: " + ", ".join(f"{k} {v}" for k, v in sorted(results.items())))
    if out["as2_messages"]:
        click.echo("as2 messages: " + ", ".join(f"{k} {v}" for k, v in sorted(out["as2_messages"].items())))


# ------------------------------------------------------------------ files


@click.group("files")
def files() -> None:
    """Files received and sent: list, show."""


@files.command("list")
@click.option("--partner", "partner_id", help="Only this partner's files.")
@click.option("--state", help="Only files in this state (received, parsed, duplicate, failed, retry_wait...).")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@_config_option
@_json_option
def files_list(partner_id: str | None, state: str | None, limit: int, config_path: str | None, as_json: bool) -> None:
    """List files, newest first."""
    rows = _store(config_path).list_files(partner_id=partner_id, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps({"files": [_file_json(f) for f in rows]}, indent=2))
        return
    _table([[f.id, _when(f.received_at), f.partner_id, f.channel, f.original_name, f.state, f.reason] for f in rows],
           ["id", "received", "partner", "channel", "name", "state", "reason"])


@files.command("show")
@click.argument("file_id", type=int)
@_config_option
@_json_option
def files_show(file_id: int, config_path: str | None, as_json: bool) -> None:
    """One file: its record, its transactions and its event log."""
    from hub.store import NotFound

    store = _store(config_path)
    try:
        f = store.get_file(file_id)
    except NotFound:
        click.echo(f"error: no file {file_id}", err=True)
        sys.exit(1)
    txs = store.list_transactions(file_id=file_id, limit=10000, newest_first=False)
    events = store.events_for("file", file_id)
    out = {**_file_json(f), "transactions": [_tx_json(t) for t in txs],
           "events": [{"at": _when(e.at), "event": e.event, "detail": e.detail} for e in events]}
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    for key in ("id", "name", "partner", "channel", "sha256", "size", "state", "reason", "received_at"):
        click.echo(f"{key + ':':13} {out[key] if out[key] is not None else ''}")
    click.echo("transactions:")
    _table([[t.id, t.type, t.control_number, t.document_number, t.state, t.reason] for t in txs],
           ["id", "type", "control", "number", "state", "reason"])
    click.echo("events:")
    for e in events:
        click.echo(f"  {_when(e.at)}  {e.event}  {json.dumps(e.detail, default=str) if e.detail else ''}".rstrip())


# ------------------------------------------------------------------ transactions


@click.group("transactions")
def transactions() -> None:
    """Transaction sets and messages, inbound and outbound: list, show."""


@transactions.command("list")
@click.option("--partner", "partner_id", help="Only this partner's.")
@click.option("--state", help="Only in this state (parsed, mapped, delivered, acknowledged, failed, retry_wait...).")
@click.option("--type", "tx_type", help="Only this type (850, 855, ORDERS, 997...).")
@click.option("--direction", type=click.Choice(["inbound", "outbound"]), help="Only this direction.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@_config_option
@_json_option
def transactions_list(partner_id: str | None, state: str | None, tx_type: str | None, direction: str | None,
                      limit: int, config_path: str | None, as_json: bool) -> None:
    """List transactions, newest first."""
    rows = _store(config_path).list_transactions(partner_id=partner_id, state=state, type=tx_type,
                                                  direction=direction, limit=limit)
    if as_json:
        click.echo(json.dumps({"transactions": [_tx_json(t) for t in rows]}, indent=2))
        return
    _table([[t.id, t.direction, t.partner_id, t.type, t.control_number, t.document_number, t.state, t.reason]
            for t in rows], ["id", "dir", "partner", "type", "control", "number", "state", "reason"])


@transactions.command("show")
@click.argument("tx_id", type=int)
@_config_option
def transactions_show(tx_id: int, config_path: str | None) -> None:
    """One transaction as JSON: its record, canonical document, findings, deliveries and events."""
    from hub.store import NotFound

    store = _store(config_path)
    try:
        t = store.get_transaction(tx_id)
    except NotFound:
        click.echo(f"error: no transaction {tx_id}", err=True)
        sys.exit(1)
    out = _tx_json(t, canonical=True)
    out["deliveries"] = [{"adapter": d.adapter, "key": d.idempotency_key, "status": d.status, "at": _when(d.at),
                          "response": d.response} for d in store.deliveries_for(tx_id)]
    out["events"] = [{"at": _when(e.at), "event": e.event, "detail": e.detail} for e in store.events_for(
        "transaction", tx_id)]
    click.echo(json.dumps(out, indent=2, default=str))


# ------------------------------------------------------------------ reprocess, resend


def _resolve(store: Any, ids: Iterable[str]) -> list[tuple[str, int]]:
    out = []
    for raw in ids:
        entity = "transaction"
        text = raw
        if raw.startswith(("f", "F")) and raw[1:].isdigit():
            entity, text = "file", raw[1:]
        if not text.isdigit():
            click.echo(f"error: {raw!r} is not a transaction ID (123) or a file ID (f123)", err=True)
            sys.exit(1)
        out.append((entity, int(text)))
    return out


@click.command("reprocess")
@click.argument("ids", nargs=-1)
@click.option("--state", type=click.Choice(["failed", "retry_wait"]), help="Every item in this state.")
@click.option("--partner", "partner_id", help="With --state: only this partner's.")
@_config_option
@_json_option
def reprocess_command(ids: tuple[str, ...], state: str | None, partner_id: str | None, config_path: str | None,
                      as_json: bool) -> None:
    """Resume failed or waiting items from their last good state (the next run or serve picks them up).

    IDS are transaction IDs (123) or file IDs (f123); or --state failed
    [--partner ID] takes them all.  An item that is not failed or waiting is
    left alone, so running reprocess twice does nothing more.
    """
    from hub.runtime.pipeline import reprocess
    from hub.store import NotFound

    store = _store(config_path)
    if bool(ids) == bool(state):
        click.echo("error: give IDs or --state, not both and not neither", err=True)
        sys.exit(1)
    if state:
        items = [("file", f.id) for f in store.list_files(state=state, partner_id=partner_id, limit=1_000_000)]
        items += [("transaction", t.id) for t in store.list_transactions(state=state, partner_id=partner_id,
                                                                          limit=1_000_000)]
    else:
        items = _resolve(store, ids)
    results = []
    missing = False
    with click.progressbar(items, label="reprocess", file=sys.stderr,
                           hidden=as_json or len(items) < 50) as bar:
        for entity, item_id in bar:
            try:
                resumed = reprocess(store, entity, item_id)
            except NotFound:
                missing = True
                results.append({"entity": entity, "id": item_id, "resumed_at": None, "error": "not found"})
                continue
            results.append({"entity": entity, "id": item_id, "resumed_at": resumed})
    if as_json:
        click.echo(json.dumps({"reprocessed": results}, indent=2))
    else:
        for r in results:
            what = f"{r['entity']} {r['id']}"
            if r.get("error"):
                click.echo(f"{what}: {r['error']}")
            elif r["resumed_at"]:
                click.echo(f"{what}: resumes at {r['resumed_at']}")
            else:
                click.echo(f"{what}: not failed or waiting, left alone")
    sys.exit(1 if missing else 0)


@click.command("resend")
@click.argument("tx_id", type=int)
@_config_option
def resend_command(tx_id: int, config_path: str | None) -> None:
    """Send an outbound document or acknowledgment again (same bytes and control numbers) on the next run."""
    from hub.errors import HubError
    from hub.runtime.pipeline import resend
    from hub.store import NotFound

    store = _store(config_path)
    try:
        resend(store, tx_id)
    except NotFound:
        click.echo(f"error: no transaction {tx_id}", err=True)
        sys.exit(1)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"transaction {tx_id}: will be sent again")


# ------------------------------------------------------------------ acks


@click.group("acks")
def acks() -> None:
    """Acknowledgments sent, expected and received: list, overdue."""


@acks.command("overdue")
@_config_option
@_json_option
def acks_overdue(config_path: str | None, as_json: bool) -> None:
    """Expected acknowledgments (997/999/CONTRL for what we sent) past their due time; marks them overdue.

    Overdue AS2 MDNs are listed by ``edihub as2 mdns --state overdue``.
    """
    rows = _store(config_path).overdue_acks(mark=True)
    if as_json:
        click.echo(json.dumps({"overdue": [_ack_json(a) for a in rows]}, indent=2))
        return
    _table([[a.id, a.partner_id, a.kind, a.interchange_control_number, a.group_control_number,
             a.transaction_control_number, a.transaction_id, _when(a.due_at)] for a in rows],
           ["id", "partner", "kind", "interchange", "group", "set", "transaction", "due"])


@acks.command("list")
@click.option("--partner", "partner_id", help="Only this partner's.")
@click.option("--direction", type=click.Choice(["sent", "expected", "received"]), help="Only this direction.")
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@_config_option
@_json_option
def acks_list(partner_id: str | None, direction: str | None, limit: int, config_path: str | None,
              as_json: bool) -> None:
    """List acknowledgments."""
    rows = _store(config_path).list_acks(partner_id=partner_id, direction=direction, limit=limit)
    if as_json:
        click.echo(json.dumps({"acknowledgments": [_ack_json(a) for a in rows]}, indent=2))
        return
    _table([[a.id, a.partner_id, a.direction, a.kind, a.interchange_control_number, a.group_control_number,
             a.transaction_control_number, a.result, _when(a.due_at)] for a in rows],
           ["id", "partner", "dir", "kind", "interchange", "group", "set", "result", "due"])


# ------------------------------------------------------------------ db


@click.group("db")
def db() -> None:
    """The state store's schema."""


@db.command("upgrade")
@_config_option
def db_upgrade(config_path: str | None) -> None:
    """Migrate the store (database.url) to the newest schema; safe to run again and from several nodes."""
    from hub.store import current_revision

    store = _store(config_path, upgrade=False)
    before = store.current_revision()
    store.upgrade()
    after = current_revision(store.engine) if hasattr(store, "engine") else store.current_revision()
    click.echo(f"database at revision {after}" + (f" (was {before})" if before != after else " (up to date)"))
