"""The pipeline: partner files in, canonical documents to the ERP, acknowledgments and outbound documents out.

One :class:`Pipeline` holds the store, the archive, the partner profiles, the
transports (one per partner channel) and the ERP adapter.  Its steps are small
and each one writes its state to the store *before* its side effect, so that a
crash anywhere resumes where it stopped and nothing is done twice
(``../shared/DESIGN.md``, "The flow of one file"):

intake (per transport file)
    stream the bytes into the content-addressed archive, ``record_file`` (state
    ``received``; the same bytes from the same partner are a duplicate and are
    not processed again), then settle the source file.  A crash before the
    commit leaves the file in the drop zone; after it, the next poll finds a
    duplicate and settles it.
parse (claimed files in ``received``)
    read the archived bytes, check that every interchange's sender and receiver
    are the identities of the partner the channel belongs to (a mismatch fails
    the file: no partner can submit as another), refuse an interchange control
    number seen within the duplicate window, validate, build the functional
    acknowledgment (997/999/TA1 or CONTRL, as the profile says), and record in
    one transaction: the interchanges, groups and transactions (``parsed``,
    or ``failed`` when the acknowledgment rejects them), the acknowledgment as
    an outbound transaction ready to send (its bytes archived first) and the
    file ``parsed``.  Inbound 997/999/TA1/CONTRL are reconciled with what we
    sent instead of being mapped.
map (inbound transactions in ``parsed``)
    the partner's mapping -> canonical JSON, stored with the state ``mapped``.
deliver (inbound transactions in ``mapped``)
    ``ErpAdapter.post`` with an idempotency key fixed per transaction, then
    ``delivered``.  A crash between the two re-posts with the same key: the ERP
    answers duplicate and nothing is delivered twice.
outbound (the ERP's outbound documents)
    each item, unless its id was taken before, is rendered with control numbers
    from the store's counters; its bytes are archived and the outbound
    transaction (``mapped``) and the ERP item id are recorded in one database
    transaction; then the ERP item is settled.
send (outbound transactions in ``mapped``)
    the archived bytes go to the partner's outbound channel under a name fixed
    per transaction (a resend after a crash rewrites the same file), then
    ``delivered``; an acknowledgment is expected within the profile's SLA.
    By AS2, the retry of a send whose POST failed posts the same message again
    (same Message-ID, same bytes), and an async MDN that refused the message
    before it was marked ``delivered`` fails it there and then.
sweep
    expected acknowledgments past their due time are marked overdue; AS2
    messages whose async MDN is overdue (``mdn_overdue_seconds``) are sent
    again or reported, as the partner's ``mdn_overdue_action`` says
    (:meth:`Pipeline.sweep_overdue_mdns`).

Transient faults (:class:`~hub.errors.TransientError`) park the item in
``retry_wait`` with exponential backoff (``runtime.retry_*``), terminal ones
(:class:`~hub.errors.TerminalError`, mapping errors, bad data) fail it with the
reason until ``edihub reprocess``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hub.edi.core import ERROR, Finding
from hub.edi.sniff import EDIFACT, X12, sniff_bytes
from hub.errors import HubError, TerminalError, TransientError
from hub.partners.leniency import apply_leniency
from hub.partners.profile import PartnerProfile
from hub.store import Archive, Store
from hub.store.models import (
    AckDirection,
    Acknowledgment,
    Delivery,
    Direction,
    Event,
    File,
    GroupRow,
    InterchangeRow,
    State,
    TransactionRow,
    utcnow,
)

log = logging.getLogger("edihub.pipeline")

FUNCTIONAL_ACK_TYPES = {"997", "999", "CONTRL"}
ACK_FILE_EXT = {X12: "x12", EDIFACT: "edi"}
OUTBOUND_KEY_ADAPTER = "erp-outbound"  # deliveries rows that remember which ERP outbound items were taken


class PipelineError(TerminalError):
    """A step that cannot go on for this item (the message names the file, partner and reason)."""


@dataclass
class Settings:
    """The ``runtime`` section of config.yaml, with the defaults of ``hub.config``."""

    worker_id: str = ""
    lease_seconds: float = 300
    retry_base_seconds: float = 30
    retry_max_seconds: float = 3600
    max_attempts: int = 10
    duplicate_window_days: int = 30
    settle_seconds: float = 2
    mappings: tuple[str, ...] = ("mappings",)
    as2: Mapping[str, Any] = field(default_factory=dict)
    """The ``as2`` section of config.yaml (our identity and keys, for partners with ``as2`` channels)."""

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1``: base x 2^attempts, capped."""
        return float(min(self.retry_max_seconds, self.retry_base_seconds * (2 ** max(0, attempts))))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        rt = config.get("runtime", {})
        worker = rt.get("worker_id") or f"{socket.gethostname()}-{os.getpid()}"
        return cls(
            worker_id=worker,
            lease_seconds=float(rt.get("lease_seconds", 300)),
            retry_base_seconds=float(rt.get("retry_base_seconds", 30)),
            retry_max_seconds=float(rt.get("retry_max_seconds", 3600)),
            max_attempts=int(rt.get("max_attempts", 10)),
            duplicate_window_days=int(rt.get("duplicate_window_days", 30)),
            settle_seconds=float(config.get("folders", {}).get("settle_seconds", 2)),
            mappings=(str(config.get("partners", {}).get("mappings", "mappings")),),
            as2=dict(config.get("as2", {})),
        )


