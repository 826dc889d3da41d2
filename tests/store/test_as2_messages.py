"""The store's record of AS2 messages and their MDNs (table as2_messages), on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from hub.store import State

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MDN_OK = {"mdn_message_id": "mdn-1@ACME", "mdn_received_at": T0 + timedelta(minutes=5), "disposition": "processed",
          "mic_matched": True, "mdn_signed": True, "mdn_sha256": "ab" * 32, "mdn_size": 1234, "problems": None}


def _message(message_id: str = "<m1@HUB>", **kw):
    fields = {"message_id": message_id, "partner_id": "acme", "partner_as2_id": "ACME", "our_as2_id": "HUB",
              "mdn_mode": "async", "state": "pending", "mics": [["q83vEjRW", "sha256"]], "require_signed": True,
              "signed": True, "encrypted": True, "compressed": False, "size": 4321, "sent_at": T0,
              "due_at": T0 + timedelta(hours=1)}
    fields.update(kw)
    return fields


def test_an_async_message_waits_then_its_mdn_is_recorded(store):
    row = store.record_as2_message(_message(), now=T0)
    assert (row.message_id, row.state, row.sends, row.mics) == ("m1@HUB", "pending", 1, [["q83vEjRW", "sha256"]])
    assert [r.message_id for r in store.pending_as2_messages()] == ["m1@HUB"]
    assert store.pending_as2_messages(due_by=T0 + timedelta(minutes=59)) == []
    assert store.as2_message("m1@HUB").id == store.as2_message(" <m1@HUB> ").id == row.id

    done = store.record_mdn("<m1@HUB>", "delivered", MDN_OK, now=T0 + timedelta(minutes=5))
    assert (done.state, done.disposition, done.mic_matched, done.mdn_sha256) == ("delivered", "processed", True,
                                                                               "ab" * 32)
    assert store.pending_as2_messages() == []
    assert store.record_mdn("m1@HUB", "delivered", MDN_OK) is None  # a second MDN finds nothing waiting
    assert [e.event for e in store.events_for("as2_message", row.id)] == ["sent", "mdn_received"]
    assert store.as2_counts() == {"delivered": 1}


def test_a_sync_mdn_is_recorded_with_the_message_and_unknown_fields_are_refused(store):
    row = store.record_as2_message(_message(mdn_mode="sync", state="rejected", due_at=None),
                                   {**MDN_OK, "disposition": "processed/error: decryption-failed"}, now=T0)
    assert (row.state, row.mdn_mode, row.disposition) == ("rejected", "sync", "processed/error: decryption-failed")
    assert store.pending_as2_messages() == []
    assert [e.event for e in store.events_for("as2_message", row.id)] == ["sent", "mdn_received"]
    with pytest.raises(ValueError, match="unknown fields"):
        store.record_as2_message(_message("m2@HUB", colour="blue"))
    with pytest.raises(ValueError, match="unknown AS2 message state"):
        store.record_as2_message(_message("m2@HUB", state="lost"))


def test_the_same_message_id_again_counts_one_more_send(store):
    store.record_as2_message(_message(mdn_mode="sync", state="mdn-invalid", due_at=None), MDN_OK, now=T0)
    again = store.record_as2_message(_message(mdn_mode="sync", state="delivered", due_at=None), MDN_OK, now=T0)
    assert (again.sends, again.state) == (2, "delivered")
    assert len(store.list_as2_messages()) == 1


def test_a_resend_is_claimed_once_and_pushes_the_deadline(store):
    store.record_as2_message(_message(), now=T0)
    late = T0 + timedelta(hours=2)
    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(lambda _: store.claim_as2_resend("m1@HUB", next_due=late + timedelta(hours=1),
                                                                now=late), range(4)))
    taken = [c for c in claims if c is not None]
    assert len(taken) == 1 and taken[0].sends == 2 and taken[0].due_at == late + timedelta(hours=1)
    assert store.claim_as2_resend("m1@HUB", next_due=late, now=late) is None  # not due again yet


def test_an_overdue_message_is_reported_once_and_a_late_mdn_still_counts(store):
    row = store.record_as2_message(_message(resend_path="/tmp/kept.as2", resend_headers=[["AS2-To", "ACME"]]),
                                   now=T0)
    overdue = store.mark_as2_overdue("m1@HUB", "no MDN", now=T0 + timedelta(hours=2))
    assert (overdue.state, overdue.problems, overdue.resend_path) == ("overdue", "no MDN", None)
    assert store.mark_as2_overdue("m1@HUB", "no MDN") is None
    assert store.pending_as2_messages() == []
    assert [r.id for r in store.list_as2_messages(state="overdue")] == [row.id]
    late = store.record_mdn("m1@HUB", "delivered", MDN_OK, now=T0 + timedelta(hours=3))
    assert late is not None and late.state == "delivered"
    assert [e.event for e in store.events_for("as2_message", row.id)] == ["sent", "overdue", "mdn_received"]


def test_a_negative_async_mdn_fails_the_delivered_transaction(store):
    tx = store.add_transaction(direction="outbound", type="855", partner_id="acme", state="delivered", now=T0)
    other = store.add_transaction(direction="outbound", type="856", partner_id="acme", state="acknowledged", now=T0)
    store.record_as2_message(_message(transaction_id=tx.id), now=T0)
    store.record_as2_message(_message("m2@HUB", transaction_id=other.id), now=T0)
    bad = {**MDN_OK, "disposition": "processed/error: decryption-failed", "problems": "partner reports it"}
    store.record_mdn("m1@HUB", "rejected", bad, now=T0)
    store.record_mdn("m2@HUB", "rejected", bad, now=T0)
    failed = store.get_transaction(tx.id)
    assert failed.state == State.FAILED.value and "decryption-failed" in failed.reason
    assert failed.resume_state == "delivered"
    assert store.get_transaction(other.id).state == "acknowledged"  # only a transaction that waits is failed
    assert [e.event for e in store.events_for("transaction", tx.id)][-3:] == ["as2_sent", "mdn_received", "failed"]


def test_a_message_that_could_not_be_posted_is_forgotten(store):
    store.record_as2_message(_message(), now=T0)
    store.record_as2_message(_message("m2@HUB", mdn_mode="sync", state="delivered", due_at=None), MDN_OK, now=T0)
    assert store.forget_as2_message("m1@HUB").message_id == "m1@HUB"
    assert store.forget_as2_message("m2@HUB") is None  # only a pending one
    assert [r.message_id for r in store.list_as2_messages()] == ["m2@HUB"]
    assert [r.message_id for r in store.list_as2_messages(partner_id="acme", state="delivered")] == ["m2@HUB"]
    assert store.list_as2_messages(partner_id="globex") == []
