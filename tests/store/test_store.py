"""Repository behaviour of the store, on SQLite and PostgreSQL (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from hub.errors import TransientError
from hub.store import AlreadyDelivered, LeaseLost, NotFound, State, Store, open_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHA = "ab" + "0" * 62
OTHER_SHA = "cd" + "1" * 62


def _file(store: Store, sha: str = SHA, partner: str | None = "acme", **kw):
    return store.record_file(sha, 1234, "sftp", "po.edi", partner, **kw)


# -- files and duplicates -------------------------------------------------------------------------------------


def test_record_file_recognises_the_same_bytes_from_the_same_partner(store):
    first, dup = _file(store, received_at=T0)
    assert not dup
    assert (first.state, first.attempts, first.partner_id, first.size) == ("received", 0, "acme", 1234)
    assert first.received_at == T0 and first.received_at.tzinfo is not None

    again, dup = _file(store)
    assert dup and again.id == first.id
    other_partner, dup = _file(store, partner="globex")
    assert not dup and other_partner.id != first.id
    unknown_partner, dup = _file(store, partner=None)
    assert not dup
    assert _file(store, partner=None)[0].id == unknown_partner.id
    assert not _file(store, OTHER_SHA)[1]

    assert [e.event for e in store.events_for("file", first.id)] == ["received", "duplicate_received"]
    assert len(store.list_files(sha256=SHA)) == 3


def test_record_file_from_threads_records_once(store):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _file(store), range(8)))
    assert len({row.id for row, _ in results}) == 1
    assert sorted(dup for _, dup in results) == [False] + [True] * 7


def test_timestamps_are_utc_aware_and_naive_ones_refused(store):
    paris = timezone(timedelta(hours=1))
    row, _ = _file(store, received_at=datetime(2026, 3, 1, 13, 0, tzinfo=paris))
    got = store.get_file(row.id)
    assert got.received_at == T0 and got.received_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        _file(store, OTHER_SHA, received_at=datetime(2026, 3, 1, 12, 0))


# -- state changes and events ---------------------------------------------------------------------------------


def test_set_state_writes_the_event_with_the_state(store):
    row, _ = _file(store)
    store.set_state("file", row.id, "parsed", detail={"interchanges": 2})
    failed = store.set_state("file", row.id, State.FAILED, reason="no partner for ZZ:UNKNOWN")
    assert (failed.state, failed.reason, failed.resume_state) == ("failed", "no partner for ZZ:UNKNOWN", "parsed")

    events = store.events_for("file", row.id)
    assert [(e.event, e.detail) for e in events] == [
        ("received", {"original_name": "po.edi", "channel": "sftp", "size": 1234}),
        ("parsed", {"from": "received", "interchanges": 2}),
        ("failed", {"from": "parsed", "reason": "no partner for ZZ:UNKNOWN"}),
    ]
    assert all(e.at.tzinfo is not None for e in events)
    assert events == sorted(events, key=lambda e: e.id)


def test_a_failed_event_write_leaves_the_state_unchanged(store):
    row, _ = _file(store)
    with pytest.raises((StatementError, TypeError)):
        store.set_state("file", row.id, "parsed", detail={"not json": object()})
    assert store.get_file(row.id).state == "received"
    assert [e.event for e in store.events_for("file", row.id)] == ["received"]


def test_set_state_refuses_unknown_states_entities_and_ids(store):
    row, _ = _file(store)
    with pytest.raises(ValueError, match="unknown state"):
        store.set_state("file", row.id, "parsd")
    with pytest.raises(ValueError, match="has no state"):
        store.set_state("group", row.id, "parsed")
    with pytest.raises(NotFound):
        store.set_state("file", 999_999, "parsed")
    with pytest.raises(ValueError, match="cannot update"):
        store.set_state("file", row.id, "parsed", updates={"attempts": 0})


def test_set_state_writes_the_step_result_with_the_state(store):
    tx = store.add_transaction(direction="inbound", type="850", partner_id="acme", control_number=1)
    doc = {"kind": "purchase_order", "number": "PO-7", "lines": [{"sku": "X", "qty": 2.5}]}
    mapped = store.set_state("transaction", tx.id, "mapped", updates={"canonical": doc, "document_number": "PO-7"})
    got = store.get_transaction(tx.id)
    assert got.canonical == doc == mapped.canonical
    assert (got.document_number, got.control_number, got.state) == ("PO-7", "1", "mapped")


# -- retries --------------------------------------------------------------------------------------------------


def test_schedule_retry_backs_off_and_claim_finds_the_item_when_due(store):
    tx = store.add_transaction(direction="inbound", type="850", partner_id="acme", state="mapped", now=T0)
    assert store.claim("transaction", ["mapped"], "w1", now=T0) == [tx.id]
    retry = store.schedule_retry("transaction", tx.id, "ERP HTTP 503", 60, worker_id="w1", now=T0)
    assert (retry.state, retry.resume_state, retry.attempts, retry.reason) == (
        "retry_wait",
        "mapped",
        1,
        "ERP HTTP 503",
    )
    assert retry.next_attempt_at == T0 + timedelta(seconds=60)
    assert retry.claimed_by is None  # released: any worker may retry it

    assert store.claim("transaction", ["mapped"], "w2", now=T0 + timedelta(seconds=59)) == []
    assert store.claim("transaction", ["mapped"], "w2", now=T0 + timedelta(seconds=60)) == [tx.id]
    again = store.schedule_retry("transaction", tx.id, "ERP HTTP 503", 120, now=T0 + timedelta(seconds=61))
    assert (again.attempts, again.resume_state) == (2, "mapped")
    # without include_retries only items really in the state count
    later = T0 + timedelta(hours=1)
    assert store.claim("transaction", ["mapped"], "w3", now=later, include_retries=False) == []
    assert store.claim("transaction", ["retry_wait"], "w3", now=later) == [tx.id]

    done = store.set_state("transaction", tx.id, "delivered", worker_id="w3", now=later)
    assert (done.attempts, done.resume_state, done.next_attempt_at, done.reason) == (0, None, None, None)
    events = store.events_for("transaction", tx.id)
    assert [e.event for e in events] == ["mapped", "retry_wait", "retry_wait", "delivered"]
    assert events[1].detail == {
        "from": "mapped",
        "reason": "ERP HTTP 503",
        "attempts": 1,
        "next_attempt_at": (T0 + timedelta(seconds=60)).isoformat(),
    }


def test_a_lost_lease_fences_the_old_worker(store):
    row, _ = _file(store)
    assert store.claim("file", "received", "w1", lease_seconds=10, now=T0) == [row.id]
    assert store.claim("file", "received", "w2", now=T0 + timedelta(seconds=5)) == []
    # w1 crashed (or stalled): its lease ran out and w2 takes the file over
    assert store.claim("file", "received", "w2", now=T0 + timedelta(seconds=10)) == [row.id]
    with pytest.raises(LeaseLost):
        store.set_state("file", row.id, "parsed", worker_id="w1")
    assert not store.release("file", row.id, "w1")
    assert not store.renew("file", row.id, "w1")
    assert store.renew("file", row.id, "w2", lease_seconds=60, now=T0 + timedelta(seconds=20))
    assert store.get_file(row.id).claimed_until == T0 + timedelta(seconds=80)
    store.set_state("file", row.id, "parsed", worker_id="w2")
    assert store.release("file", row.id, "w2")
    got = store.get_file(row.id)
    assert (got.state, got.claimed_by, got.claimed_until) == ("parsed", None, None)


def test_claim_takes_the_oldest_ready_items_first(store):
    ids = [_file(store, f"{i:064x}")[0].id for i in range(5)]
    store.set_state("file", ids[1], "failed", reason="bad")
    assert store.claim("file", ["received"], "w1", limit=2, now=T0) == [ids[0], ids[2]]
    assert store.claim("file", ["received"], "w2", limit=10, now=T0) == [ids[3], ids[4]]
    assert store.claim("file", ["received"], "w3", limit=10, now=T0) == []
    assert store.claim("file", [], "w3") == []


# -- envelopes, transactions, listing -------------------------------------------------------------------------


def test_duplicate_interchange_within_the_window(store):
    row, _ = _file(store)
    first = store.add_interchange(
        file_id=row.id,
        standard="x12",
        sender_qualifier="ZZ",
        sender_id="ACME",
        receiver_qualifier="ZZ",
        receiver_id="US",
        control_number="000000905",
        partner_id="acme",
        now=T0,
    )
    assert store.find_duplicate_interchange("acme", "000000905", 30, exclude_id=first.id, now=T0) is None
    second = store.add_interchange(
        standard="x12", sender_id="ACME", receiver_id="US", control_number="000000905", partner_id="acme", now=T0
    )
    found = store.find_duplicate_interchange("acme", "000000905", 30, exclude_id=second.id, now=T0 + timedelta(days=3))
    assert found is not None and found.id == first.id and found.file_id == row.id
    assert (
        store.find_duplicate_interchange("acme", "000000905", 2, exclude_id=second.id, now=T0 + timedelta(days=3))
        is None
    )
    assert store.find_duplicate_interchange("globex", "000000905", 30, now=T0) is None
    assert store.find_duplicate_interchange("acme", "905", 30, now=T0) is None  # leading zeros matter
    # what we sent ourselves is never an inbound duplicate
    store.add_interchange(
        standard="x12", sender_id="US", receiver_id="ACME", control_number="7", partner_id="acme", direction="outbound"
    )
    assert store.find_duplicate_interchange("acme", "7", 30) is None


def test_transactions_are_added_with_their_envelopes_and_listed_by_filter(store):
    row, _ = _file(store)
    ich = store.add_interchange(file_id=row.id, standard="x12", sender_id="ACME", receiver_id="US", control_number="1")
    grp = store.add_group(ich.id, "PO", "1001", "004010")
    rows = store.add_transactions(
        [
            {
                "direction": "inbound",
                "type": "850",
                "partner_id": "acme",
                "file_id": row.id,
                "interchange_id": ich.id,
                "group_id": grp.id,
                "control_number": f"000{i}",
                "document_number": f"PO-{i}",
                "findings": [{"code": "W1"}] if i == 2 else [],
            }
            for i in range(1, 4)
        ],
        now=T0,
    )
    store.add_transaction(direction="outbound", type="855", partner_id="acme", state="mapped", now=T0 + timedelta(1))
    store.add_transaction(direction="inbound", type="ORDERS", partner_id="globex", now=T0 + timedelta(2))

    assert [t.control_number for t in rows] == ["0001", "0002", "0003"]
    assert store.get_transaction(rows[1].id).findings == [{"code": "W1"}]
    assert [t.document_number for t in store.list_transactions(file_id=row.id, newest_first=False)] == [
        "PO-1",
        "PO-2",
        "PO-3",
    ]
    assert [t.type for t in store.list_transactions(partner_id="acme", direction="outbound")] == ["855"]
    assert [t.type for t in store.list_transactions(state=["mapped", "received"], limit=2)] == ["ORDERS", "855"]
    assert [t.partner_id for t in store.list_transactions(since=T0 + timedelta(2))] == ["globex"]
    assert len(store.list_transactions(until=T0 + timedelta(1))) == 3
    assert store.list_transactions(document_number="PO-2")[0].id == rows[1].id
    assert [e.event for e in store.events_for("transaction", rows[0].id)] == ["received"]
    with pytest.raises(ValueError, match="unknown fields"):
        store.add_transactions([{"direction": "inbound", "type": "850", "claimed_by": "me"}])


def test_foreign_keys_are_enforced(store):
    with pytest.raises(Exception, match="(?i)foreign key"):
        store.add_group(123_456, "PO", "1")


def test_status_counts(store):
    a, _ = _file(store)
    b, _ = _file(store, OTHER_SHA, partner=None)
    store.set_state("file", b.id, "failed", reason="unknown sender")
    store.add_transaction(direction="inbound", type="850", partner_id="acme")
    store.add_transaction(direction="inbound", type="850", partner_id="acme", state="mapped")
    store.add_transaction(direction="inbound", type="ORDERS", partner_id="globex", state="mapped")
    assert store.counts_by_state("file") == {"received": 1, "failed": 1}
    assert store.counts_by_partner("file") == {"acme": {"received": 1}, None: {"failed": 1}}
    assert store.counts_by_state() == {"received": 1, "mapped": 2}
    assert store.counts_by_partner("transaction") == {"acme": {"received": 1, "mapped": 1}, "globex": {"mapped": 1}}


# -- deliveries -----------------------------------------------------------------------------------------------


def test_a_key_is_delivered_once(store):
    tx = store.add_transaction(direction="inbound", type="850", partner_id="acme", state="mapped")
    assert not store.delivered_key_exists("http", "acme-850-PO-7")
    first = store.record_delivery(tx.id, "http", "acme-850-PO-7", "transient", "503 Service Unavailable")
    second = store.record_delivery(tx.id, "http", "acme-850-PO-7", "ok", "201 Created")
    assert (first.attempt, second.attempt) == (1, 2)
    assert store.delivered_key_exists("http", "acme-850-PO-7")
    assert not store.delivered_key_exists("sql", "acme-850-PO-7")
    with pytest.raises(AlreadyDelivered):
        store.record_delivery(tx.id, "http", "acme-850-PO-7", "ok")
    assert [d.status for d in store.deliveries_for(tx.id)] == ["transient", "ok"]
    events = [e.event for e in store.events_for("transaction", tx.id)]
    assert events == ["mapped", "delivery_transient", "delivery_ok"]


def test_the_database_itself_refuses_a_second_ok(store):
    """Even a writer that skips the check (another process, racing) cannot record two successes."""
    tx = store.add_transaction(direction="inbound", type="850", partner_id="acme")
    store.record_delivery(tx.id, "http", "k", "ok")
    with pytest.raises(Exception, match="(?i)unique|duplicate"), store.session() as s:
        s.execute(
            text(
                "INSERT INTO deliveries (transaction_id, adapter, idempotency_key, attempt, status, at) "
                "VALUES (:t, 'http', 'k', 2, 'ok', :at)"
            ),
            {"t": tx.id, "at": T0.replace(tzinfo=None)},
        )


# -- acknowledgments ------------------------------------------------------------------------------------------


def _outbound(store: Store, number: str) -> int:
    tx = store.add_transaction(direction="outbound", type="855", partner_id="acme", control_number=number)
    store.set_state("transaction", tx.id, "delivered")
    return tx.id


def test_an_inbound_997_settles_what_we_sent(store):
    tx1, tx2, tx3 = _outbound(store, "0001"), _outbound(store, "0002"), _outbound(store, "0003")
    due = T0 + timedelta(hours=24)
    for tx, number in ((tx1, "0001"), (tx2, "0002"), (tx3, "0003")):
        store.expect_ack(
            "acme",
            "997",
            interchange_control_number="000000042",
            group_control_number="42",
            transaction_control_number=number,
            transaction_id=tx,
            due_at=due,
            now=T0,
        )
    store.expect_ack("globex", "997", group_control_number="42", transaction_control_number="0001", due_at=due)

    # a 999 answers an expected 997; another partner's expectation and a TA1 are not touched
    assert store.match_ack("acme", "TA1", "accepted", group_control_number="42").matched == []
    match = store.match_ack(
        "acme",
        "999",
        "accepted",
        group_control_number="42",
        transaction_control_number="0001",
        received_at=T0 + timedelta(hours=2),
    )
    assert [a.transaction_id for a in match.matched] == [tx1]
    settled = match.matched[0]
    assert (settled.result, settled.matched_by_id, settled.received_at) == (
        "accepted",
        match.received.id,
        T0 + timedelta(hours=2),
    )
    assert (match.received.direction, match.received.kind) == ("received", "999")
    assert store.get_transaction(tx1).state == "acknowledged"

    rejected = store.match_ack("acme", "997", "rejected", group_control_number="42", transaction_control_number="0002")
    assert [a.transaction_id for a in rejected.matched] == [tx2]
    got = store.get_transaction(tx2)
    assert (got.state, got.reason) == ("failed", "997 from acme: rejected")
    # the same ack twice settles nothing more
    assert (
        store.match_ack("acme", "997", "accepted", group_control_number="42", transaction_control_number="0002").matched
        == []
    )
    assert [e.event for e in store.events_for("transaction", tx1)] == [
        "received",
        "delivered",
        "ack_received",
        "acknowledged",
    ]
    with pytest.raises(ValueError, match="at least one control number"):
        store.match_ack("acme", "997", "accepted")


def test_overdue_acks_are_listed_marked_and_still_matched_late(store):
    tx = _outbound(store, "0001")
    late = store.expect_ack(
        "acme", "997", group_control_number="7", transaction_id=tx, due_at=T0, now=T0 - timedelta(1)
    )
    store.expect_ack("acme", "TA1", interchange_control_number="000000007", due_at=T0 + timedelta(hours=1))
    store.expect_ack("acme", "CONTRL", interchange_control_number="8", due_at=None)  # no SLA: never overdue

    assert store.overdue_acks(T0 - timedelta(seconds=1)) == []
    assert [a.id for a in store.overdue_acks(T0)] == [late.id]
    assert store.overdue_acks(T0)[0].result == "pending"  # listing alone changes nothing
    marked = store.overdue_acks(T0 + timedelta(minutes=5), mark=True)
    assert [(a.id, a.result) for a in marked] == [(late.id, "overdue")]
    assert [a.kind for a in store.overdue_acks(T0 + timedelta(days=365))] == ["997", "TA1"]
    store.overdue_acks(T0 + timedelta(minutes=6), mark=True)
    assert [e.event for e in store.events_for("acknowledgment", late.id)] == ["expected", "overdue"]
    assert "ack_overdue" in [e.event for e in store.events_for("transaction", tx)]

    match = store.match_ack("acme", "997", "accepted_with_errors", group_control_number="7")
    assert [a.id for a in match.matched] == [late.id]
    assert store.get_transaction(tx).state == "acknowledged"
    assert [a.kind for a in store.overdue_acks(T0 + timedelta(days=365))] == ["TA1"]


def test_acks_we_sent_are_recorded(store):
    row, _ = _file(store)
    tx = store.add_transaction(direction="inbound", type="850", partner_id="acme", file_id=row.id)
    sent = store.record_ack_sent(
        "acme", "997", "accepted", group_control_number="1001", transaction_id=tx.id, file_id=row.id, at=T0
    )
    assert (sent.direction, sent.result, sent.created_at) == ("sent", "accepted", T0)
    assert [a.id for a in store.list_acks(partner_id="acme", direction="sent")] == [sent.id]
    assert store.ack_counts() == {"sent": {"accepted": 1}}
    assert store.events_for("transaction", tx.id)[-1].event == "ack_sent"
    with pytest.raises(ValueError, match="unknown acknowledgment result"):
        store.record_ack_sent("acme", "997", "fine")


# -- control numbers (single process; see test_concurrency for several) ---------------------------------------


def test_control_numbers_count_up_per_partner_and_kind_and_wrap(store):
    assert [store.next_control_number("acme", "interchange") for _ in range(3)] == [1, 2, 3]
    assert store.next_control_number("acme", "group") == 1
    assert store.next_control_number("globex", "interchange", start=100) == 100
    assert [store.next_control_number("acme", "transaction", start=1, maximum=3) for _ in range(5)] == [1, 2, 3, 1, 2]
    store.set_control_number("acme", "interchange", 999_999_998)
    assert [store.next_control_number("acme", "interchange") for _ in range(3)] == [999_999_999, 1, 2]
    with pytest.raises(ValueError):
        store.next_control_number("acme", "message")


# -- connections ----------------------------------------------------------------------------------------------


def test_default_url_creates_its_folder_and_sets_up_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        assert (tmp_path / "var" / "edihub.db").is_file()
        with store.session(read_only=True) as s:
            assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_memory_store_is_usable_from_threads():
    from concurrent.futures import ThreadPoolExecutor

    with open_store("sqlite:///:memory:") as store:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: _file(store, f"{i:064x}"), range(40)))
        assert store.counts_by_state("file") == {"received": 40}


def test_an_unreachable_database_is_a_transient_error(tmp_path):
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(TransientError):
        store.counts_by_state()
    store.close()


def test_set_state_can_end_the_lease_in_the_same_commit(store):
    tx = store.add_transaction(direction="inbound", type="850", partner_id="acme", state="parsed", now=T0)
    assert store.claim("transaction", ["parsed"], "w1", now=T0) == [tx.id]
    kept = store.set_state("transaction", tx.id, "mapped", worker_id="w1", now=T0)
    assert kept.claimed_by == "w1"  # by default the claim is kept for the next step
    done = store.set_state("transaction", tx.id, "delivered", worker_id="w1", release=True, now=T0)
    assert (done.state, done.claimed_by, done.claimed_until) == ("delivered", None, None)
    assert store.get_transaction(tx.id).claimed_by is None
    assert store.release("transaction", tx.id, "w1") is False  # nothing left to release
    # another worker's lease is not ended (and the fence refuses the state change)
    assert store.claim("transaction", ["delivered"], "w2", now=T0) == [tx.id]
    with pytest.raises(LeaseLost):
        store.set_state("transaction", tx.id, "acknowledged", worker_id="w1", release=True, now=T0)
    assert store.get_transaction(tx.id).claimed_by == "w2"