@dataclass
class RunReport:
    """What one pass did: counts per step, for the CLI and the tests."""

    received: int = 0
    duplicates: int = 0
    parsed: int = 0
    mapped: int = 0
    delivered: int = 0
    outbound: int = 0
    sent: int = 0
    acks_matched: int = 0
    failed: int = 0
    retries: int = 0
    overdue: int = 0
    mdns_resent: int = 0
    mdns_overdue: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RunReport) -> None:
        for f in fields(self):
            if f.name != "errors":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.errors.extend(other.errors)

    @property
    def busy(self) -> bool:
        quiet = ("errors", "duplicates", "overdue", "mdns_resent", "mdns_overdue")
        return any(getattr(self, f.name) for f in fields(self) if f.name not in quiet)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _StoreCounter:
    """``ControlCounter`` for ``hub.mapping.render`` backed by the store's per-partner counters."""

    def __init__(self, store: Store, profile: PartnerProfile) -> None:
        self.store, self.profile = store, profile

    def take(self, kind: str) -> int:
        policy = getattr(self.profile.control_numbers, kind)
        width_max = 10 ** policy.width - 1
        return self.store.next_control_number(self.profile.id, kind, start=policy.start,
                                              maximum=min(width_max, 999_999_999))


def _endpoint_key(qualifier: str | None, value: str | None) -> tuple[str, str]:
    return ((qualifier or "").strip(), (value or "").strip())


