"""The HTTP adapter against a real HTTP server on 127.0.0.1, scripted per test (statuses, delays, headers)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hub.erp import ErpAdapter, build_adapter
from hub.erp.http import CircuitBreaker, HttpAdapter, parse_retry_after
from hub.errors import TerminalError, TransientError
from tests.erp.conftest import golden

DOCS = "/erp/documents"
OUTBOUND = "/erp/outbound"


@dataclass
class Reply:
    status: int = 201
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedErp:
    """A real HTTP server whose answers are queued per path; unscripted POSTs get 201 with an id."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.replies: dict[str, deque[Reply]] = defaultdict(deque)
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner.lock:
                    owner.requests.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                    queue = owner.replies[self.path]
                    reply = queue.popleft() if queue else Reply(201, {"id": f"ERP-{len(owner.requests)}"})
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, (bytes, str)) else json.dumps(reply.body)
                data = payload.encode() if isinstance(payload, str) else payload
                try:
                    self.send_response(reply.status)
                    is_json = not isinstance(reply.body, (bytes, str))
                    self.send_header("Content-Type", "application/json" if is_json else "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def script(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.replies[path].extend(replies)

    def seen(self, path: str = DOCS) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def erp_server():
    server = ScriptedErp()
    yield server
    server.stop()


class Sleeps(list):
    """Records the waits the adapter asks for, without waiting (backoff timing is asserted, not endured)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(server: ScriptedErp, **kwargs: Any) -> HttpAdapter:
    kwargs.setdefault("attempts", 4)
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("backoff_cap", 0.05)
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("outbound_url", server.base + OUTBOUND)
    return HttpAdapter(server.base + DOCS, **kwargs)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------- posting


def test_posts_json_with_idempotency_key_token_and_headers(erp_server):
    erp = make(
        erp_server,
        token="${ERP_TOKEN}",
        headers={"X-Tenant": "acme", "X-Api-Key": "${ERP_API_KEY}"},
        environ={"ERP_TOKEN": "s3cret", "ERP_API_KEY": "k-123"},
    )
    document = golden("850-basic")
    delivery = erp.post(document, "key-850-1")
    assert delivery.reference == "ERP-1" and not delivery.duplicate
    assert delivery.response == {"id": "ERP-1"}
    (request,) = erp_server.seen()
    assert request.method == "POST"
    assert request.headers["Idempotency-Key"] == "key-850-1"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["X-Tenant"] == "acme" and request.headers["X-Api-Key"] == "k-123"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == document
    assert isinstance(erp, ErpAdapter)
    erp.close()


def test_reference_from_location_and_replayed_duplicates(erp_server):
    erp = make(erp_server)
    erp_server.script(DOCS, Reply(202, "accepted", {"Location": "/erp/documents/77"}))
    erp_server.script(DOCS, Reply(200, {"reference": "R-9"}, {"Idempotent-Replayed": "true"}))
    first = erp.post(golden("850-basic"), "k1")
    assert first.reference == "/erp/documents/77" and first.response == "accepted" and not first.duplicate
    second = erp.post(golden("850-basic"), "k1")
    assert second.reference == "R-9" and second.duplicate


def test_retries_503_then_delivers_with_the_same_key(erp_server):
    sleeps = Sleeps()
    erp = make(erp_server, sleep=sleeps, jitter=False)
    erp_server.script(DOCS, Reply(503, "busy"), Reply(503, "busy"))
    delivery = erp.post(golden("850-basic"), "k-retry")
    assert delivery.reference == "ERP-3"
    seen = erp_server.seen()
    assert len(seen) == 3 and {r.headers["Idempotency-Key"] for r in seen} == {"k-retry"}
    assert sleeps == [0.01, 0.02]  # exponential backoff from backoff_base


def test_backoff_is_capped_and_jittered(erp_server):
    sleeps = Sleeps()
    erp = make(erp_server, sleep=sleeps, attempts=6, backoff_base=1.0, backoff_cap=4.0)
    erp_server.script(DOCS, *[Reply(500)] * 5)
    erp.post(golden("850-basic"), "k")
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == 5 and all(cap / 2 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


def test_retries_exhausted_is_transient(erp_server):
    erp = make(erp_server, attempts=3, sleep=Sleeps())
    erp_server.script(DOCS, *[Reply(502, "bad gateway")] * 3)
    with pytest.raises(TransientError, match=r"502.*after 3 attempt") as info:
        erp.post(golden("850-basic"), "k")
    assert len(erp_server.seen()) == 3
    assert info.value.retry_after is None


def test_429_honours_retry_after(erp_server):
    sleeps = Sleeps()
    erp = make(erp_server, sleep=sleeps)
    erp_server.script(DOCS, Reply(429, "slow down", {"Retry-After": "2"}))
    assert erp.post(golden("850-basic"), "k").reference == "ERP-2"
    assert sleeps == [2.0]


def test_429_really_waits_the_retry_after(erp_server):
    erp = make(erp_server)  # real sleep
    erp_server.script(DOCS, Reply(429, "slow down", {"Retry-After": "0.3"}))
    started = time.monotonic()
    erp.post(golden("850-basic"), "k")
    assert time.monotonic() - started >= 0.3
    assert len(erp_server.seen()) == 2


def test_a_long_retry_after_is_handed_to_the_scheduler(erp_server):
    sleeps = Sleeps()
    erp = make(erp_server, sleep=sleeps, max_retry_after=60)
    erp_server.script(DOCS, Reply(429, "come back tomorrow", {"Retry-After": "3600"}))
    with pytest.raises(TransientError) as info:
        erp.post(golden("850-basic"), "k")
    assert info.value.retry_after == 3600 and sleeps == [] and len(erp_server.seen()) == 1


def test_4xx_is_terminal_with_status_and_body_and_not_retried(erp_server):
    erp = make(erp_server, sleep=Sleeps())
    erp_server.script(DOCS, Reply(400, {"error": "unknown product ABC-1"}))
    with pytest.raises(TerminalError, match=r"400.*unknown product ABC-1"):
        erp.post(golden("850-basic"), "k")
    erp_server.script(DOCS, Reply(422, "x" * 2000))
    with pytest.raises(TerminalError, match="422") as info:
        erp.post(golden("850-basic"), "k")
    assert len(str(info.value)) < 700  # an excerpt, not the whole body
    assert len(erp_server.seen()) == 2


def test_408_is_retried_and_redirects_are_not_followed(erp_server):
    erp = make(erp_server, sleep=Sleeps())
    erp_server.script(DOCS, Reply(408))
    assert erp.post(golden("850-basic"), "k").reference == "ERP-2"
    erp_server.script(DOCS, Reply(307, "", {"Location": "http://elsewhere.invalid/"}))
    with pytest.raises(TerminalError, match="307"):
        erp.post(golden("850-basic"), "k")


def test_409_counts_as_a_delivered_duplicate(erp_server):
    erp = make(erp_server)
    erp_server.script(DOCS, Reply(409, {"id": "ERP-OLD", "error": "duplicate Idempotency-Key"}))
    delivery = erp.post(golden("850-basic"), "k")
    assert delivery.duplicate and delivery.reference == "ERP-OLD"
    strict = make(erp_server, conflict_is_duplicate=False)
    erp_server.script(DOCS, Reply(409, "version conflict"))
    with pytest.raises(TerminalError, match="409"):
        strict.post(golden("850-basic"), "k")


def test_slow_answers_time_out_and_are_retried(erp_server):
    erp = make(erp_server, timeout=0.2, sleep=Sleeps())
    erp_server.script(DOCS, Reply(201, {"id": "too-late"}, delay=0.6))
    delivery = erp.post(golden("850-basic"), "k")
    assert delivery.reference == "ERP-2" and len(erp_server.seen()) == 2
    once = make(erp_server, timeout=0.2, attempts=1)
    erp_server.script(DOCS, Reply(201, delay=0.6))
    with pytest.raises(TransientError, match="timed out"):
        once.post(golden("850-basic"), "k")


def test_a_closed_port_is_transient():
    erp = HttpAdapter(f"http://127.0.0.1:{closed_port()}/erp", attempts=2, backoff_base=0.001, sleep=Sleeps())
    with pytest.raises(TransientError, match="unreachable.*after 2 attempt"):
        erp.post(golden("850-basic"), "k")


def test_bad_documents_are_terminal_before_the_network(erp_server):
    erp = make(erp_server)
    with pytest.raises(TerminalError, match="idempotency key"):
        erp.post(golden("850-basic"), "")
    with pytest.raises(TerminalError, match="JSON-serialisable"):
        erp.post({"document_type": "invoice", "when": object()}, "k")
    assert erp_server.seen() == []


# --------------------------------------------------------- circuit breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_circuit_opens_fails_fast_and_recovers_half_open(erp_server):
    clock = Clock()
    erp = make(erp_server, attempts=2, circuit_failures=2, circuit_reset=30, clock=clock, sleep=Sleeps())
    erp_server.script(DOCS, *[Reply(503)] * 4)
    for _ in range(2):
        with pytest.raises(TransientError, match="503"):
            erp.post(golden("850-basic"), "k")
    assert erp.breaker.state == "open" and len(erp_server.seen()) == 4
    clock.now += 10
    with pytest.raises(TransientError, match="circuit open") as info:
        erp.post(golden("850-basic"), "k")
    assert info.value.retry_after == pytest.approx(20)
    assert len(erp_server.seen()) == 4  # failed fast: the network was not touched
    clock.now += 20.5
    delivery = erp.post(golden("850-basic"), "k")  # the half-open trial succeeds
    assert delivery.reference == "ERP-5" and erp.breaker.state == "closed"
    erp.post(golden("850-basic"), "k2")
    assert len(erp_server.seen()) == 6


def test_a_failed_trial_reopens_the_circuit_after_one_try(erp_server):
    clock = Clock()
    erp = make(erp_server, attempts=3, circuit_failures=1, circuit_reset=5, clock=clock, sleep=Sleeps())
    erp_server.script(DOCS, *[Reply(500)] * 3)
    with pytest.raises(TransientError):
        erp.post(golden("850-basic"), "k")
    assert erp.breaker.state == "open" and len(erp_server.seen()) == 3
    clock.now += 6
    erp_server.script(DOCS, Reply(500), Reply(500), Reply(500))
    with pytest.raises(TransientError, match="after 1 attempt"):
        erp.post(golden("850-basic"), "k")  # the trial is a single try
    assert len(erp_server.seen()) == 4 and erp.breaker.state == "open"
    with pytest.raises(TransientError, match="circuit open"):
        erp.post(golden("850-basic"), "k")
    assert len(erp_server.seen()) == 4


def test_the_circuit_recovers_in_real_time(erp_server):
    erp = make(erp_server, attempts=1, circuit_failures=1, circuit_reset=0.3)
    erp_server.script(DOCS, Reply(503))
    with pytest.raises(TransientError):
        erp.post(golden("850-basic"), "k")
    with pytest.raises(TransientError, match="circuit open"):
        erp.post(golden("850-basic"), "k")
    time.sleep(0.35)
    assert erp.post(golden("850-basic"), "k").reference == "ERP-2"


def test_only_one_trial_runs_while_half_open(erp_server):
    clock = Clock()
    erp = make(erp_server, attempts=1, circuit_failures=1, circuit_reset=1, clock=clock)
    erp_server.script(DOCS, Reply(503), Reply(201, {"id": "trial"}, delay=0.5))
    with pytest.raises(TransientError):
        erp.post(golden("850-basic"), "k")
    clock.now += 2
    result: dict[str, Any] = {}
    trial = threading.Thread(target=lambda: result.setdefault("d", erp.post(golden("850-basic"), "k")))
    trial.start()
    deadline = time.monotonic() + 2
    while len(erp_server.seen()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(TransientError, match="half-open"):
        erp.post(golden("850-basic"), "other")
    trial.join()
    assert result["d"].reference == "trial" and erp.breaker.state == "closed"
    assert len(erp_server.seen()) == 2


def test_terminal_answers_do_not_open_the_circuit(erp_server):
    erp = make(erp_server, attempts=1, circuit_failures=2)
    erp_server.script(DOCS, Reply(503), Reply(400), Reply(503), Reply(400))
    for expected in (TransientError, TerminalError, TransientError, TerminalError):
        with pytest.raises(expected):
            erp.post(golden("850-basic"), "k")
    assert erp.breaker.state == "closed"


def test_breaker_unit_counts_consecutive_failures_only():
    clock = Clock()
    breaker = CircuitBreaker(3, 10, clock)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed" and breaker.acquire() is False
    breaker.failure()
    assert breaker.state == "open"
    clock.now += 10
    assert breaker.acquire() is True and breaker.state == "half_open"


# ---------------------------------------------------------------- outbound


def test_fetch_outbound_and_settle_with_acks(erp_server):
    asn, invoice = golden("856-basic"), golden("810-basic")
    entries = [
        {"id": 17, "document": asn},
        {"id": "inv/2", "document": invoice},
        {"id": "bad", "document": "not an object"},
        {"id": "invalid", "document": {"document_type": "invoice"}},
        {"document": asn},
    ]
    erp_server.script(OUTBOUND, Reply(200, entries), Reply(200, entries))
    erp = make(erp_server, token="${T}", environ={"T": "tok"})
    items = erp.fetch_outbound()
    assert [i.id for i in items][:4] == ["17", "inv/2", "bad", "invalid"]
    assert items[4].id.startswith("invalid-") and not items[4].ok
    assert [i.ok for i in items] == [True, True, False, False, False]
    assert items[0].document == asn and items[1].document == invoice
    assert "not a valid canonical document" in str(items[3].error)
    assert [i.id for i in erp.fetch_outbound()] == [i.id for i in items]  # stable across fetches
    (get, _) = erp_server.seen(OUTBOUND)
    assert get.method == "GET" and get.headers["Authorization"] == "Bearer tok"
    for item in items:
        erp.settle(item)
    acks = [r for r in erp_server.requests if r.path.endswith("/ack")]
    assert [r.path for r in acks] == [
        f"{OUTBOUND}/17/ack",
        f"{OUTBOUND}/inv%2F2/ack",
        f"{OUTBOUND}/bad/ack",
        f"{OUTBOUND}/invalid/ack",
    ]
    assert acks[0].json() == {"status": "received"} and acks[0].headers["Idempotency-Key"] == "ack-17"
    assert acks[2].json()["status"] == "failed" and "not a JSON object" in acks[2].json()["error"]


def test_settle_errors_and_already_settled(erp_server):
    erp = make(erp_server)
    erp_server.script(OUTBOUND, Reply(200, [{"id": 1, "document": golden("856-basic")}]))
    (item,) = erp.fetch_outbound()
    ack = f"{OUTBOUND}/1/ack"
    erp_server.script(ack, Reply(410, "gone"), Reply(503, "later", {"Retry-After": "7"}), Reply(404, "no such"))
    erp.settle(item)  # 410: settled before
    with pytest.raises(TransientError) as info:
        erp.settle(item)
    assert info.value.retry_after == 7
    with pytest.raises(TerminalError, match="404"):
        erp.settle(item)


def test_custom_ack_url_template(erp_server):
    erp = make(erp_server, ack_url=erp_server.base + "/erp/acks?id={id}")
    erp_server.script(OUTBOUND, Reply(200, [{"id": "a b", "document": golden("856-basic")}]))
    erp.settle(erp.fetch_outbound()[0])
    assert erp_server.seen("/erp/acks?id=a%20b")[0].method == "POST"


def test_fetch_outbound_errors(erp_server):
    erp = make(erp_server)
    erp_server.script(OUTBOUND, Reply(503, "maintenance"), Reply(200, {"not": "a list"}), Reply(200, "<html>"))
    with pytest.raises(TransientError, match="503"):
        erp.fetch_outbound()
    with pytest.raises(TerminalError, match="JSON list"):
        erp.fetch_outbound()
    with pytest.raises(TerminalError, match="did not answer JSON"):
        erp.fetch_outbound()
    down = HttpAdapter(f"http://127.0.0.1:{closed_port()}/erp", outbound_url=f"http://127.0.0.1:{closed_port()}/o")
    with pytest.raises(TransientError, match="unreachable"):
        down.fetch_outbound()
    assert HttpAdapter(erp_server.base + DOCS).fetch_outbound() == []  # no outbound_url: nothing to fetch


# ------------------------------------------------------------------ config


def test_config_and_secrets(erp_server, monkeypatch):
    monkeypatch.setenv("EDIHUB_TEST_ERP_TOKEN", "from-env")
    erp = build_adapter(
        {"type": "http", "http": {"url": erp_server.base + DOCS, "token": "${EDIHUB_TEST_ERP_TOKEN}"}, "sql": {"x": 1}}
    )
    assert isinstance(erp, HttpAdapter) and erp.attempts == 4 and erp.breaker.failures == 5
    erp.post(golden("850-basic"), "k")
    assert erp_server.seen()[0].headers["Authorization"] == "Bearer from-env"
    with pytest.raises(ValueError, match="reference"):
        build_adapter({"type": "http", "url": erp_server.base, "token": "plain-secret"})
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        build_adapter({"type": "http", "url": erp_server.base, "token": "${NOT_SET_ANYWHERE}"})
    with pytest.raises(ValueError, match="url"):
        build_adapter({"type": "http"})
    with pytest.raises(ValueError, match="http"):
        build_adapter({"type": "http", "url": "ftp://example.com/"})
    with pytest.raises(ValueError, match="ack_url"):
        build_adapter({"type": "http", "url": erp_server.base, "ack_url": "{base}/{id}"})
    with pytest.raises(ValueError, match="retries"):
        build_adapter({"type": "http", "url": erp_server.base, "retries": 3})


def test_parse_retry_after_forms():
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < parse_retry_after(format_datetime(later, usegmt=True)) <= 30
    assert parse_retry_after("-5") == 0


def test_a_key_that_cannot_be_a_header_is_terminal(erp_server):
    with pytest.raises(TerminalError, match="ASCII"):
        make(erp_server).post(golden("850-basic"), "clé-1")
    assert erp_server.seen() == []
