"""The HTTP ERP adapter: POST canonical JSON to an ERP's REST endpoint, poll it for outbound documents.

**Posting** sends the document as JSON to ``url`` with an ``Idempotency-Key``
header (the pipeline's key), the configured extra ``headers`` and, when
``token`` is set, ``Authorization: Bearer <token>``.  ``token`` (and any header
value) is a secret *reference* — ``${ENV_NAME}`` or ``file:/path`` — resolved
once when the adapter is built; a literal secret in config.yaml is refused.

How the answer is read:

* 2xx — delivered.  ``reference`` is the ``reference`` or ``id`` field of a JSON
  answer, else the ``Location`` header.  A 2xx with ``Idempotent-Replayed: true``
  (the Stripe convention) is reported as ``duplicate``.
* 409 Conflict — the ERP already holds a document with this key (we always send
  the key, so that is what a conflict means for an idempotent endpoint):
  reported as a delivered ``duplicate``.  Set ``conflict_is_duplicate: false``
  for an ERP that uses 409 for other conflicts; it is then terminal.
* 408, 425, 429, 5xx, timeouts and connection errors — retried *within* the
  post: up to ``attempts`` tries, waiting ``min(backoff_cap, backoff_base *
  2**(n-1))`` (times a random 0.5–1 factor with ``jitter``) or, when the ERP
  sent ``Retry-After`` (seconds or an HTTP date), exactly that.  A
  ``Retry-After`` longer than ``max_retry_after`` is not slept on: the post
  stops and raises :class:`TransientError` carrying it, so the runtime's
  scheduler waits instead of a blocked worker.  When the tries are used up:
  :class:`TransientError` (with the last ``Retry-After``, if any).
* any other status (4xx, 3xx — redirects are not followed, so a token never
  travels to another host): :class:`TerminalError` with the status and the
  first 500 characters of the body.

**Circuit breaker**: after ``circuit_failures`` consecutive posts that ended in
a :class:`TransientError`, the circuit opens for ``circuit_reset`` seconds, and
posts fail fast with ``TransientError(retry_after=<seconds left>)`` without
touching the network — a down ERP is then not hammered by every worker's
retries.  After that time one post is let through as a trial (a single try,
no retries; others keep failing fast meanwhile): success closes the circuit,
failure opens it for another ``circuit_reset``.  A terminal answer (a 400, say)
proves the ERP is up, so it closes the circuit like a success.

**Outbound** (when ``outbound_url`` is set): ``GET outbound_url`` must answer a
JSON list of ``{"id": ..., "document": {...}}``.  An entry whose document is
missing or (with ``validate``) invalid is returned as a failed item; an entry
without an id as a failed item whose id is derived from its content.  **Settle**
POSTs ``{"status": "received"}`` (or ``{"status": "failed", "error": ...}`` for
a failed item) to ``ack_url`` — a template with ``{outbound_url}`` and ``{id}``
(URL-quoted), default ``{outbound_url}/{id}/ack`` — with
``Idempotency-Key: ack-<id>``.  A 409 or 410 answer to an ack means it was
settled before, which is fine.  Fetch and settle try once: the scheduler polls
again anyway.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx

from hub.erp.base import Delivery, OutboundDocument, check_key, document_field, options
from hub.errors import TerminalError, TransientError
from hub.partners.profile import is_secret_reference, resolve_secret

DEFAULTS: dict[str, Any] = {
    "name": "http",
    "url": None,
    "outbound_url": None,
    "ack_url": "{outbound_url}/{id}/ack",
    "headers": {},
    "token": None,
    "timeout": 10.0,
    "verify": True,
    "attempts": 4,
    "backoff_base": 0.5,
    "backoff_cap": 30.0,
    "jitter": True,
    "max_retry_after": 60.0,
    "circuit_failures": 5,
    "circuit_reset": 60.0,
    "conflict_is_duplicate": True,
    "validate": True,
}
"""Every option of the HTTP adapter and its default (``url`` is required)."""

RETRYABLE_STATUS = frozenset({408, 425, 429})
EXCERPT = 500


@cache
def _tls_context(verify: bool | str) -> ssl.SSLContext | bool:
    """One TLS context per setting, shared by every client: building one costs ~0.1 s (loading the CA bundle).

    ``verify``: True (the certifi bundle, httpx's default), False (no check; for a lab ERP only), or the path of
    a CA bundle (a private ERP CA).
    """
    if verify is False:
        return False
    if verify is True:
        return httpx.create_ssl_context()
    return ssl.create_default_context(cafile=str(verify))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:  # undecodable body: the status is still worth reporting
        text = repr(response.content[:EXCERPT])
    text = " ".join(text.split())
    return text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")


def _body(response: httpx.Response) -> Any:
    """The answer as JSON when it is JSON, else as text (kept in :attr:`Delivery.response`)."""
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


class CircuitBreaker:
    """Closed → (``failures`` consecutive failures) → open for ``reset`` s → half-open (one trial) → closed/open.

    Thread-safe: one adapter is shared by the runtime's workers, and only one of
    them may run the half-open trial.
    """

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = max(1, int(failures))
        self.reset = float(reset)
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._opened_at = 0.0
        self._state = self.CLOSED

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def acquire(self) -> bool:
        """Before a call: raises :class:`TransientError` when open; True when this call is the half-open trial."""
        with self._lock:
            if self._state == self.CLOSED:
                return False
            if self._state == self.HALF_OPEN:
                raise TransientError("ERP circuit half-open: a trial request is in flight")
            remaining = self._opened_at + self.reset - self._clock()
            if remaining > 0:
                raise TransientError(
                    f"ERP circuit open after {self._count} consecutive failures; next try in {remaining:.1f}s",
                    retry_after=remaining,
                )
            self._state = self.HALF_OPEN
            return True

    def success(self) -> None:
        with self._lock:
            self._state = self.CLOSED
            self._count = 0

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._state == self.HALF_OPEN or self._count >= self.failures:
                self._state = self.OPEN
                self._opened_at = self._clock()


class HttpAdapter:
    """Posts canonical JSON to an ERP's HTTP endpoint (see the module docstring for the exact behaviour)."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "http",
        outbound_url: str | None = None,
        ack_url: str = "{outbound_url}/{id}/ack",
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        verify: bool | str = True,
        attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        jitter: bool = True,
        max_retry_after: float = 60.0,
        circuit_failures: int = 5,
        circuit_reset: float = 60.0,
        conflict_is_duplicate: bool = True,
        validate: bool = True,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url:
            raise ValueError("erp (http): 'url' is required")
        for what, value in (("url", url), ("outbound_url", outbound_url)):
            if value:
                try:
                    parsed = httpx.URL(value)
                except httpx.InvalidURL as exc:
                    raise ValueError(f"erp (http): {what} {value!r}: {exc}") from exc
                if parsed.scheme not in ("http", "https"):
                    raise ValueError(f"erp (http): {what} must be an http(s) URL, not {value!r}")
        self.name = name
        self.url = url
        self.outbound_url = outbound_url.rstrip("/") if outbound_url else None
        try:
            ack_url.format(outbound_url="", id="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"erp (http): ack_url {ack_url!r} may only use {{outbound_url}} and {{id}}") from exc
        self.ack_url = ack_url
        self.attempts = max(1, int(attempts))
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.jitter = bool(jitter)
        self.max_retry_after = float(max_retry_after)
        self.conflict_is_duplicate = bool(conflict_is_duplicate)
        self.validate = bool(validate)
        self.breaker = CircuitBreaker(circuit_failures, circuit_reset, clock)
        self._sleep = sleep
        self._headers = self._resolve_headers(headers or {}, token, environ)
        try:
            tls = _tls_context(verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"erp (http): verify {verify!r}: {exc}") from exc
        self._client = httpx.Client(timeout=float(timeout), verify=tls, follow_redirects=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpAdapter:
        """Built from the ``erp`` options (see :data:`DEFAULTS`)."""
        opts = options(DEFAULTS, config, "http")
        url = opts.pop("url")
        return cls(url, **opts)

    @staticmethod
    def _resolve_headers(
        headers: Mapping[str, str], token: str | None, environ: Mapping[str, str] | None
    ) -> dict[str, str]:
        def secret(value: str, what: str) -> str:
            try:
                return resolve_secret(value, environ)
            except (KeyError, OSError, ValueError) as exc:
                raise ValueError(f"erp (http): {what}: {exc}") from exc

        resolved = {}
        for key, value in headers.items():
            text = str(value)
            resolved[str(key)] = secret(text, f"header {key}") if is_secret_reference(text) else text
        if token is not None:
            if not is_secret_reference(token):
                raise ValueError("erp (http): 'token' must be a reference ('${ENV_NAME}' or 'file:/path')")
            resolved["Authorization"] = f"Bearer {secret(token, 'token')}"
        return resolved

    # ---------------------------------------------------------------- post

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay

    def post(self, document: dict[str, Any], idempotency_key: str) -> Delivery:
        check_key(idempotency_key)
        if not (idempotency_key.isascii() and idempotency_key.isprintable()):
            raise TerminalError(f"idempotency key {idempotency_key!r} cannot travel in an HTTP header (ASCII only)")
        document_field(document, "document_type")
        try:
            body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise TerminalError(f"document is not JSON-serialisable: {exc}") from exc
        headers = {**self._headers, "Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        trial = self.breaker.acquire()
        settled = False
        try:
            delivery = self._post_with_retries(body, headers, 1 if trial else self.attempts)
            settled = True
            self.breaker.success()
            return delivery
        except TerminalError:
            settled = True
            self.breaker.success()  # the ERP answered: it is up, the document is the problem
            raise
        finally:
            if not settled:
                self.breaker.failure()

    def _post_with_retries(self, body: bytes, headers: dict[str, str], attempts: int) -> Delivery:
        last: TransientError | None = None
        for attempt in range(1, attempts + 1):
            wait = self._backoff(attempt)
            try:
                response = self._client.post(self.url, content=body, headers=headers)
            except httpx.UnsupportedProtocol as exc:
                raise TerminalError(f"ERP url {self.url}: {exc}") from exc
            except httpx.TimeoutException as exc:
                last = TransientError(f"ERP {self.url} timed out: {exc!r}")
                last.__cause__ = exc
            except httpx.TransportError as exc:
                last = TransientError(f"ERP {self.url} unreachable: {exc!r}")
                last.__cause__ = exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # decoding, redirects, a bad URL: not a retry
                raise TerminalError(f"ERP {self.url}: {exc!r}") from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._delivery(response)
                if status == 409 and self.conflict_is_duplicate:
                    return Delivery(reference=self._reference(response), response=_body(response), duplicate=True)
                if status not in RETRYABLE_STATUS and status < 500:
                    raise TerminalError(f"ERP {self.url} answered {status}: {_excerpt(response)}")
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                message = f"ERP {self.url} answered {status}: {_excerpt(response)}"
                last = TransientError(message, retry_after=retry_after)
                if retry_after is not None:
                    if retry_after > self.max_retry_after:
                        break
                    wait = retry_after
            if attempt < attempts:
                self._sleep(wait)
        assert last is not None
        raise TransientError(f"{last} (after {attempt} attempt(s))", retry_after=last.retry_after) from last

    @staticmethod
    def _reference(response: httpx.Response) -> str | None:
        body = _body(response)
        if isinstance(body, dict):
            for key in ("reference", "id"):
                if body.get(key) not in (None, ""):
                    return str(body[key])
        return response.headers.get("location")

    def _delivery(self, response: httpx.Response) -> Delivery:
        replayed = response.headers.get("idempotent-replayed", "").strip().lower() == "true"
        return Delivery(reference=self._reference(response), response=_body(response), duplicate=replayed)

    # ------------------------------------------------------------ outbound

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request for fetch/settle, its failures converted (no retries: the scheduler polls again)."""
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.UnsupportedProtocol as exc:
            raise TerminalError(f"ERP url {url}: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"ERP {url} unreachable: {exc!r}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise TerminalError(f"ERP {url}: {exc!r}") from exc
        status = response.status_code
        if status in RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise TransientError(f"ERP {url} answered {status}: {_excerpt(response)}", retry_after=retry_after)
        return response

    def fetch_outbound(self) -> list[OutboundDocument]:
        if not self.outbound_url:
            return []
        url = self.outbound_url
        response = self._call("GET", url, headers={**self._headers, "Accept": "application/json"})
        if not 200 <= response.status_code < 300:
            raise TerminalError(f"ERP {url} answered {response.status_code}: {_excerpt(response)}")
        try:
            entries = response.json()
        except ValueError as exc:
            raise TerminalError(f"ERP {url} did not answer JSON: {_excerpt(response)}") from exc
        if not isinstance(entries, list):
            raise TerminalError(f"ERP {url}: expected a JSON list of {{id, document}}, got {type(entries).__name__}")
        return [self._item(entry) for entry in entries]

    def _item(self, entry: Any) -> OutboundDocument:
        raw_id = entry.get("id") if isinstance(entry, dict) else None
        if raw_id in (None, "") or isinstance(raw_id, (dict, list, bool)):
            digest = hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:16]
            item_id = f"invalid-{digest}"
            error = TerminalError(f"ERP {self.outbound_url}: an outbound entry has no id: {str(entry)[:200]}")
            return OutboundDocument(item_id, None, f"{self.outbound_url} (entry without id)", error=error)
        item_id = str(raw_id)
        source = f"{self.outbound_url}#{item_id}"
        document = entry.get("document")
        if not isinstance(document, dict):
            error = TerminalError(f"{source}: 'document' is not a JSON object")
            return OutboundDocument(item_id, None, source, error=error, token=item_id)
        if self.validate:
            from hub.canonical import validate_document

            problems = validate_document(document)
            if problems:
                error = TerminalError(f"{source}: not a valid canonical document: {'; '.join(problems[:5])}")
                return OutboundDocument(item_id, None, source, error=error, token=item_id)
        return OutboundDocument(item_id, document, source, token=item_id)

    def settle(self, item: OutboundDocument) -> None:
        if not self.outbound_url or item.token is None:
            return  # nothing the ERP could be told (no outbound endpoint, or an entry without id)
        url = self.ack_url.format(outbound_url=self.outbound_url, id=quote(str(item.token), safe=""))
        payload: dict[str, Any] = {"status": "received"} if item.ok else {"status": "failed", "error": str(item.error)}
        headers = {**self._headers, "Idempotency-Key": f"ack-{item.token}"}
        response = self._call("POST", url, json=payload, headers=headers)
        if 200 <= response.status_code < 300 or response.status_code in (409, 410):
            return
        raise TerminalError(f"ERP {url} refused the acknowledgment: {response.status_code}: {_excerpt(response)}")

    def close(self) -> None:
        self._client.close()
