"""The ERP is down, then back; the ERP refuses a document, then accepts it after ``edihub reprocess``.

A real HTTP ERP on 127.0.0.1 (:class:`~tests.runtime.helpers_erp_server.IdempotentErp`)
answers 503 while it is "down" and 400 for a document it refuses; the hub runs
``edihub run --once`` (click's CliRunner, in this process, in a temporary
working directory) with retry settings small enough to be waited for.  Nothing
may be lost and nothing delivered twice: every PO reaches the ERP under one
idempotency key and is accepted once.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.store import Store
from tests.runtime.helpers_erp_server import (  # noqa: F401 - erp and db_url are fixtures
    IdempotentErp,
    Request,
    db_url,
    drop_orders,
    edit_profile,
    erp,
    hub_dir,
    read_997s,
    x12_850,
)

# states with work still to do (a file's last state is "parsed": its transactions go on from there)
PENDING = {"file": ("received", "retry_wait"), "transaction": ("parsed", "mapped", "retry_wait")}
FAST_RETRIES = {"retry_base_seconds": 0.05, "retry_max_seconds": 0.2, "max_attempts": 30, "lease_seconds": 5}
BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def _run(config: Path) -> tuple[int, dict]:
    """``edihub run --once --json`` in this process; returns the exit code and the report."""
    result = CliRunner().invoke(main, ["run", "--once", "-c", str(config), "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def _pending(url: str) -> int:
    with Store(url) as store:
        return sum(store.counts_by_state(entity).get(state, 0) for entity, states in PENDING.items()
                   for state in states)


def _run_until_settled(config: Path, url: str, *, timeout: float = 30.0) -> list[dict]:
    """``run --once`` again and again (as cron would) until nothing is left to do; returns the reports."""
    reports = []
    deadline = time.monotonic() + timeout
    while True:
        reports.append(_run(config)[1])
        if _pending(url) == 0:
            return reports
        assert time.monotonic() < deadline, f"still {_pending(url)} item(s) pending after {len(reports)} runs"
        time.sleep(0.05)


def _accepted_by_po(server: IdempotentErp) -> dict[str, list[Request]]:
    out: dict[str, list[Request]] = defaultdict(list)
    for r in server.seen():
        out[r.number].append(r)
    return out


def _inbound_850s(store: Store) -> list:
    return store.list_transactions(direction="inbound", type="850", limit=10_000, newest_first=False)


def _check_delivered_once(server: IdempotentErp, pos: list[str]) -> dict[str, str]:
    """Every PO was accepted (201) exactly once, and every request for it carried the same key; returns PO -> key."""
    by_po = _accepted_by_po(server)
    assert sorted(by_po) == sorted(pos), "the ERP received exactly the POs dropped, no other document"
    keys = {}
    for po, requests in by_po.items():
        assert len({r.key for r in requests}) == 1, f"{po}: several idempotency keys {[r.key for r in requests]}"
        assert [r.status for r in requests].count(201) == 1, f"{po}: answers {[r.status for r in requests]}"
        keys[po] = requests[0].key
    return keys


@BOTH
def test_erp_down_then_back_every_document_delivered_once(tmp_path, monkeypatch, erp, db_url):  # noqa: F811
    down_for = 12  # POSTs answered 503 before the ERP is back: more than the first run's 5 x 2 tries
    calls = Counter()

    def maintenance(request: Request) -> tuple[int, str] | None:
        calls["post"] += 1
        return (503, "down for maintenance") if calls["post"] <= down_for else None

    erp.fault = maintenance
    config = hub_dir(tmp_path, db_url, erp.erp_config(), FAST_RETRIES)
    orders = [x12_850(i, prefix="PO-DOWN") for i in range(5)]
    drop_orders(tmp_path / "inbound" / "acme", orders)
    monkeypatch.chdir(tmp_path)

    reports = _run_until_settled(config, db_url)

    assert reports[0]["retries"] >= 5 and reports[0]["failed"] == 0
    assert [r.status for r in erp.seen()][:10] == [503] * 10, "each document was tried twice, then parked"
    statuses = Counter(r.status for r in erp.seen())
    assert statuses[503] == down_for and statuses[201] == 5, statuses
    keys = _check_delivered_once(erp, [o.po for o, _ in orders])
    with Store(db_url) as store:
        txs = _inbound_850s(store)
        assert len(txs) == 5
        for tx in txs:
            assert tx.state == "delivered", (tx.id, tx.state, tx.reason)
            assert keys[tx.document_number] == f"edihub-acme-850-{tx.control_number}-t{tx.id}"
            events = [e.event for e in store.events_for("transaction", tx.id)]
            assert "retry_wait" in events, events
            assert events.index("delivery_transient") < events.index("retry_wait") < events.index("delivered")
            assert events.count("delivered") == 1 and events.count("delivery_ok") == 1, events
            assert events.index("delivery_ok") > max(i for i, e in enumerate(events) if e == "retry_wait")
            waits = [e for e in store.events_for("transaction", tx.id) if e.event == "retry_wait"]
            assert all("503" in (e.detail or {}).get("reason", "") or "circuit" in (e.detail or {}).get("reason", "")
                       for e in waits), [e.detail for e in waits]
            deliveries = store.deliveries_for(tx.id)
            assert {d.idempotency_key for d in deliveries} == {keys[tx.document_number]}
            assert [d.status for d in deliveries].count("ok") == 1 and deliveries[-1].status == "ok"
            assert tx.attempts == 0 and tx.resume_state is None
        assert set(store.counts_by_state("transaction")) == {"delivered"}
    acks = read_997s(tmp_path / "outbound" / "acme")
    assert sorted(g for groups in acks.values() for g in groups) == sorted(o.gs06 for o, _ in orders)
    assert not list((tmp_path / "inbound" / "acme").iterdir())


@BOTH
def test_a_400_fails_the_transaction_until_reprocess(tmp_path, monkeypatch, erp, db_url):  # noqa: F811
    orders = [x12_850(i, prefix="PO-BAD") for i in range(3)]
    refused = {orders[1][0].po}

    def refuse(request: Request) -> tuple[int, str] | None:
        return (400, "unknown ship-to location DC01") if request.number in refused else None

    erp.fault = refuse
    config = hub_dir(tmp_path, db_url, erp.erp_config(), FAST_RETRIES)
    drop_orders(tmp_path / "inbound" / "acme", orders)
    monkeypatch.chdir(tmp_path)

    code, report = _run(config)
    assert code == 1 and report["failed"] == 1 and report["delivered"] == 2 and report["retries"] == 0
    with Store(db_url) as store:
        (bad,) = [t for t in _inbound_850s(store) if t.document_number in refused]
        assert bad.state == "failed"
        assert "400" in bad.reason and "unknown ship-to location DC01" in bad.reason, bad.reason
        assert bad.resume_state == "mapped"
        assert [d.status for d in store.deliveries_for(bad.id)] == ["terminal"]
    assert [r.status for r in erp.seen() if r.number in refused] == [400], "a 400 is not retried"

    # not retried by later runs: a person must look
    assert _run(config)[0] == 0
    assert [r.status for r in erp.seen() if r.number in refused] == [400]

    # the ERP's master data is fixed; the operator reprocesses what failed
    refused.clear()
    result = CliRunner().invoke(main, ["reprocess", "--state", "failed", "-c", str(config), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reprocessed"] == [{"entity": "transaction", "id": bad.id,
                                                         "resumed_at": "mapped"}]
    code, report = _run(config)
    assert code == 0 and report["delivered"] == 1 and report["failed"] == 0

    keys = _check_delivered_once(erp, [o.po for o, _ in orders])
    assert [r.status for r in erp.seen() if r.key == keys[bad.document_number]] == [400, 201]
    with Store(db_url) as store:
        tx = store.get_transaction(bad.id)
        assert tx.state == "delivered" and tx.reason is None
        events = [e.event for e in store.events_for("transaction", tx.id)]
        assert events[-4:] == ["failed", "mapped", "delivery_ok", "delivered"], events
        assert [d.status for d in store.deliveries_for(tx.id)] == ["terminal", "ok"]
        assert set(store.counts_by_state("transaction")) == {"delivered"}
    # nothing failed any more: a second reprocess has nothing to do
    result = CliRunner().invoke(main, ["reprocess", "--state", "failed", "-c", str(config), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["reprocessed"] == []


def test_erp_down_longer_than_max_attempts_fails_then_reprocess_delivers(tmp_path, monkeypatch, erp):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'var' / 'edihub.db'}"
    down = {"yes": True}
    erp.fault = lambda request: (503, "still down") if down["yes"] else None
    config = hub_dir(tmp_path, url, erp.erp_config(attempts=1, circuit_failures=100), FAST_RETRIES)
    edit_profile(tmp_path, "acme", retry={"max_attempts": 3})  # the partner's policy wins over runtime's
    orders = [x12_850(i, prefix="PO-LONG") for i in range(2)]
    drop_orders(tmp_path / "inbound" / "acme", orders)
    monkeypatch.chdir(tmp_path)

    _run_until_settled(config, url)
    with Store(url) as store:
        txs = _inbound_850s(store)
        assert [t.state for t in txs] == ["failed", "failed"]
        for tx in txs:
            assert tx.reason.startswith("gave up after 3 attempts") and "503" in tx.reason, tx.reason
            events = [e.event for e in store.events_for("transaction", tx.id)]
            assert events.count("retry_wait") == 2 and events[-1] == "failed", events
    assert Counter(r.status for r in erp.seen()) == {503: 6}

    down["yes"] = False
    result = CliRunner().invoke(main, ["reprocess", "--state", "failed", "-c", str(config)], catch_exceptions=False)
    assert result.exit_code == 0 and result.output.count("resumes at mapped") == 2, result.output
    _run_until_settled(config, url)
    _check_delivered_once(erp, [o.po for o, _ in orders])
    with Store(url) as store:
        assert [t.state for t in _inbound_850s(store)] == ["delivered", "delivered"]