class Pipeline:
    """The hub's steps over one store; see the module docstring."""

    def __init__(
        self,
        store: Store,
        archive: Archive,
        profiles: Mapping[str, PartnerProfile],
        erp: Any,
        settings: Settings | None = None,
        *,
        transports: Mapping[str, Any] | None = None,
        clock: Callable[[], _dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.archive = archive
        self.profiles = dict(profiles)
        self.erp = erp
        self.settings = settings or Settings(worker_id=f"{socket.gethostname()}-{os.getpid()}")
        self.clock = clock
        self.transports: dict[str, Any] = dict(transports) if transports is not None else self._folder_transports()
        self.as2_mdns = self._as2_registry()
        """The AS2 messages we send and their MDNs, in the store (shared with the AS2 endpoint of ``serve``)."""
        self._mappings: dict[str, Any] = {}
        self.stop_requested = False  # set by a graceful shutdown: finish the item in hand, take no new one
        self._parsed: tuple[str, dict[tuple[int, str | None, str], Any]] | None = None
        self._rows: dict[tuple[str, int], Any] = {}  # fixed columns of files and interchanges, see _fixed_row

    # ------------------------------------------------------------------ set-up

    def _folder_transports(self) -> dict[str, Any]:
        """One transport per partner from its profile's channels (folder drop zones, SFTP servers)."""
        from hub.transports import build_transport

        return {pid: build_transport(p, settle_seconds=self.settings.settle_seconds, as2_config=self.settings.as2)
                for pid, p in self.profiles.items()}

    def _as2_registry(self) -> Any:
        """The store-backed async-MDN registry, given to every AS2 transport that has none yet."""
        from hub.transports.as2 import StoreMdnRegistry

        registry = StoreMdnRegistry(self.store, self.archive)
        for transport in self.transports.values():
            out = self._as2_transport(transport)
            if out is not None and out.registry is None:
                out.registry = registry
        return registry

    @staticmethod
    def _as2_transport(transport: Any) -> Any:
        from hub.transports.as2 import As2Transport

        out = getattr(transport, "outbound_transport", transport)
        return out if isinstance(out, As2Transport) else None

    def close(self) -> None:
        for transport in self.transports.values():
            transport.close()

    def mapping(self, name: str) -> Any:
        from hub.mapping import load_mapping

        if name not in self._mappings:
            self._mappings[name] = load_mapping(name, self.settings.mappings)
        return self._mappings[name]

    # ------------------------------------------------------------------ one pass

    def run_once(self, *, poll: bool = True) -> RunReport:
        """Every step once over everything that is ready; returns what was done."""
        report = RunReport()
        if poll:
            for pid in sorted(self.transports):
                self.poll_partner(pid, report)
        self.parse_ready(report)
        self.map_ready(report)
        self.fetch_outbound(report)
        self.forward_ready(report)
        self.sweep_overdue(report)
        return report

    def run_until_idle(self, *, max_passes: int = 100, wait: Callable[[float], None] | None = None) -> RunReport:
        """Passes until one does nothing (files still settling are waited for when ``wait`` is given)."""
        total = RunReport()
        for _ in range(max_passes):
            r = self.run_once()
            total.add(r)
            if r.busy:
                continue
            pending = [t.next_check_in() for t in self.transports.values() if hasattr(t, "next_check_in")]
            # files still settling are waited for; a redelivery horizon (minutes) is not
            horizon = max(5.0, 2 * self.settings.settle_seconds)
            pending = [p for p in pending if p is not None and p <= horizon]
            if wait is None or not pending:
                break
            wait(min(pending) + 0.05)
        return total

    # ------------------------------------------------------------------ intake

    def poll_partner(self, partner_id: str, report: RunReport) -> None:
        transport = self.transports[partner_id]
        profile = self.profiles[partner_id]
        try:
            items = transport.poll()
        except HubError as exc:  # a server down, or a host key / login refused: this partner only, reported
            report.errors.append(f"partner {partner_id}: polling its inbound channel: {exc}")
            return
        for item in items:
            if self.stop_requested:
                break
            try:
                self.intake(profile, transport, item, report)
            except TransientError as exc:
                report.errors.append(f"partner {partner_id}: {item.name}: {exc}")
                if hasattr(transport, "release"):
                    transport.release(item)
            except (TerminalError, FileNotFoundError) as exc:
                # gone before it was read: another worker polling the same drop zone took it (its store record
                # decides); anything else terminal stays in the drop zone for a person, reported here
                if "vanished" not in str(exc) and not isinstance(exc, FileNotFoundError):
                    report.errors.append(f"partner {partner_id}: {item.name}: {exc}")

    def intake(self, profile: PartnerProfile, transport: Any, item: Any, report: RunReport) -> int:
        """Archive, record, settle: returns the file id."""
        with item.open() as fh:
            sha = self.archive.put_stream(fh)
        channel = profile.channels.inbound.describe()[:32]
        row, duplicate = self.store.record_file(sha, item.size, channel, item.name, profile.id)
        transport.settle(item)
        if duplicate:
            report.duplicates += 1
            log.info("partner %s: %s: same bytes as file %s, not processed again", profile.id, item.name, row.id)
        else:
            report.received += 1
        return row.id

    # ------------------------------------------------------------------ claiming helper

    def _each_claimed(self, entity: str, states: str | Iterable[str], report: RunReport,
                      step: Callable[[int], bool | None], *, batch: int = 20) -> None:
        """Claim items in ``states`` a batch at a time and run ``step`` on each; the claim is released after the
        step, unless the step says (returns True) that its last state change released it already."""
        worker = self.settings.worker_id
        while not self.stop_requested:
            ids = self.store.claim(entity, states, worker, limit=batch, lease_seconds=self.settings.lease_seconds,
                                   now=self.clock())
            if not ids:
                return
            for n, item_id in enumerate(ids):
                if self.stop_requested:  # give back what was claimed but not started
                    for rest in ids[n:]:
                        self.store.release(entity, rest, worker)
                    return
                try:
                    released = step(item_id)
                except TransientError as exc:
                    self._retry(entity, item_id, str(exc), report, exc.retry_after)
                except Exception as exc:  # terminal: mapping errors, bad data, TerminalError
                    reason = str(exc) if isinstance(exc, TerminalError | ValueError) else f"{type(exc).__name__}: {exc}"
                    self.store.set_state(entity, item_id, State.FAILED.value, reason[:4000], now=self.clock())
                    self.store.release(entity, item_id, worker)
                    report.failed += 1
                    report.errors.append(f"{entity} {item_id}: {reason}")
                else:
                    if not released:
                        self.store.release(entity, item_id, worker)

    def _retry(self, entity: str, item_id: int, reason: str, report: RunReport, retry_after: float | None) -> None:
        """Backoff from the configuration, capped by the partner's ``retry.max_delay_seconds``; the item fails after
        ``retry.max_attempts`` attempts (the partner's value replaces ``runtime.max_attempts``)."""
        row = self.store.get(entity, item_id)
        policy = self.profiles[row.partner_id].retry if row.partner_id in self.profiles else None
        max_attempts = (policy and policy.max_attempts) or self.settings.max_attempts
        if row.attempts + 1 >= max_attempts:
            self.store.set_state(entity, item_id, State.FAILED.value,
                                 f"gave up after {row.attempts + 1} attempts: {reason}"[:4000], now=self.clock())
            self.store.release(entity, item_id, self.settings.worker_id)
            report.failed += 1
            return
        delay = self.settings.backoff(row.attempts)
        if policy is not None and policy.max_delay_seconds:
            delay = min(delay, policy.max_delay_seconds)
        delay = max(delay, retry_after or 0)
        self.store.schedule_retry(entity, item_id, reason[:4000], delay, now=self.clock())
        report.retries += 1

    # ------------------------------------------------------------------ parse

    def parse_ready(self, report: RunReport) -> None:
        self._each_claimed("file", State.RECEIVED.value, report, lambda fid: self.parse_file(fid, report))

    def parse_file(self, file_id: int, report: RunReport) -> None:
        row = self.store.get_file(file_id)
        profile = self.profiles.get(row.partner_id or "")
        if profile is None:
            raise PipelineError(f"file {row.original_name}: no partner profile {row.partner_id!r}")
        data = self.archive.read_bytes(row.sha256)
        standard = sniff_bytes(data[:4096])
        if standard not in (X12, EDIFACT):
            raise PipelineError(f"{row.original_name}: neither X12 (ISA) nor EDIFACT (UNA/UNB); kept in the archive "
                                f"as {row.sha256}")
        parsed = _parse(data, standard, profile, self.clock())
        problems = self._check_identities(parsed, profile, row)
        if problems:
            raise PipelineError("; ".join(problems))
        self._record_parse(row, profile, parsed, report)

    def _check_identities(self, parsed: _Parsed, profile: PartnerProfile, row: File) -> list[str]:
        ident = profile.identities.x12 if parsed.standard == X12 else profile.identities.edifact
        channel = profile.channels.inbound.describe()
        if ident is None:
            return [f"{row.original_name}: partner {profile.id!r} exchanges no {parsed.standard.upper()} "
                    f"(file arrived on {channel})"]
        problems = []
        for ic in parsed.interchanges:
            if _endpoint_key(*ic.sender) != ident.sender.key():
                problems.append(
                    f"{row.original_name}: interchange {ic.index + 1} ({ic.control_number}): sender "
                    f"{'/'.join(filter(None, ic.sender))} is not partner {profile.id!r} ({ident.sender}), whose "
                    f"channel {channel} the file arrived on: refused, no partner can submit as another")
            if _endpoint_key(*ic.receiver) != ident.receiver.key():
                problems.append(
                    f"{row.original_name}: interchange {ic.index + 1} ({ic.control_number}): receiver "
                    f"{'/'.join(filter(None, ic.receiver))} is not us ({ident.receiver}) for partner {profile.id!r}")
        if not parsed.interchanges:
            problems.append(f"{row.original_name}: no interchange could be read: "
                            + "; ".join(f.message for f in parsed.findings[:3]))
        return problems

    def _record_parse(self, row: File, profile: PartnerProfile, parsed: _Parsed, report: RunReport) -> None:
        now = self.clock()
        window = profile.retry.duplicate_window_days
        window = self.settings.duplicate_window_days if window is None else window
        duplicates = set() if window == 0 else {
            ic.index for ic in parsed.interchanges
            if self.store.find_duplicate_interchange(profile.id, ic.control_number, window, now=now) is not None
        }
        ack_sha = self.archive.put_bytes(parsed.ack_data) if parsed.ack_data else None
        reports: list[tuple[Any, str]] = []  # inbound acks to reconcile after the commit
        with self.store.session() as s:
            frow = s.get(File, row.id)
            ic_rows: dict[int, InterchangeRow] = {}
            for ic in parsed.interchanges:
                irow = InterchangeRow(
                    file_id=row.id, position=ic.index, direction=Direction.INBOUND.value, partner_id=profile.id,
                    standard=parsed.standard, sender_qualifier=ic.sender[0] or None, sender_id=ic.sender[1],
                    receiver_qualifier=ic.receiver[0] or None, receiver_id=ic.receiver[1],
                    control_number=ic.control_number, test=ic.test, created_at=now)
                s.add(irow)
                ic_rows[ic.index] = irow
            s.flush()
            group_rows: dict[tuple[int, int], GroupRow] = {}
            for (ici, gi), (fid, gcn, version) in parsed.groups.items():
                grow = GroupRow(interchange_id=ic_rows[ici].id, functional_id=fid or "", control_number=gcn or "",
                                version=version)
                s.add(grow)
                group_rows[(ici, gi)] = grow
            s.flush()
            tx_rows = []
            for tx in parsed.transactions:
                state, reason = State.PARSED.value, None
                if tx.interchange in duplicates:
                    state = State.DUPLICATE.value
                    reason = (f"interchange control number {parsed.interchanges[tx.interchange].control_number} was "
                              f"received from {profile.id} within {window} days")
                elif tx.rejected:
                    state = State.FAILED.value
                    reason = "rejected by validation: " + "; ".join(f.message for f in tx.errors[:5])
                elif tx.type in FUNCTIONAL_ACK_TYPES:
                    reports.append((tx, parsed.standard))
                trow = TransactionRow(
                    direction=Direction.INBOUND.value, partner_id=profile.id, file_id=row.id,
                    interchange_id=ic_rows[tx.interchange].id,
                    group_id=group_rows[(tx.interchange, tx.group)].id if (tx.interchange, tx.group) in group_rows
                    else None,
                    type=tx.type, control_number=tx.control_number, state=state, reason=reason,
                    findings=[f.to_json() for f in tx.findings] or None, attempts=0,
                    resume_state=State.PARSED.value if state == State.FAILED.value else None,
                    created_at=now, updated_at=now)
                s.add(trow)
                tx_rows.append(trow)
            s.flush()
            for trow in tx_rows:
                s.add(Event(at=now, entity="transaction", entity_id=trow.id, event=trow.state,
                            detail={"file": row.id, "reason": trow.reason} if trow.reason else {"file": row.id}))
            if ack_sha is not None:
                ack_file = File(sha256=ack_sha, size=len(parsed.ack_data), channel="out:ack",
                                original_name=f"{parsed.ack_kind}_{profile.id}_file{row.id}.{ACK_FILE_EXT[parsed.standard]}",
                                partner_id=profile.id, received_at=now, updated_at=now,
                                state=State.PARSED.value, attempts=0)
                s.add(ack_file)
                s.flush()
                ack_tx = TransactionRow(
                    direction=Direction.OUTBOUND.value, partner_id=profile.id, file_id=ack_file.id,
                    type=parsed.ack_kind, control_number=None, state=State.MAPPED.value, attempts=0,
                    document_number=f"file {row.id}", created_at=now, updated_at=now)
                s.add(ack_tx)
                s.flush()
                s.add(Event(at=now, entity="transaction", entity_id=ack_tx.id, event=State.MAPPED.value,
                            detail={"acknowledges_file": row.id}))
                for ic in parsed.interchanges:
                    s.add(Acknowledgment(
                        partner_id=profile.id, direction=AckDirection.SENT.value, kind=parsed.ack_kind,
                        interchange_control_number=ic.control_number, file_id=row.id,
                        result=parsed.ack_result, received_at=None, created_at=now))
            all_dup = parsed.transactions and all(tx.interchange in duplicates for tx in parsed.transactions)
            new_state = State.DUPLICATE.value if all_dup else State.PARSED.value
            old = frow.state
            frow.state, frow.reason, frow.updated_at, frow.resume_state, frow.attempts = new_state, None, now, None, 0
            s.add(Event(at=now, entity="file", entity_id=row.id, event=new_state,
                        detail={"from": old, "standard": parsed.standard, "transactions": len(parsed.transactions),
                                "findings": len(parsed.findings), "ack": parsed.ack_kind}))
        report.parsed += 1
        for t in parsed.transactions:
            if t.rejected and t.interchange not in duplicates:
                report.failed += 1
                report.errors.append(f"{row.original_name}: {t.type} {t.control_number!r}: rejected by validation: "
                                     + "; ".join(f.message for f in t.errors[:3]))
        for tx, standard in reports:
            report.acks_matched += self._reconcile(profile, tx, standard)

    # ------------------------------------------------------------------ inbound acknowledgments

    def _reconcile(self, profile: PartnerProfile, tx: _Tx, standard: str) -> int:
        """An inbound 997/999/CONTRL: match it to what we sent; its own transaction becomes acknowledged."""
        matched = 0
        if standard == X12:
            from hub.acks.x12_read import read_acks

            for rep in read_acks(tx.raw):
                if rep.kind not in ("997", "999"):
                    continue
                result = _ack_result(rep.status)
                if rep.sets:
                    for s in rep.sets:
                        m = self.store.match_ack(profile.id, rep.kind, _ack_result(s.status),
                                                 group_control_number=rep.group_control_number,
                                                 transaction_control_number=s.control_number)
                        matched += len(m.matched)
                else:
                    m = self.store.match_ack(profile.id, rep.kind, result,
                                             group_control_number=rep.group_control_number)
                    matched += len(m.matched)
        else:
            from hub.acks.edifact import read_contrl

            for rep in read_contrl(tx.raw):
                if rep.messages:
                    for msg in rep.messages:
                        m = self.store.match_ack(profile.id, "CONTRL", "accepted" if msg.accepted else "rejected",
                                                 interchange_control_number=rep.interchange_reference,
                                                 transaction_control_number=msg.reference)
                        matched += len(m.matched)
                else:
                    m = self.store.match_ack(profile.id, "CONTRL", _ack_result(rep.status),
                                             interchange_control_number=rep.interchange_reference)
                    matched += len(m.matched)
        return matched

    # ------------------------------------------------------------------ map and deliver

    def map_ready(self, report: RunReport) -> None:
        def step(tx_id: int) -> bool:
            row = self.store.get_transaction(tx_id)
            if row.direction != Direction.INBOUND.value:
                raise PipelineError(f"transaction {tx_id} is outbound; only inbound transactions are mapped")
            if row.type in FUNCTIONAL_ACK_TYPES:
                self.store.set_state("transaction", tx_id, State.ACKNOWLEDGED.value, "reconciled with what we sent",
                                     worker_id=self.settings.worker_id, release=True, now=self.clock())
                return True
            doc = self._map(row)
            self.store.set_state("transaction", tx_id, State.MAPPED.value, worker_id=self.settings.worker_id,
                                 updates={"canonical": doc, "document_number": str(doc.get("number", ""))[:64]},
                                 release=True, now=self.clock())
            report.mapped += 1
            return True

        self._each_claimed("transaction", State.PARSED.value, report, step)

    def _map(self, row: TransactionRow) -> dict[str, Any]:
        profile = self.profiles.get(row.partner_id or "")
        if profile is None:
            raise PipelineError(f"transaction {row.id}: no partner profile {row.partner_id!r}")
        frow = self._fixed_row("file", row.file_id) if row.file_id else None
        if frow is None:
            raise PipelineError(f"transaction {row.id}: its file is not recorded")
        position = self._fixed_row("interchange", row.interchange_id).position if row.interchange_id else 0
        tx = self._transactions_of(frow.sha256).get((position, row.control_number, row.type))
        if tx is None:
            raise PipelineError(f"transaction {row.id}: {row.type} {row.control_number!r} is no longer in "
                                f"file {frow.original_name} ({frow.sha256})")
        spec = profile.document(row.type, "inbound", getattr(tx, "version", None)) or profile.document(row.type,
                                                                                                      "inbound")
        if spec is None or not spec.mapping:
            raise PipelineError(f"{frow.original_name}: partner {profile.id!r} has no inbound {row.type} document "
                                "with a mapping in its profile")
        return self.mapping(spec.mapping).to_canonical(tx)

    def _fixed_row(self, entity: str, entity_id: int) -> Any:
        """A file's or interchange's row for the columns that never change once recorded (a file's sha256 and
        name, an interchange's position): the many sets of one file read them once, not once per set."""
        key = (entity, entity_id)
        if key not in self._rows:
            if len(self._rows) > 256:
                self._rows.clear()
            self._rows[key] = self.store.get(entity, entity_id)
        return self._rows[key]

    def _transactions_of(self, sha256: str) -> dict[tuple[int, str | None, str], Any]:
        """The transactions of an archived file by (interchange position, control number, type); the last file
        read is kept, so mapping the many sets of one file reads it once, not once per set."""
        if self._parsed is None or self._parsed[0] != sha256:
            data = self.archive.read_bytes(sha256)
            self._parsed = (sha256, _transactions_by_key(data, sniff_bytes(data[:4096])))
        return self._parsed[1]

    def idempotency_key(self, row: TransactionRow) -> str:
        """Fixed per inbound transaction: the same key however often it is delivered or reprocessed."""
        return f"edihub-{row.partner_id}-{row.type}-{row.control_number}-t{row.id}"

    def forward_ready(self, report: RunReport) -> None:
        """Everything ``mapped``: inbound documents go to the ERP, outbound ones to the partner."""

        def step(tx_id: int) -> bool:
            row = self.store.get_transaction(tx_id)
            if row.direction == Direction.OUTBOUND.value:
                refused = self._send(row)
                if refused:
                    report.failed += 1
                    report.errors.append(f"transaction {tx_id}: {refused}")
                else:
                    report.sent += 1
                return False
            self._deliver(row)
            report.delivered += 1
            return True  # _deliver's last state change released the claim

        self._each_claimed("transaction", State.MAPPED.value, report, step)

    def _deliver(self, row: TransactionRow) -> None:
        from hub.store import AlreadyDelivered

        adapter = getattr(self.erp, "name", "erp")
        key = self.idempotency_key(row)
        if not self.store.delivered_key_exists(adapter, key):
            try:
                delivery = self.erp.post(row.canonical, key)
            except TransientError as exc:
                self.store.record_delivery(row.id, adapter, key, "transient", str(exc)[:4000])
                raise
            except TerminalError as exc:
                self.store.record_delivery(row.id, adapter, key, "terminal", str(exc)[:4000])
                raise
            response = {"reference": delivery.reference, "duplicate": delivery.duplicate}
            with contextlib.suppress(AlreadyDelivered):
                self.store.record_delivery(row.id, adapter, key, "ok", _short(response))
        self.store.set_state("transaction", row.id, State.DELIVERED.value, worker_id=self.settings.worker_id,
                             detail={"adapter": adapter, "key": key}, release=True, now=self.clock())

    # ------------------------------------------------------------------ outbound

    def fetch_outbound(self, report: RunReport) -> None:
        try:
            items = self.erp.fetch_outbound()
        except TransientError as exc:
            report.errors.append(f"ERP {getattr(self.erp, 'name', 'erp')}: fetching outbound documents: {exc}")
            return
        for item in items:
            try:
                self._take_outbound(item, report)
            except TransientError as exc:
                report.errors.append(f"ERP outbound item {item.id}: {exc}")

    def _take_outbound(self, item: Any, report: RunReport) -> None:
        from hub.mapping import MappingError, render

        key = str(item.id)
        if self.store.delivered_key_exists(OUTBOUND_KEY_ADAPTER, key):
            self.erp.settle(item)
            return
        now = self.clock()
        document = item.document
        profile = None
        error = getattr(item, "error", None)
        data = b""
        tx_type = None
        if error is None:
            profile = self._partner_for(document)
            if profile is None:
                error = (f"ERP outbound item {key}: no partner profile whose identity is the document's receiver "
                         f"{(document or {}).get('receiver')}")
            else:
                try:
                    data = render(document, profile, _StoreCounter(self.store, profile),
                                  mappings=self.settings.mappings, when=now)
                    tx_type = _type_of(document, profile)
                except (MappingError, ValueError) as exc:
                    error = f"ERP outbound item {key}: {exc}"
        try:
            self._record_outbound(item, key, document, profile, tx_type, data, error, now)
        except Exception:
            if not self.store.delivered_key_exists(OUTBOUND_KEY_ADAPTER, key):
                raise
        self.erp.settle(item)
        if error:
            report.failed += 1
            report.errors.append(error)
        else:
            report.outbound += 1

    def _record_outbound(self, item: Any, key: str, document: Any, profile: PartnerProfile | None,
                         tx_type: str | None, data: bytes, error: str | None, now: _dt.datetime) -> None:
        """The outbound transaction and the ERP item id taken, in one database transaction."""
        with self.store.session() as s:
            file_id = None
            if not error:
                sha = self.archive.put_bytes(data)
                ext = "x12" if data.startswith(b"ISA") else "edi"
                f = File(sha256=sha, size=len(data), channel="out:erp",
                         original_name=f"{tx_type}_{profile.id}_{_safe(str(document.get('number', key)))}.{ext}",
                         partner_id=profile.id, received_at=now, updated_at=now, state=State.PARSED.value, attempts=0)
                s.add(f)
                s.flush()
                file_id = f.id
            tx = TransactionRow(
                direction=Direction.OUTBOUND.value, partner_id=profile.id if profile else None, file_id=file_id,
                type=tx_type or str((document or {}).get("document_type", "unknown"))[:16],
                control_number=_control_number(data), state=State.FAILED.value if error else State.MAPPED.value,
                reason=error, canonical=document, document_number=str((document or {}).get("number", ""))[:64] or None,
                attempts=0, resume_state=None, created_at=now, updated_at=now)
            s.add(tx)
            s.flush()
            s.add(Event(at=now, entity="transaction", entity_id=tx.id, event=tx.state,
                        detail={"erp_item": key, "reason": error} if error else {"erp_item": key}))
            s.add(Delivery(transaction_id=tx.id, adapter=OUTBOUND_KEY_ADAPTER, idempotency_key=key, attempt=1,
                           status="ok", response=None, at=now))

    def _partner_for(self, document: Mapping[str, Any] | None) -> PartnerProfile | None:
        receiver = (document or {}).get("receiver") or {}
        wanted = (receiver.get("qualifier") or "", receiver.get("id") or "")
        for profile in self.profiles.values():
            for standard in (X12, EDIFACT):
                ident = profile.identities.sender(standard)
                if ident is None:
                    continue
                if ident.id.strip() == wanted[1].strip() and (not wanted[0] or ident.key()[0] == wanted[0].strip()):
                    return profile
        return None

    def _send(self, row: TransactionRow) -> str | None:
        """Send an outbound transaction and mark it ``delivered``; returns the reason when the partner's MDN
        already refused it (an async MDN can beat this bookkeeping: the transaction is then failed at once)."""
        profile = self.profiles.get(row.partner_id or "")
        if profile is None:
            raise PipelineError(f"transaction {row.id}: no partner profile {row.partner_id!r}")
        transport = self.transports.get(profile.id)
        if transport is None:
            raise PipelineError(f"partner {profile.id!r} has no outbound channel the hub can write to")
        frow = self.store.get_file(row.file_id)
        with self.archive.open(frow.sha256) as fh, self.as2_mdns.sending(row.id) as as2_sent:
            name = transport.send(frow.original_name, fh)
        now = self.clock()
        due = None
        if row.type not in FUNCTIONAL_ACK_TYPES | {"TA1"} and profile.acknowledgments.expected_within_minutes:
            due = now + _dt.timedelta(minutes=profile.acknowledgments.expected_within_minutes)
        sent = self.store.record_sent(row.id, as2_message_ids=as2_sent, worker_id=self.settings.worker_id,
                                      detail={"sent_as": name, "channel": profile.channels.outbound.describe()},
                                      now=now)
        if sent.state == State.FAILED.value:
            log.error("transaction %s: %s", row.id, sent.reason)
            return sent.reason or "failed"
        if row.type in FUNCTIONAL_ACK_TYPES | {"TA1"}:
            return None
        numbers = _envelope_numbers(self.archive.read_bytes(frow.sha256))
        if due is not None:
            kind = _expected_kind(profile, numbers["standard"])
            self.store.expect_ack(profile.id, kind, due_at=due, transaction_id=row.id, now=now,
                                  interchange_control_number=numbers["interchange"] if kind == "CONTRL" else None,
                                  group_control_number=numbers["group"] if kind != "CONTRL" else None,
                                  transaction_control_number=numbers["transaction"])
        return None

    def sweep_overdue(self, report: RunReport) -> None:
        report.overdue += len(self.store.overdue_acks(self.clock(), mark=True))
        self.sweep_overdue_mdns(report)

    def sweep_overdue_mdns(self, report: RunReport) -> None:
        """AS2 messages whose async MDN is past due: sent again or reported, as the partner's profile says.

        ``mdn_overdue_action: resend`` posts the very same message again (same Message-ID, same bytes: the
        partner's duplicate detection recognises it, RFC 4130 section 9.3) up to ``mdn_overdue_resends`` times,
        each one due ``mdn_overdue_seconds`` later; after the last one, or with ``alert``, the message turns
        ``overdue`` (``edihub as2 mdns --state overdue``), an error is logged and an event written.  The resend
        is claimed in the store before the POST, so two sweepers never send it twice.
        """
        from hub.partners.profile import As2Channel

        now = self.clock()
        for row in self.store.pending_as2_messages(due_by=now):
            if self.stop_requested:
                return
            profile = self.profiles.get(row.partner_id)
            channel = profile.channels.outbound if profile is not None else None
            channel = channel if isinstance(channel, As2Channel) else None
            transport = self._as2_transport(self.transports.get(row.partner_id))
            late = (f"AS2 {row.message_id} to {row.partner_id}: no MDN since {row.sent_at:%Y-%m-%d %H:%M:%S} UTC "
                    f"({row.sends} send(s))")
            resend = (channel is not None and channel.mdn_overdue_action == "resend" and transport is not None
                      and row.resend_path is not None and row.sends <= channel.mdn_overdue_resends)
            if resend:
                assert channel is not None
                next_due = now + _dt.timedelta(seconds=channel.mdn_overdue_seconds)
                if self.store.claim_as2_resend(row.message_id, next_due=next_due, now=now) is None:
                    continue  # another sweeper took it, or the MDN came meanwhile
                try:
                    transport.resend(row.message_id)
                except TransientError as exc:
                    self.store.log_event("as2_message", row.id, "resend_failed", {"error": str(exc)[:2000]})
                    report.errors.append(f"{late}; resend failed, tried again when due: {exc}")
                    continue
                except TerminalError as exc:
                    late += f"; resend refused: {exc}"
                else:
                    report.mdns_resent += 1
                    log.warning("%s: sent again (resend %d of %d)", late, row.sends,
                                channel.mdn_overdue_resends)
                    continue
            if self.as2_mdns.alert(row.message_id, late, now=now) is None:
                continue
            log.error("%s: MDN overdue, a person must look (edihub as2 mdns --state overdue)", late)
            report.mdns_overdue += 1
            report.errors.append(f"{late}: MDN overdue")

    # ------------------------------------------------------------------ operators


def reprocess(store: Store, entity: str, item_id: int, *, now: _dt.datetime | None = None) -> str | None:
    """Resume a failed or waiting file or transaction from its last good state; returns that state, or None when
    the item is neither failed nor waiting (so running reprocess twice does nothing more)."""
    row = store.get(entity, item_id)
    if row.state not in (State.FAILED.value, State.RETRY_WAIT.value):
        return None
    resume = row.resume_state or (State.RECEIVED.value if entity == "file" else State.PARSED.value)
    if entity == "transaction" and row.direction == Direction.OUTBOUND.value and resume == State.PARSED.value:
        resume = State.MAPPED.value  # an outbound document is rendered when it is recorded
    store.set_state(entity, item_id, resume, "reprocess requested", detail={"by": "reprocess"}, now=now)
    return resume


def resend(store: Store, tx_id: int, *, now: _dt.datetime | None = None) -> None:
    """Send an outbound document or acknowledgment again: the same bytes, the same control numbers."""
    row = store.get_transaction(tx_id)
    if row.direction != Direction.OUTBOUND.value or row.file_id is None:
        raise PipelineError(f"transaction {tx_id} is not an outbound document that was rendered")
    store.set_state("transaction", tx_id, State.MAPPED.value, "resend requested", detail={"by": "resend"}, now=now)


# ---------------------------------------------------------------------- parsing one file


@dataclass
class _Ic:
    index: int
    sender: tuple[str, str]
    receiver: tuple[str, str]
    control_number: str
    test: bool


@dataclass
class _Tx:
    interchange: int
    group: int
    index: int
    type: str
    control_number: str
    findings: list[Finding]
    raw: bytes = b""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


@dataclass
class _Parsed:
    standard: str
    interchanges: list[_Ic]
    groups: dict[tuple[int, int], tuple[str | None, str | None, str | None]]
    transactions: list[_Tx]
    findings: list[Finding]
    ack_data: bytes
    ack_kind: str
    ack_result: str


def _parse(data: bytes, standard: str, profile: PartnerProfile, when: _dt.datetime) -> _Parsed:
    """Read, validate and acknowledge ``data``; findings pass the partner's leniency."""
    if standard == X12:
        from hub.acks.x12 import acknowledge
        from hub.edi.x12 import read_document

        doc = read_document(data)
        policy = profile.acknowledgments
        ack = acknowledge(data, when=when, ta1={"never": "never", "always": "always"}.get(policy.ta1, "auto"),
                          functional_acks=policy.x12_functional != "none",
                          finding_filter=lambda fs: apply_leniency(fs, profile))
        kinds = [a["kind"] for a in ack.acks]
        kind = "999" if "999" in kinds else "997" if "997" in kinds else "TA1" if "TA1" in kinds else "none"
        findings = ack.findings  # leniency applied while acknowledging
        interchanges = [
            _Ic(ic.index, (ic.isa[5].strip(), ic.isa[6].strip()), (ic.isa[7].strip(), ic.isa[8].strip()),
                ic.isa[13].strip(), ic.isa[15].strip() == "T")
            for ic in doc.interchanges
        ]
        groups = {}
        for tx in doc.transactions:
            g = tx.group
            if g is not None:
                groups[(tx.interchange.index, g.index)] = (g.functional_id, g.control_number, g.version)
    else:
        from hub.acks.edifact import acknowledge as contrl
        from hub.edi.edifact import read_document

        doc = read_document(data)
        policy = profile.acknowledgments
        ack = contrl(data, when=when, only_rejected=policy.edifact_contrl == "errors_only",
                     finding_filter=lambda fs: apply_leniency(fs, profile))
        if policy.edifact_contrl == "none":
            ack.data = b""
        kind = "CONTRL" if ack.data else "none"
        findings = ack.findings
        interchanges = [
            _Ic(ic.index, (ic.sender_qualifier, ic.sender), (ic.receiver_qualifier, ic.receiver), ic.control_number,
                ic.test_indicator == "1")
            for ic in doc.interchanges
        ]
        groups = {}
        for msg in doc.messages:
            g = msg.group
            groups[(msg.interchange.index, g.index)] = (g.functional_id or None, g.control_number or None,
                                                        g.version or None)
    txs = []
    for tx in doc.transactions:
        ici, gi = tx.interchange.index, tx.group.index if tx.group is not None else 0
        mine = [f for f in findings if f.interchange == ici and (
            (f.group is None and f.ack_level == "interchange") or (f.group == gi and (
                f.transaction is None or f.transaction == tx.index)))]
        txs.append(_Tx(ici, gi, tx.index, tx.type, tx.control_number, mine, _raw_of(tx, standard)))
    rejected = sum(1 for t in txs if t.rejected)
    result = "accepted" if not rejected else ("rejected" if rejected == len(txs) else "partially_accepted")
    return _Parsed(standard, interchanges, groups, txs, findings, ack.data, kind, result)


def _raw_of(tx: Any, standard: str) -> bytes:
    """A functional acknowledgment's own interchange, rebuilt for the ack readers (other sets: nothing)."""
    if tx.type not in FUNCTIONAL_ACK_TYPES:
        return b""
    if standard == X12:
        d = tx.delimiters
        ic, g = tx.interchange, tx.group
        segs = [ic.isa] + ([g.gs] if g is not None else []) + list(tx.segments)
        segs += [["GE", "1", g.control_number] if g is not None else []]
        segs += [["IEA", "1", ic.isa[13]]]
        text = "".join(d.element.join(s) + d.segment for s in segs if s)
        return text.encode("latin-1", "replace")
    from hub.edi.edifact.writer import EdifactWriter

    out = io.BytesIO()
    w = EdifactWriter(out, tx.delimiters)
    w.write_una()
    w.write_raw([tx.interchange.unb])
    w.write_raw(tx.segments)
    w.write_raw([["UNZ", "1", tx.interchange.control_number]])
    return out.getvalue()


def _transactions_by_key(data: bytes, standard: str) -> dict[tuple[int, str | None, str], Any]:
    if standard == X12:
        from hub.edi.x12 import read_document
    else:
        from hub.edi.edifact import read_document  # type: ignore[no-redef]
    out: dict[tuple[int, str | None, str], Any] = {}
    for tx in read_document(data).transactions:
        out.setdefault((tx.interchange.index, tx.control_number, tx.type), tx)
    return out


def _ack_result(status: str) -> str:
    return {"accepted": "accepted", "accepted_with_errors": "accepted_with_errors",
            "partially_accepted": "partially_accepted", "rejected": "rejected"}.get(status, "rejected")


def _type_of(document: Mapping[str, Any], profile: PartnerProfile) -> str:
    from hub.mapping.outbound import MESSAGE_OF_DOCUMENT, SET_OF_DOCUMENT

    doc_type = str(document.get("document_type"))
    message = MESSAGE_OF_DOCUMENT.get(doc_type)
    if message and profile.document(message, "outbound") is not None:
        return message
    return SET_OF_DOCUMENT.get(doc_type, doc_type)


def _expected_kind(profile: PartnerProfile, standard: str) -> str:
    if standard == EDIFACT:
        return "CONTRL"
    return "999" if profile.acknowledgments.x12_functional == "999" else "997"


def _envelope_numbers(data: bytes) -> dict[str, Any]:
    if data.startswith(b"ISA"):
        from hub.edi.x12 import read_document

        doc = read_document(data)
        tx = doc.transactions[0]
        return {"standard": X12, "interchange": tx.interchange.isa[13].strip(),
                "group": tx.group.control_number if tx.group is not None else None,
                "transaction": tx.control_number}
    from hub.edi.edifact import read_document as read_edifact

    doc = read_edifact(data)
    msg = doc.messages[0]
    return {"standard": EDIFACT, "interchange": msg.interchange.control_number, "group": None,
            "transaction": msg.control_number}


def _control_number(data: bytes) -> str | None:
    if not data:
        return None
    try:
        return _envelope_numbers(data)["transaction"]
    except (IndexError, AttributeError):
        return None


def _safe(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in text)
    return keep[:60] or "doc"


def _short(value: Any) -> str:
    import json

    return json.dumps(value, default=str)[:4000]
