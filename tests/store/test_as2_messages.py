"""The store's record of AS2 messages and their MDNs (table as2_messages), on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from hub.store import State

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MDN_OK = {"mdn_message_id": "mdn-1@ACME", "mdn_received_at": T0 + timedelta(minutes=5), "disposition": "processed",
          "mic_matched": True, "mdn_signed": True, "mdn_sha256": "ab" * 32, "mdn_size": 1234, "problems": None}
MDN_BAD = {**MDN_OK, "disposition": "processed/error: decryption-failed", "problems": "partner reports it"}


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


def _two_sent(store, state: str, other_state: str):
    """Two outbound transactions in these states, carried by the async AS2 messages m1@HUB and m2@HUB."""
    tx = store.add_transaction(direction="outbound", type="855", partner_id="acme", state=state, now=T0)
    other = store.add_transaction(direction="outbound", type="856", partner_id="acme", state=other_state, now=T0)
    store.record_as2_message(_message(transaction_id=tx.id), now=T0)
    store.record_as2_message(_message("m2@HUB", transaction_id=other.id), now=T0)
    return tx, other


def test_a_negative_async_mdn_fails_the_delivered_transaction(store):
    tx, other = _two_sent(store, "delivered", "acknowledged")
    store.record_mdn("m1@HUB", "rejected", MDN_BAD, now=T0)
    store.record_mdn("m2@HUB", "rejected", MDN_BAD, now=T0)
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


def test_a_failed_post_is_kept_for_the_retry_of_its_transaction(store):
    tx = store.add_transaction(direction="outbound", type="810", partner_id="acme", state="mapped", now=T0)
    kept = {"resend_path": "/tmp/kept.as2", "resend_headers": [["AS2-To", "ACME"]]}
    # mdn: sync -- nothing was recorded before the POST
    row = store.record_as2_post_failure(_message(mdn_mode="sync", state="sent", transaction_id=tx.id, **kept),
                                        "HTTP 503", now=T0)
    assert (row.state, row.sends, row.due_at, row.post_error) == ("post-failed", 1, None, "HTTP 503")
    assert store.as2_failed_post(tx.id).id == row.id and store.pending_as2_messages() == []
    again = store.record_as2_post_failure(_message(mdn_mode="sync", state="sent", transaction_id=tx.id, **kept),
                                          "ConnectError", now=T0)
    assert (again.sends, again.post_error) == (2, "ConnectError")  # the retry failed too
    done = store.record_as2_message(_message(mdn_mode="sync", state="delivered", transaction_id=tx.id, due_at=None,
                                             post_error=None, resend_path=None, resend_headers=None), MDN_OK)
    assert (done.state, done.sends, done.post_error, done.resend_path) == ("delivered", 3, None, None)
    assert store.as2_failed_post(tx.id) is None
    assert [e.event for e in store.events_for("transaction", tx.id)][-4:] == [
        "as2_post_failed", "as2_post_failed", "as2_sent", "mdn_received"]

    # mdn: async -- the pending row turns post-failed; an MDN that comes anyway is matched, and taken by the retry
    other = store.add_transaction(direction="outbound", type="810", partner_id="acme", state="mapped", now=T0)
    store.record_as2_message(_message("m2@HUB", transaction_id=other.id), now=T0)
    assert store.record_as2_post_failure(_message("m2@HUB", transaction_id=other.id), "ReadTimeout").state == \
        "post-failed"
    assert store.record_mdn("m2@HUB", "delivered", MDN_OK).state == "delivered"
    assert store.as2_failed_post(other.id).message_id == "m2@HUB"  # its post_error still owed to the retry
    assert store.settle_as2_post_failure("m2@HUB").post_error is None
    assert store.settle_as2_post_failure("m2@HUB") is None and store.as2_failed_post(other.id) is None
    assert store.forget_as2_message("m2@HUB") is None  # answered: never forgotten
    assert store.get_transaction(other.id).state == "mapped"


def test_marking_a_send_delivered_after_its_negative_mdn_fails_it(store):
    tx, ok = _two_sent(store, "mapped", "mapped")
    store.record_mdn("m1@HUB", "rejected", MDN_BAD, now=T0)  # before the pipeline's bookkeeping: nothing to fail yet
    assert store.get_transaction(tx.id).state == "mapped"
    failed = store.record_sent(tx.id, as2_message_ids=["<m1@HUB>"], detail={"sent_as": "x"}, now=T0)
    assert failed.state == "failed" and "m1@HUB" in failed.reason and "decryption-failed" in failed.reason
    events = store.events_for("transaction", tx.id)
    assert [e.event for e in events][-2:] == ["delivered", "failed"]
    assert events[-1].detail["message_id"] == "m1@HUB" and events[-1].detail["mdn_sha256"] == "ab" * 32
    assert store.record_sent(ok.id, as2_message_ids=["m2@HUB"], now=T0).state == "delivered"  # still pending
    assert store.record_sent(ok.id, now=T0).state == "delivered"  # not AS2 at all


def test_other_mdns_are_logged_on_their_message_or_the_endpoint(store):
    tx = store.add_transaction(direction="outbound", type="855", partner_id="acme", state="delivered", now=T0)
    row = store.record_as2_message(_message(transaction_id=tx.id), now=T0)
    store.record_mdn("m1@HUB", "delivered", MDN_OK, now=T0)
    again = {"mdn_sha256": "cd" * 32, "disposition": "processed/warning: duplicate-document"}
    assert store.record_other_mdn("acme", "mdn_again", again, message_id="<m1@HUB>", now=T0).id == row.id
    assert store.record_other_mdn("globex", "mdn_again", again, message_id="m1@HUB") is None  # not globex's
    assert store.record_other_mdn("a_c%e", "mdn_refused", {"mdn_sha256": "ef" * 32, "error": "bad"}) is None
    message = store.as2_message("m1@HUB")
    assert (message.state, message.mdn_sha256) == ("delivered", "ab" * 32)  # the first verdict stands
    assert [e.event for e in store.events_for("transaction", tx.id)][-1] == "mdn_again"
    logged = [(e.event, mid, e.detail.get("partner")) for e, mid in store.as2_events()]
    assert logged[:3] == [("mdn_refused", None, "a_c%e"), ("mdn_again", None, "globex"), ("mdn_again", "m1@HUB",
                                                                                         "acme")]
    assert [(e.event, mid) for e, mid in store.as2_events(partner_id="acme")][:1] == [("mdn_again", "m1@HUB")]
    assert [e.detail["partner"] for e, _ in store.as2_events(partner_id="a_c%e")] == ["a_c%e"]
    assert store.as2_events(partner_id="abc%e") == [] and store.as2_events(partner_id="a") == []
    assert store.as2_events(limit=1)[0][0].event == "mdn_refused"
    assert all(store.as2_mdn_known(sha) for sha in ("ab" * 32, "CD" * 32, "ef" * 32))
    assert not store.as2_mdn_known("12" * 32) and not store.as2_mdn_known("%") and not store.as2_mdn_known("")
