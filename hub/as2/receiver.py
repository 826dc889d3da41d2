"""The AS2 receiving endpoint: messages in, payloads to the pipeline, MDNs out; async MDNs for what we sent.

:class:`As2Receiver` is the protocol logic, independent of any HTTP server:
``handle(headers, body_path)`` takes one POST (its body already on disk) and
returns the HTTP reply plus, for an asynchronous MDN, the work to do *after*
the reply was sent.  :class:`As2HttpServer` puts it on a
:class:`~http.server.ThreadingHTTPServer` (what ``edihub serve`` will run):
it reads ``Content-Length`` and ``chunked`` bodies to a temporary file with a
size limit, so a 50 MB message never sits in memory.

One message, step by step:

1. the partnership from AS2-From/AS2-To (unknown pair: HTTP 403, no MDN --
   we do not post receipts to URLs named by strangers);
2. decrypt, verify, decompress, MIC (:func:`hub.as2.message.unwrap`); a
   failure becomes the MDN disposition its exception names;
3. duplicate check *after* verification (only an authentic message can be a
   duplicate), then ``on_payload(partner_id, filename, payload, message_id)``
   -- ``bytes`` up to ``inline_limit``, else the ``Path`` of a temporary file
   the callback must copy or move before returning;
4. the MDN, signed when asked, returned in the HTTP response (sync) or
   posted to Receipt-Delivery-Option after the response (async).

A :class:`~hub.errors.TransientError` from ``on_payload`` (the store is
down) is answered with HTTP 503 and no MDN, and the Message-ID claim is
released: AS2 clients resend on 5xx, and the resend is then processed.

An async MDN for a message of ours is matched in the registry by its
Original-Message-ID; one that is refused while being read (answered 400),
or that no message waits for (a second MDN), is handed to the registry's
``record_other_mdn`` when it has one, so that it is kept all the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from hub.as2.certs import KeyPair
from hub.as2.errors import As2Error, UnexpectedProcessingError, UnknownPartnership
from hub.as2.mdn import (
    DUPLICATE,
    MAX_MDN_BYTES,
    PROCESSED,
    Disposition,
    OutgoingMdn,
    ReceivedMdn,
    as2_unquote,
    build_mdn,
    error_disposition,
    is_mdn_entity,
    parse_mdn,
    parse_mdn_request,
    raw_http_message,
)
from hub.as2.message import Unwrapped, unwrap
from hub.as2.mime import Span, entity_from_headers, safe_filename
from hub.as2.partnership import Identity, Partnership
from hub.as2.state import AsyncMdnRegistry, MdnOutcome, SeenMessageIds, check_mdn
from hub.errors import TransientError

__all__ = ["As2HttpServer", "As2Receiver", "HttpReply", "PayloadHandler", "ReceiveOutcome", "post_mdn"]

log = logging.getLogger(__name__)

PayloadHandler = Callable[[str, str, "bytes | Path", str], None]
"""``on_payload(partner_id, filename, bytes_or_path, message_id)``."""

DEFAULT_MAX_SIZE = 512 << 20
DEFAULT_MAX_DECOMPRESSED = 1 << 30
#: How much of an oversized body is read and dropped before answering 413 (beyond that: the connection is closed).
DRAIN_LIMIT = 64 << 20


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    after: Callable[[], None] | None = field(default=None, repr=False)
    """Work to run once the reply is on the wire (posting an async MDN)."""


@dataclass(frozen=True)
class ReceiveOutcome:
    """What happened to one POST (for logs, metrics and tests)."""

    kind: str
    """``message``, ``async-mdn`` or ``rejected`` (no partnership, bad request)."""
    message_id: str | None
    partner_id: str | None = None
    disposition: Disposition | None = None
    mdn: OutgoingMdn | None = None
    mdn_mode: str = "none"
    filename: str | None = None
    size: int | None = None
    unwrapped: Unwrapped | None = field(default=None, repr=False)
    error: str | None = None
    received_mdn: ReceivedMdn | None = field(default=None, repr=False)
    mdn_outcome: MdnOutcome | None = field(default=None, repr=False)


def _text(status: int, message: str) -> HttpReply:
    return HttpReply(status, (("Content-Type", "text/plain; charset=utf-8"),), (message + "\n").encode("utf-8"))


def post_mdn(url: str, mdn: OutgoingMdn, *, timeout: float = 60.0, attempts: int = 3,
             backoff: float = 1.0, client: httpx.Client | None = None) -> int:
    """POST an asynchronous MDN to the partner's Receipt-Delivery-Option URL, retrying transient failures.

    Returns the HTTP status; raises :class:`TransientError` when every attempt failed.
    """
    own = client is None
    client = client or httpx.Client(timeout=timeout)
    try:
        last = ""
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, content=mdn.body, headers=list(mdn.headers))
                if response.status_code < 500:
                    return response.status_code
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
        raise TransientError(f"async MDN to {url} not delivered: {last}")
    finally:
        if own:
            client.close()


class As2Receiver:
    """Receives AS2 messages and async MDNs for a set of partnerships (see the module docstring)."""

    def __init__(self, partnerships: Iterable[Partnership], identity: Identity | Sequence[KeyPair] | KeyPair,
                 on_payload: PayloadHandler, seen_message_ids: SeenMessageIds, *,
                 max_size: int = DEFAULT_MAX_SIZE, max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED,
                 inline_limit: int = 1 << 20, workdir: str | Path | None = None,
                 mdn_registry: AsyncMdnRegistry | None = None,
                 on_mdn: Callable[[MdnOutcome], None] | None = None,
                 send_async_mdn: Callable[[str, OutgoingMdn], None] | None = None,
                 reporting_ua: str = "edihub AS2", mdn_only: Iterable[Partnership] = ()) -> None:
        self.partnerships = {(p.as2_id, p.our_as2_id): p for p in partnerships}
        self.mdn_partnerships = {(p.as2_id, p.our_as2_id): p for p in mdn_only}
        """Partners we send to but do not receive messages from: their async MDNs are taken, their messages
        refused like a stranger's."""
        if isinstance(identity, KeyPair):
            identity = (identity,)
        self.keys: tuple[KeyPair, ...] = identity.keys if isinstance(identity, Identity) else tuple(identity)
        if not self.keys:
            raise ValueError("the receiver needs at least one key pair")
        self.on_payload = on_payload
        self.seen = seen_message_ids
        self.max_size = max_size
        self.max_decompressed_size = max_decompressed_size
        self.inline_limit = inline_limit
        self.workdir = Path(workdir) if workdir else None
        if self.workdir:
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.mdn_registry = mdn_registry
        self.on_mdn = on_mdn
        self.send_async_mdn = send_async_mdn or self._post_async_mdn
        self.reporting_ua = reporting_ua
        self.outcomes: list[ReceiveOutcome] = []
        """The last outcomes (at most 100), newest last -- for tests and a status page."""
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _post_async_mdn(url: str, mdn: OutgoingMdn) -> None:
        post_mdn(url, mdn)

    def _keys_for(self, p: Partnership) -> tuple[KeyPair, ...]:
        return p.identity.keys + self.keys if p.identity else self.keys

    def _signer_for(self, p: Partnership) -> KeyPair:
        return p.identity.signer if p.identity else self.keys[0]

    def _record(self, outcome: ReceiveOutcome) -> ReceiveOutcome:
        with self._lock:
            self.outcomes.append(outcome)
            del self.outcomes[:-100]
        return outcome

    def new_workdir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="as2-in-", dir=self.workdir))

    # ---------------------------------------------------------------------------------------- entry point

    def handle(self, headers: Iterable[tuple[str, str]], body: Path) -> tuple[HttpReply, ReceiveOutcome]:
        """Process one POST whose body is in the file ``body``; the caller sends the reply, then runs
        ``reply.after``.  Temporary files are removed before this returns."""
        pairs = tuple((str(k), str(v)) for k, v in headers)
        work = self.new_workdir()
        try:
            return self._handle(pairs, body, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _handle(self, pairs: tuple[tuple[str, str], ...], body: Path,
                work: Path) -> tuple[HttpReply, ReceiveOutcome]:
        top = entity_from_headers(pairs, Span.of(body))
        message_id = str(top.headers.get("Message-ID") or "").strip()
        as2_from = as2_unquote(str(top.headers.get("AS2-From") or ""))
        as2_to = as2_unquote(str(top.headers.get("AS2-To") or ""))
        p = self.partnerships.get((as2_from, as2_to))
        mdn_partnership = p or self.mdn_partnerships.get((as2_from, as2_to))
        if mdn_partnership is not None:
            try:
                mdn_entity = is_mdn_entity(top)
            except As2Error:
                mdn_entity = False
            if mdn_entity:
                return self._receive_mdn(mdn_partnership, pairs, top.body)
        if p is None:
            error = UnknownPartnership(f"no AS2 partnership from {as2_from!r} to {as2_to!r}")
            log.warning("AS2 POST refused: %s", error)
            return _text(403, str(error)), self._record(ReceiveOutcome("rejected", message_id or None,
                                                                       error=str(error)))
        if not message_id:
            return _text(400, "AS2 message without Message-ID"), self._record(
                ReceiveOutcome("rejected", None, p.partner_id, error="no Message-ID"))
        request = parse_mdn_request(top.headers)
        unwrapped: Unwrapped | None = None
        error: str | None = None
        filename: str | None = None
        try:
            unwrapped = unwrap(top, keys=self._keys_for(p), partner_certs=p.certs, workdir=work,
                               micalg=request.micalg, require_signed=p.require_signed,
                               require_encrypted=p.require_encrypted, max_decompressed=self.max_decompressed_size)
            filename = safe_filename(unwrapped.filename, f"{message_id.strip('<>')}.edi")
            if not self.seen.claim(p.partner_id, message_id):
                disposition = DUPLICATE
                log.info("AS2 %s from %s: duplicate Message-ID, not processed again", message_id, p.partner_id)
            else:
                try:
                    self._deliver(p, filename, unwrapped, message_id, work)
                except TransientError as exc:
                    self.seen.release(p.partner_id, message_id)
                    log.warning("AS2 %s from %s: hand-off failed, asking for a resend: %s", message_id,
                                p.partner_id, exc)
                    return _text(503, f"temporarily unable to accept the message: {exc}"), self._record(
                        ReceiveOutcome("message", message_id, p.partner_id, error=str(exc)))
                except Exception as exc:
                    self.seen.release(p.partner_id, message_id)
                    raise UnexpectedProcessingError(f"payload hand-off failed: {exc}") from exc
                disposition = PROCESSED
        except As2Error as exc:
            disposition = error_disposition(exc.modifier)
            error = str(exc)
            log.warning("AS2 %s from %s: %s (%s)", message_id, p.partner_id, disposition.status, exc)
        except Exception as exc:  # a bug or an I/O failure: still answer with an MDN, as RFC 4130 asks
            disposition = error_disposition("unexpected-processing-error")
            error = f"{type(exc).__name__}: {exc}"
            log.exception("AS2 %s from %s: unexpected failure", message_id, p.partner_id)
        outcome = ReceiveOutcome("message", message_id, p.partner_id, disposition, None, request.mode, filename,
                                 unwrapped.payload.length if unwrapped else None, unwrapped, error)
        if not request.requested:
            status = 200 if disposition.ok else 400
            return _text(status, f"AS2 message {disposition.status}"), self._record(outcome)
        mdn = build_mdn(original_message_id=message_id, our_as2_id=p.our_as2_id, partner_as2_id=p.as2_id,
                        disposition=disposition, mic=unwrapped.mic if unwrapped else None,
                        signer=self._signer_for(p) if request.signed else None, micalg=request.micalg,
                        reporting_ua=self.reporting_ua,
                        text=None if disposition.ok else f"The AS2 message could not be processed: "
                                                         f"{disposition.status}.")
        outcome = dataclasses.replace(outcome, mdn=mdn)
        if request.async_url and not p.accepts_mdn_url(request.async_url):
            log.warning("AS2 %s from %s: not posting the MDN to %s (not an agreed URL); answering synchronously",
                        message_id, p.partner_id, request.async_url)
            outcome = dataclasses.replace(outcome, mdn_mode="sync")
        elif request.async_url:
            url = request.async_url

            def send_later() -> None:
                try:
                    self.send_async_mdn(url, mdn)
                except Exception:
                    log.exception("async MDN for %s to %s failed", message_id, url)

            return HttpReply(200, (("Content-Type", "text/plain; charset=utf-8"),),
                             b"AS2 message received; the MDN follows asynchronously\n", send_later), \
                self._record(outcome)
        return HttpReply(200, mdn.headers, mdn.body), self._record(outcome)

    def _deliver(self, p: Partnership, filename: str, unwrapped: Unwrapped, message_id: str, work: Path) -> None:
        """Hand the payload over: bytes when small, else a file of its own in this message's work folder
        (a decoded layer is reused as is; a payload inside a larger file is copied out first)."""
        payload = unwrapped.payload
        if payload.length <= self.inline_limit:
            self.on_payload(p.partner_id, filename, payload.read(self.inline_limit), message_id)
            return
        source = payload.source
        if (isinstance(source, Path) and source.parent == work and payload.start == 0
                and payload.length == source.stat().st_size):
            path = source
        else:
            path = work / "payload.bin"
            with open(path, "wb") as fh:
                payload.copy_to(fh)
        self.on_payload(p.partner_id, filename, path, message_id)

    # ---------------------------------------------------------------------------------------- async MDNs

    def _receive_mdn(self, p: Partnership, pairs: tuple[tuple[str, str], ...],
                     body: Span) -> tuple[HttpReply, ReceiveOutcome]:
        data = body.read(MAX_MDN_BYTES + 1)
        try:
            mdn = parse_mdn(pairs, data, partner_certs=p.certs)
        except As2Error as exc:
            log.warning("async MDN from %s refused: %s", p.partner_id, exc)
            self._keep_other_mdn(p, raw_http_message(pairs, data[:MAX_MDN_BYTES]), error=str(exc),
                                 size=body.length)
            return _text(400, f"MDN not accepted: {exc}"), self._record(
                ReceiveOutcome("async-mdn", None, p.partner_id, error=str(exc)))
        pending = self.mdn_registry.get(mdn.original_message_id) if self.mdn_registry else None
        if pending is None or pending.partner_id != p.partner_id:
            error = f"MDN for no message waiting for one: {mdn.original_message_id!r}"
            log.warning("async MDN from %s: %s", p.partner_id, error)
            self._keep_other_mdn(p, mdn.raw, mdn=mdn)
            return _text(200, "MDN received (no message waiting for it)"), self._record(
                ReceiveOutcome("async-mdn", mdn.original_message_id, p.partner_id, mdn.disposition, error=error,
                               received_mdn=mdn))
        check = check_mdn(mdn, message_id=pending.message_id, mics=pending.mics,
                          require_signed=pending.require_signed, signed_message=pending.signed_message)
        outcome = MdnOutcome(pending, mdn, check, _dt.datetime.now(_dt.UTC))
        assert self.mdn_registry is not None
        self.mdn_registry.resolve(outcome)
        if self.on_mdn:
            self.on_mdn(outcome)
        return _text(200, "MDN received"), self._record(
            ReceiveOutcome("async-mdn", mdn.original_message_id, p.partner_id, mdn.disposition,
                           error=None if check.ok else "; ".join(check.problems), received_mdn=mdn,
                           mdn_outcome=outcome))

    def _keep_other_mdn(self, p: Partnership, raw: bytes, *, mdn: ReceivedMdn | None = None,
                        error: str | None = None, size: int | None = None) -> None:
        """An MDN that is no message's verdict -- refused, or for a message no longer waiting for one -- is
        still the partner's statement: the registry keeps it when it can (``record_other_mdn``)."""
        keep = getattr(self.mdn_registry, "record_other_mdn", None)
        if keep is not None:
            keep(p.partner_id, raw, mdn=mdn, error=error, size=size)

    # ---------------------------------------------------------------------------------------- serving

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> As2HttpServer:
        """Start an HTTP server for this receiver in a background thread (stop it with ``shutdown()``)."""
        server = As2HttpServer(self, host, port)
        server.start()
        return server


# ============================================================================================ HTTP


class _BodyTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: As2HttpServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._send(_text(200, "edihub AS2 endpoint: POST AS2 messages and MDNs here"))

    def _read_body(self, fh, limit: int) -> int:  # type: ignore[no-untyped-def]
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError as exc:
                    raise _BadRequest("bad chunk size") from exc
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return total
                total += size
                if total > limit:
                    raise _BodyTooLarge()
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 20))
                    if not data:
                        raise _BadRequest("body ends inside a chunk")
                    fh.write(data)
                    remaining -= len(data)
                self.rfile.readline(16)
        length = self.headers.get("Content-Length")
        if length is None:
            raise _BadRequest("Content-Length or chunked transfer encoding required")
        try:
            remaining = int(length)
        except ValueError as exc:
            raise _BadRequest("bad Content-Length") from exc
        if remaining > limit:
            if remaining - limit <= DRAIN_LIMIT:
                # read and drop the body so that the client, still writing, sees the 413 and not a reset
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 20))
                    if not data:
                        break
                    remaining -= len(data)
            raise _BodyTooLarge()
        while remaining:
            data = self.rfile.read(min(remaining, 1 << 20))
            if not data:
                raise _BadRequest("body shorter than Content-Length")
            fh.write(data)
            remaining -= len(data)
            total += len(data)
        return total

    def do_POST(self) -> None:
        receiver = self.server.receiver
        with tempfile.NamedTemporaryFile(prefix="as2-body-", dir=receiver.workdir) as fh:
            try:
                self._read_body(fh, receiver.max_size)
                fh.flush()
            except _BodyTooLarge:
                self.close_connection = True
                self._send(_text(413, f"message larger than {receiver.max_size} bytes"))
                return
            except _BadRequest as exc:
                self.close_connection = True
                self._send(_text(400, str(exc)))
                return
            headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
            try:
                reply, _outcome = receiver.handle(headers, Path(fh.name))
            except Exception:
                log.exception("AS2 receiver failed")
                self._send(_text(500, "internal error"))
                return
        self._send(reply)
        if reply.after is not None:
            reply.after()

    def _send(self, reply: HttpReply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
        self.wfile.flush()


class As2HttpServer(ThreadingHTTPServer):
    """A threading HTTP server for an :class:`As2Receiver` (any path is accepted: partners configure URLs)."""

    daemon_threads = True

    def __init__(self, receiver: As2Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.receiver = receiver
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/as2"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="as2-http",
                                        daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> As2HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.shutdown()
