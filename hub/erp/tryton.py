"""The Tryton ERP adapter: purchase orders become draft sales, confirmed EDI sales come back as order acks.

It talks to a Tryton server (tested with trytond 8.2 and the modules party,
product, company, currency, account, stock and sale) over Tryton's own
JSON-RPC: ``POST <url>/<database>/rpc/`` with ``{"id", "method", "params"}``,
after ``common.db.login`` (a session token, sent as ``Authorization: Session
base64(login:user_id:token)``; an expired session is renewed once per call).
No Tryton library is imported: trytond and its pins live in their own venv.

**post** takes canonical ``purchase_order`` documents only (anything else is a
:class:`TerminalError`: "the tryton adapter takes purchase orders") and makes
one draft ``sale.sale``, in one ``create`` call, so it exists whole or not at
all:

* *idempotency* — the key is written into the sale's ``comment`` as a line
  ``edihub-key: <key>`` and searched (``like``, wildcards escaped, then an
  exact check) before anything is created: a repeated post answers
  ``duplicate=True`` and creates nothing.  Keys are single-line text.
* *customer* — the ``party.party`` having a ``party.identifier`` whose code is
  the buyer party's identifier (role ``buyer``) or the envelope sender ID
  (``sender.id``), in that order.  Not found: with ``create_customers`` (the
  default) a party is created with the sender ID (and the buyer's identifiers)
  as identifiers; without it, a :class:`TerminalError`.
* *addresses* — the ship-to and bill-to parties' addresses are found on the
  customer (same name, street, postal code and city) or added to it; without a
  bill-to address the customer's first address is the invoice address (one is
  created when the customer has none).
* *products* — matched by identifier, seller's own codes first: ``vendor_part``
  and ``sku`` against the product code (Tryton's SKU); ``gtin``/``upc``/``ean``/
  ``isbn`` against product identifiers (UPC-A, EAN-13 and GTIN-14 spellings of
  one number match each other); ``manufacturer_part``, ``buyer_part`` and the
  rest against identifiers, then codes.  An identifier that matches several
  products is skipped.  **An unknown product fails the whole document
  terminally** (naming every line that did not match): creating products
  from a partner's file would invent prices, taxes and accounts in the ERP.
* *units* — the EDI unit code is translated by ``units`` (defaults:
  :data:`DEFAULT_UNITS`, e.g. ``EA``/``PCE``/``C62`` -> Tryton's ``u``) to a
  ``product.uom`` symbol; a code not in the table is looked up as a symbol
  itself (so a "Case" unit with symbol ``CA`` in Tryton serves ``CA``); none
  found, or a unit of another category than the product's: terminal.
* *lines* — Tryton's own ``on_change`` of the product fills taxes, the
  description and the list price; the order's unit price (divided by its
  ``per_quantity``) replaces the price when the order has one.
* the PO number goes to ``reference``, the order's header ``requested_ship``
  date to ``shipping_date``, its currency (by ISO code) to ``currency``.  The
  comment also keeps a one-line JSON snapshot of the order (``edihub-order:``)
  and each sale line a ``note`` ``edihub-line: <n>``: what the ack compares.

**fetch_outbound** offers one ``purchase_order_ack`` per EDI sale that was
confirmed (states confirmed, processing, done) or cancelled, and not settled
yet.  Each line of the order is ``accepted`` (same product, quantity and
price), ``changed`` (confirmed quantity or price differ; the new values are
given) or ``rejected`` (line removed, quantity 0, or sale cancelled); the
header status is ``accepted``, ``rejected`` (every line) or ``changed``.
``seller_order_number`` is the sale number; a line's planned shipping date is
its ``promised_ship`` date.  Every ack is checked with
:func:`hub.canonical.load_document`; one that fails (or a sale whose snapshot
is unreadable) is returned as a failed item.  A sale copied in Tryton carries
the same key: only the first sale with a key is acknowledged.  Ids are
``tryton:<database>:sale:<id>:ack``.

**settle** appends ``edihub-sent: ack <UTC time>`` to the sale's comment (the
fetch skips such sales); settling twice is harmless.  A person can re-send an
ack by removing that line.

**Errors**: connection failures, timeouts, HTTP 5xx/408/425/429, Tryton's
``ConcurrencyException`` and unexpected server exceptions (which Tryton
reports like a 500) are :class:`TransientError`; a refused login, Tryton's
``UserError``/``UserWarning`` (validation: the message is Tryton's), other
4xx and answers that are not JSON-RPC are :class:`TerminalError`.

Configuration (``erp`` section, type ``tryton``; see :data:`DEFAULTS`)::

    erp:
      type: tryton
      url: http://127.0.0.1:8000      # the server root; /<database>/rpc/ is appended
      database: tryton
      user: edihub
      password: ${TRYTON_PASSWORD}     # a reference: ${ENV_NAME} or file:/path, never the password itself
      company: null                    # company id; default the user's current company
      warehouse: null                  # stock.location code of the warehouse; default Tryton's
      create_customers: true
      units: {CA: case}                # EDI unit code -> product.uom symbol, over DEFAULT_UNITS
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import json
import re
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from hub.canonical import load_document
from hub.erp.base import Delivery, OutboundDocument, check_key, document_field, options
from hub.errors import TerminalError, TransientError
from hub.partners.profile import is_secret_reference, resolve_secret

DEFAULTS: dict[str, Any] = {
    "name": "tryton",
    "url": None,
    "database": None,
    "user": None,
    "password": None,
    "company": None,
    "warehouse": None,
    "create_customers": True,
    "units": {},
    "language": "en",
    "timeout": 30.0,
    "fetch_limit": 100,
    "validate": True,
}
"""Every option of the Tryton adapter and its default (``url``, ``database``, ``user``, ``password`` required)."""

DEFAULT_UNITS: dict[str, str] = {
    # X12 355 and UN/ECE recommendation 20 codes -> symbols of the units trytond's product module ships.
    "EA": "u",
    "EACH": "u",
    "PC": "u",
    "PCE": "u",
    "C62": "u",
    "H87": "u",
    "UN": "u",
    "KG": "kg",
    "KGM": "kg",
    "GR": "g",
    "GRM": "g",
    "LB": "lb",
    "LBR": "lb",
    "OZ": "oz",
    "ONZ": "oz",
    "MR": "m",
    "MTR": "m",
    "CMT": "cm",
    "MMT": "mm",
    "FT": "ft",
    "FOT": "ft",
    "IN": "in",
    "INH": "in",
    "YD": "yd",
    "YRD": "yd",
    "LT": "l",
    "LTR": "l",
    "GA": "gal",
    "GLL": "gal",
    "HR": "h",
    "HUR": "h",
}
"""EDI unit of measure code -> Tryton ``product.uom`` symbol; ``units`` in the config adds to and overrides it."""

KEY_MARK = "edihub-key: "
ORDER_MARK = "edihub-order: "
LINE_MARK = "edihub-line: "
SENT_MARK = "edihub-sent: "
ACK_STATES = ("confirmed", "processing", "done", "cancelled")
EXCERPT = 500

# Which product identifiers to try first, and where to look for each (code = product.product code).
_SCHEME_ORDER = (
    "vendor_part",
    "sku",
    "gtin",
    "upc",
    "ean",
    "isbn",
    "manufacturer_part",
    "catalog",
    "buyer_part",
)
_CODE_FIRST = frozenset({"vendor_part", "sku", "catalog"})
_GTIN = frozenset({"gtin", "upc", "ean"})


# ------------------------------------------------------------------ JSON-RPC wire format


def _encode(value: Any) -> Any:
    """Tryton's JSON classes for what plain JSON lacks (trytond/protocols/jsonrpc.py)."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            **{k: getattr(value, k) for k in ("year", "month", "day", "hour", "minute", "second", "microsecond")},
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"], obj["microsecond"]
        )
    if kind == "time":
        return dt.time(obj["hour"], obj["minute"], obj["second"], obj["microsecond"])
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.decodebytes(obj["base64"].encode("ascii"))
    return obj


def rpc_error(method: str, error: Any) -> TransientError | TerminalError:
    """The hub's error for the ``error`` member of a Tryton JSON-RPC answer.

    Tryton sends ``[exception name, args]`` for its own exceptions and
    ``[str(exception), traceback]`` for anything else (a server fault).
    """
    if isinstance(error, (list, tuple)) and error:
        kind, args = error[0], error[1] if len(error) > 1 else None
        if kind == "UserError":
            message, description = _args(args, 0), _args(args, 1)
            text = f"{message} ({description})" if description else message
            return TerminalError(f"Tryton refused {method}: {text}")
        if kind == "UserWarning":
            return TerminalError(f"Tryton warns on {method} (a person must confirm it): {_args(args, 1)}")
        if kind == "LoginException":
            return TerminalError(f"Tryton asks for {_args(args, 0)!r} to log in: {_args(args, 1)}")
        if kind == "ConcurrencyException":
            return TransientError(f"Tryton: concurrent change during {method}: {args}")
        if kind == "RateLimitException":
            return TransientError(f"Tryton: too many requests ({method})")
        return TransientError(f"Tryton server fault in {method}: {str(kind)[:EXCERPT]}")
    return TransientError(f"Tryton server fault in {method}: {str(error)[:EXCERPT]}")


def _args(args: Any, index: int) -> str:
    if isinstance(args, (list, tuple)) and len(args) > index:
        return "" if args[index] is None else str(args[index])
    return "" if index or args is None else str(args)


class TrytonRpc:
    """A JSON-RPC session with one Tryton database; every failure leaves as TransientError or TerminalError."""

    def __init__(
        self,
        url: str,
        database: str,
        user: str,
        password: str,
        *,
        language: str = "en",
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self.database = database
        self.user = user
        self.language = language
        self._password = password
        self._client = httpx.Client(timeout=float(timeout), transport=transport, follow_redirects=False)
        self._auth: str | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        """``method`` with ``params``; logs in first when needed, and once more if the session expired."""
        auth = self._auth or self.login()
        status, body = self._send(method, list(params), auth)
        if status == 401:
            with self._lock:
                if self._auth == auth:
                    self._auth = None
            status, body = self._send(method, list(params), self.login())
        return self._result(method, status, body)

    def login(self) -> str:
        with self._lock:
            if self._auth:
                return self._auth
            status, body = self._send("common.db.login", [self.user, {"password": self._password}, self.language], None)
            if status in (401, 403):
                raise TerminalError(f"Tryton refused the login of {self.user!r} to database {self.database!r}")
            if status == 404:
                raise TerminalError(f"Tryton has no database {self.database!r} at {self.endpoint}")
            result = self._result("common.db.login", status, body)
            try:
                user_id, token = result[0], result[1]
            except (TypeError, IndexError, KeyError) as exc:
                raise TerminalError(f"Tryton answered the login with {str(result)[:EXCERPT]!r}") from exc
            raw = f"{self.user}:{user_id}:{token}".encode()
            self._auth = "Session " + base64.b64encode(raw).decode("ascii")
            return self._auth

    def _send(self, method: str, params: list[Any], auth: str | None) -> tuple[int, Any]:
        ident = next(self._ids)
        try:
            payload = json.dumps({"id": ident, "method": method, "params": params}, default=_encode)
        except (TypeError, ValueError) as exc:
            raise TerminalError(f"cannot encode the parameters of {method}: {exc}") from exc
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = auth
        try:
            response = self._client.post(self.endpoint, content=payload.encode("utf-8"), headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"Tryton at {self.endpoint}: {method} timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"Tryton at {self.endpoint} unreachable ({method}): {exc}") from exc
        status = response.status_code
        if status >= 500 or status in (408, 425, 429):
            raise TransientError(
                f"Tryton answered {method} with HTTP {status}: {response.text[:EXCERPT]}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status == 401:
            return status, None
        if status >= 300:
            raise TerminalError(f"Tryton answered {method} with HTTP {status}: {response.text[:EXCERPT]}")
        try:
            return status, json.loads(response.text, object_hook=_decode)
        except ValueError as exc:
            raise TerminalError(
                f"Tryton's answer to {method} is not JSON (is {self.endpoint} a Tryton server?): "
                f"{response.text[:EXCERPT]!r}"
            ) from exc

    @staticmethod
    def _result(method: str, status: int, body: Any) -> Any:
        if status == 401:
            raise TerminalError(f"Tryton refused {method}: the session was not accepted after a new login")
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise TerminalError(f"Tryton's answer to {method} is not JSON-RPC: {str(body)[:EXCERPT]!r}")
        if body.get("error") is not None:
            raise rpc_error(method, body["error"])
        return body["result"]

    def logout(self) -> None:
        if not self._auth:
            return
        with contextlib.suppress(TransientError, TerminalError):
            self._send("common.db.logout", [], self._auth)
        self._auth = None

    def close(self) -> None:
        self.logout()
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- helpers


def _like(text: str) -> str:
    """``%<newline>text%`` for Tryton's ``like``: ``text`` at the start of a comment line that is not the first.

    Marker lines never come first in a comment, and partner text is kept on
    lines of its own that start otherwise, so it cannot match.  Wildcards are
    escaped (Tryton escapes with a backslash).
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%\n{escaped}%"


def _marks(comment: str | None, mark: str) -> list[str]:
    """The values of the comment lines starting with ``mark``."""
    return [line[len(mark) :].strip() for line in (comment or "").splitlines() if line.startswith(mark)]


def _sent(comment: str | None, kind: str) -> bool:
    return any(value.split(" ", 1)[0] == kind for value in _marks(comment, SENT_MARK))


def _decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise TerminalError(f"{what}: not a number: {value!r}") from exc
    if not number.is_finite():
        raise TerminalError(f"{what}: not a number: {value!r}")
    return number


def _text(value: Any) -> str:
    """A canonical decimal string: no exponent, no trailing zeros past the point (10.0 -> "10", 12.50 -> "12.5")."""
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def _norm(*parts: Any) -> tuple[str, ...]:
    return tuple(" ".join(str(p or "").upper().split()) for p in parts)


def _gtin_variants(value: str) -> list[str]:
    """The spellings of one GTIN: UPC-A (12), EAN-13 and GTIN-14 differ only by leading zeros."""
    compact = re.sub(r"[\s-]", "", value)
    variants = [value, compact]
    if compact.isdigit():
        bare = compact.lstrip("0") or "0"
        variants += [bare, *(bare.zfill(n) for n in (8, 12, 13, 14) if len(bare) <= n)]
    return list(dict.fromkeys(variants))


def _endpoint(value: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(value or {}).items() if v is not None}


# --------------------------------------------------------------------------- adapter


class TrytonAdapter:
    """Posts purchase orders to Tryton as draft sales and offers acks for confirmed ones (see the module docstring)."""

    def __init__(
        self,
        url: str,
        database: str,
        user: str,
        password: str,
        *,
        name: str = "tryton",
        company: int | None = None,
        warehouse: str | None = None,
        create_customers: bool = True,
        units: Mapping[str, str] | None = None,
        language: str = "en",
        timeout: float = 30.0,
        fetch_limit: int = 100,
        validate: bool = True,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        for what, value in (("url", url), ("database", database), ("user", user), ("password", password)):
            if not value:
                raise ValueError(f"erp (tryton): {what!r} is required")
        try:
            scheme = httpx.URL(url).scheme
        except httpx.InvalidURL as exc:
            raise ValueError(f"erp (tryton): url {url!r}: {exc}") from exc
        if scheme not in ("http", "https"):
            raise ValueError(f"erp (tryton): url must be an http(s) URL, not {url!r}")
        if not is_secret_reference(password):
            raise ValueError("erp (tryton): 'password' must be a reference ('${ENV_NAME}' or 'file:/path')")
        try:
            secret = resolve_secret(password, environ)
        except (KeyError, OSError, ValueError) as exc:
            raise ValueError(f"erp (tryton): password: {exc}") from exc
        self.name = name
        self.url = url
        self.database = database
        self.company = int(company) if company is not None else None
        self.warehouse = warehouse
        self.create_customers = bool(create_customers)
        self.units = {**DEFAULT_UNITS, **{str(k).upper(): str(v) for k, v in dict(units or {}).items()}}
        self.fetch_limit = max(1, int(fetch_limit))
        self.validate = bool(validate)
        self.rpc = TrytonRpc(url, database, user, secret, language=language, timeout=timeout, transport=transport)
        self._context: dict[str, Any] | None = None
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrytonAdapter:
        """Built from the ``erp`` options (see :data:`DEFAULTS`)."""
        opts = options(DEFAULTS, config, "tryton")
        return cls(opts.pop("url"), opts.pop("database"), opts.pop("user"), opts.pop("password"), **opts)

    # -------------------------------------------------------------- plumbing

    @property
    def context(self) -> dict[str, Any]:
        """The user's Tryton context (company, language...), read once after login."""
        if self._context is None:
            context = self.rpc.call("model.res.user.get_preferences", True, {})
            if not isinstance(context, dict):
                raise TerminalError(f"Tryton's user preferences are not a mapping: {context!r}")
            context = {k: v for k, v in context.items() if not k.startswith("locale") and "." not in k}
            if self.company is not None:
                context["company"] = self.company
                context["companies"] = [self.company]
            if not context.get("company"):
                raise TerminalError(f"Tryton user {self.rpc.user!r} has no current company (set 'company')")
            self._context = context
        return self._context

    def _call(self, model: str, method: str, *args: Any) -> Any:
        return self.rpc.call(f"model.{model}.{method}", *args, self.context)

    def _search_read(
        self, model: str, domain: list[Any], fields: list[str], *, limit: int | None = None, order: Any = None
    ) -> list[dict[str, Any]]:
        return self._call(model, "search_read", domain, 0, limit, order, fields)

    def _search(self, model: str, domain: list[Any], *, limit: int | None = None) -> list[int]:
        return self._call(model, "search", domain, 0, limit, [["id", "ASC"]])

    def _cached(self, kind: str, key: str, compute: Any) -> Any:
        with self._lock:
            if (kind, key) in self._cache:
                return self._cache[(kind, key)]
        value = compute()
        with self._lock:
            self._cache[(kind, key)] = value
        return value

    # -------------------------------------------------------------- post

    def post(self, document: dict[str, Any], idempotency_key: str) -> Delivery:
        key = check_key(idempotency_key).strip()
        if "\n" in key or "\r" in key:
            raise TerminalError("the tryton adapter needs a single-line idempotency key")
        kind = document_field(document, "document_type")
        if kind != "purchase_order":
            raise TerminalError(f"the tryton adapter takes purchase orders, not {kind}")
        if self.validate:
            try:
                load_document(document)
            except ValueError as exc:
                raise TerminalError(f"invalid purchase order: {exc}") from exc

        existing = self._sales_with_key(key)
        if existing:
            sale = existing[0]
            return Delivery(
                reference=f"sale.sale,{sale['id']}",
                response={"model": "sale.sale", "id": sale["id"], "number": sale.get("number"), "state": sale["state"]},
                duplicate=True,
            )

        try:
            party_id, created = self._customer(document)
            invoice_address, shipment_address = self._addresses(party_id, document)
            currency = self._currency(document.get("currency"))
            header = {
                "party": party_id,
                "currency": currency,
                "invoice_address": invoice_address,
                "shipment_address": shipment_address,
            }
            lines, snapshot_lines = self._lines(document, header)
            values: dict[str, Any] = {
                **header,
                "reference": document_field(document, "number"),
                "comment": self._comment(document, key, snapshot_lines),
                "lines": [["create", lines]],
            }
        except (KeyError, TypeError, AttributeError) as exc:  # only reachable with validate: false
            raise TerminalError(f"malformed purchase order: {exc!r}") from exc
        if self.company is not None:
            values["company"] = self.company
        if self.warehouse:
            values["warehouse"] = self._warehouse(self.warehouse)
        shipping = _header_date(document, "requested_ship")
        if shipping:
            values["shipping_date"] = shipping
        (sale_id,) = self._call("sale.sale", "create", [values])
        return Delivery(
            reference=f"sale.sale,{sale_id}",
            response={
                "model": "sale.sale",
                "id": sale_id,
                "party": party_id,
                "party_created": created,
                "lines": len(lines),
                "state": "draft",
            },
        )

    def _sales_with_key(self, key: str) -> list[dict[str, Any]]:
        """The sales carrying ``key`` (oldest first): a ``like`` search, then the exact line check."""
        found = self._search_read(
            "sale.sale",
            [["comment", "like", _like(KEY_MARK + key)]],
            ["id", "number", "state", "comment"],
            order=[["id", "ASC"]],
        )
        return [s for s in found if key in _marks(s.get("comment"), KEY_MARK)]

    def _comment(self, document: Mapping[str, Any], key: str, lines: list[dict[str, Any]]) -> str:
        sender = _endpoint(document.get("sender"))
        human = f"EDI purchase order {document['number']}"
        if document.get("date"):
            human += f" of {document['date']}"
        human += f" from {sender.get('name') or sender.get('id')}, received by edihub."
        # The partner's text is kept on single lines that start with a prefix: it can never pose as a marker line.
        notes = [
            "Note: " + " ".join(str(n["text"]).split())
            for n in document.get("notes") or []
            if isinstance(n, Mapping) and n.get("text")
        ]
        snapshot = {
            "v": 1,
            "number": document["number"],
            "date": document.get("date"),
            "sender": sender,
            "receiver": _endpoint(document.get("receiver")),
            "currency": document.get("currency"),
            "lines": lines,
        }
        human = " ".join(human.split())
        body = [human, *notes, "", KEY_MARK + key, ORDER_MARK + json.dumps(snapshot, separators=(",", ":"))]
        return "\n".join(body)

    # customer and addresses

    def _customer(self, document: Mapping[str, Any]) -> tuple[int, bool]:
        sender = _endpoint(document.get("sender"))
        buyer = next((p for p in document.get("parties") or [] if p.get("role") == "buyer"), None)
        candidates = [str(i["value"]) for i in (buyer or {}).get("identifiers") or [] if i.get("value")]
        if sender.get("id"):
            candidates.append(str(sender["id"]))
        candidates = list(dict.fromkeys(candidates))
        if not candidates:
            raise TerminalError("the purchase order names no buyer identifier and no sender id")
        found = self._search_read("party.identifier", [["code", "in", candidates]], ["party", "code"])
        for candidate in candidates:
            parties = sorted({f["party"] for f in found if f["code"] == candidate})
            if len(parties) == 1:
                return parties[0], False
            if len(parties) > 1:
                raise TerminalError(f"several Tryton parties have the identifier {candidate!r}: ids {parties}")
        if not self.create_customers:
            raise TerminalError(f"no Tryton party has the identifier {' or '.join(map(repr, candidates))}")
        name = (buyer or {}).get("name") or sender.get("name") or sender.get("id")
        identifiers = [{"code": c} for c in candidates]
        (party_id,) = self._call("party.party", "create", [{"name": name, "identifiers": [["create", identifiers]]}])
        return party_id, True

    def _addresses(self, party_id: int, document: Mapping[str, Any]) -> tuple[int, int]:
        existing = self._search_read(
            "party.address",
            [["party", "=", party_id]],
            ["party_name", "street", "postal_code", "city"],
            order=[["sequence", "ASC"], ["id", "ASC"]],
        )
        roles = {p.get("role"): p for p in document.get("parties") or []}

        def address_for(party: Mapping[str, Any] | None) -> int | None:
            if not party or not party.get("address"):
                return None
            address = party["address"]
            values = {
                "party": party_id,
                "party_name": party.get("name"),
                "street": "\n".join(address.get("lines") or []) or None,
                "postal_code": address.get("postal_code"),
                "city": address.get("city"),
            }
            wanted = _norm(values["party_name"], values["street"], values["postal_code"], values["city"])
            for row in existing:
                if _norm(row.get("party_name"), row.get("street"), row.get("postal_code"), row.get("city")) == wanted:
                    return row["id"]
            country = self._country(address.get("country"))
            if country:
                values["country"] = country
            (address_id,) = self._call("party.address", "create", [values])
            existing.append({"id": address_id, **values})
            return address_id

        invoice = address_for(roles.get("bill_to"))
        if invoice is None:
            if existing:
                invoice = existing[0]["id"]
            else:
                (invoice,) = self._call("party.address", "create", [{"party": party_id}])
                existing.append({"id": invoice})
        shipment = address_for(roles.get("ship_to")) or invoice
        return invoice, shipment

    def _country(self, code: str | None) -> int | None:
        if not code:
            return None

        def lookup() -> int | None:
            ids = self._search("country.country", [["code", "=", code]], limit=1)
            return ids[0] if ids else None

        return self._cached("country", code, lookup)

    def _currency(self, code: str | None) -> int | None:
        if not code:
            return None

        def lookup() -> int:
            ids = self._search("currency.currency", [["code", "=", code]], limit=1)
            if not ids:
                raise TerminalError(f"currency {code} is not defined in Tryton")
            return ids[0]

        return self._cached("currency", code, lookup)

    def _warehouse(self, code: str) -> int:
        def lookup() -> int:
            ids = self._search("stock.location", [["type", "=", "warehouse"], ["code", "=", code]], limit=1)
            if not ids:
                raise TerminalError(f"Tryton has no warehouse with code {code!r}")
            return ids[0]

        return self._cached("warehouse", code, lookup)

    # lines

    def _lines(
        self, document: Mapping[str, Any], header: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        problems: list[str] = []
        matched: list[tuple[int, Mapping[str, Any], dict[str, Any]]] = []
        for index, line in enumerate(document.get("lines") or []):
            label = f"line {line.get('line_number') or index + 1}"
            try:
                product = self._product(line.get("product_ids") or [], label)
            except TerminalError as exc:
                problems.append(str(exc))
                continue
            matched.append((index, line, product))
        if problems:
            raise TerminalError("; ".join(problems))

        values_list: list[dict[str, Any]] = []
        snapshot: list[dict[str, Any]] = []
        for index, line, product in matched:
            label = f"line {line.get('line_number') or index + 1}"
            quantity = line["quantity"]
            edi_unit = quantity.get("unit")
            unit = self._unit(edi_unit, label) if edi_unit else product["sale_uom"]
            values = {
                "type": "line",
                "product": product["id"],
                "quantity": float(_decimal(quantity["value"], f"{label} quantity")),
                "unit": unit,
            }
            parent = {f"_parent_sale.{k}": v for k, v in header.items()}
            parent["_parent_sale.company"] = self.context["company"]
            changes = self._call("sale.line", "on_change", {**values, **parent}, ["product"])
            if changes.get("unit", unit) != unit:
                raise TerminalError(
                    f"{label}: unit {edi_unit or unit!r} does not suit product {product.get('rec_name')!r} "
                    f"(sold in another kind of unit)"
                )
            values["unit_price"] = changes.get("unit_price")
            price = line.get("unit_price")
            if price and price.get("amount") is not None:
                amount = _decimal(price["amount"], f"{label} unit price")
                per = price.get("per_quantity")
                if per not in (None, "", 0, "0"):
                    amount = amount / _decimal(per, f"{label} price per quantity")
                values["unit_price"] = amount
            if values["unit_price"] is None:
                raise TerminalError(f"{label}: no unit price in the order and none in Tryton")
            taxes = [t["id"] for _, t in (changes.get("taxes") or {}).get("add", []) if isinstance(t, dict)]
            if taxes:
                values["taxes"] = [["add", taxes]]
            values["description"] = line.get("description") or changes.get("description") or product.get("rec_name")
            values["note"] = f"{LINE_MARK}{index}"
            values_list.append(values)
            snapshot.append(
                {
                    "i": index,
                    "line_number": line.get("line_number"),
                    "product_ids": line.get("product_ids") or [],
                    "description": line.get("description"),
                    "product": product["id"],
                    "quantity": quantity,
                    "uom": unit,
                    "unit_price": price,
                    "price": str(values["unit_price"]),
                }
            )
        if not values_list:
            raise TerminalError("the purchase order has no lines")
        return values_list, snapshot

    def _product(self, product_ids: Iterable[Mapping[str, Any]], label: str) -> dict[str, Any]:
        ids = [p for p in product_ids if p.get("value")]
        if not ids:
            raise TerminalError(f"{label}: no product identifier")
        rank = {scheme: n for n, scheme in enumerate(_SCHEME_ORDER)}
        ordered = sorted(ids, key=lambda p: rank.get(p.get("scheme"), len(rank)))
        ambiguous = []
        for pid in ordered:
            scheme, value = pid.get("scheme"), str(pid["value"])
            lookups = [self._by_code, self._by_identifier]
            if scheme not in _CODE_FIRST:
                lookups.reverse()
            for lookup in lookups:
                products = lookup(scheme, value)
                if len(products) == 1:
                    (product,) = self._call("product.product", "read", products, ["rec_name", "sale_uom", "salable"])
                    return product
                if products:
                    ambiguous.append(f"{scheme} {value}")
                    break
        shown = ", ".join(f"{p.get('scheme')} {p.get('value')}" for p in ordered)
        if ambiguous:
            raise TerminalError(f"{label}: product identifier(s) {', '.join(ambiguous)} match several Tryton products")
        raise TerminalError(f"{label}: no Tryton product has the code or identifier {shown}")

    def _by_code(self, scheme: str | None, value: str) -> list[int]:
        return self._search("product.product", [["code", "=", value]], limit=2)

    def _by_identifier(self, scheme: str | None, value: str) -> list[int]:
        codes = _gtin_variants(value) if scheme in _GTIN or scheme == "isbn" else [value]
        domain: list[Any] = [["code", "in", codes]]
        if scheme == "manufacturer_part":
            domain.append(["type", "in", ["mpn", None]])
        rows = self._search_read("product.identifier", domain, ["product"])
        return sorted({r["product"] for r in rows})[:2]

    def _unit(self, code: str, label: str) -> int:
        symbol = self.units.get(code.upper(), code)

        def lookup() -> int:
            ids = self._search("product.uom", [["symbol", "=", symbol]], limit=1)
            if not ids and symbol != code:
                ids = self._search("product.uom", [["symbol", "=", code]], limit=1)
            if not ids:
                raise TerminalError(
                    f"{label}: unit {code!r} is not known to Tryton (no unit with symbol {symbol!r}; "
                    f"map it in the adapter's 'units')"
                )
            return ids[0]

        return self._cached("unit", code, lookup)

    # -------------------------------------------------------------- outbound

    def fetch_outbound(self) -> list[OutboundDocument]:
        sales = self._search_read(
            "sale.sale",
            [
                ["comment", "like", _like(KEY_MARK)],
                ["comment", "not like", _like(SENT_MARK + "ack")],
                ["state", "in", list(ACK_STATES)],
            ],
            ["id", "number", "reference", "state", "comment", "currency", "party"],
            limit=self.fetch_limit,
            order=[["id", "ASC"]],
        )
        items = []
        for sale in sales:
            if _sent(sale.get("comment"), "ack"):
                continue
            keys = _marks(sale.get("comment"), KEY_MARK)
            if not keys:
                continue
            first = self._sales_with_key(keys[0])
            if first and first[0]["id"] != sale["id"]:
                continue  # a copy made in Tryton: the original sale is the EDI order
            items.append(self._ack_item(sale))
        return items

    def _item_id(self, sale_id: int) -> str:
        return f"tryton:{self.database}:sale:{sale_id}:ack"

    def _ack_item(self, sale: Mapping[str, Any]) -> OutboundDocument:
        item_id = self._item_id(sale["id"])
        source = f"{self.url.rstrip('/')}/{self.database} sale.sale,{sale['id']}"
        try:
            document = self._ack(sale)
            load_document(document)
        except (TerminalError, ValueError, KeyError, TypeError) as exc:
            error = exc if isinstance(exc, TerminalError) else TerminalError(f"sale {sale['id']}: no valid ack: {exc}")
            return OutboundDocument(item_id, None, source, error=error, token=sale["id"])
        return OutboundDocument(item_id, document, source, token=sale["id"])

    def _ack(self, sale: Mapping[str, Any]) -> dict[str, Any]:
        raw = _marks(sale.get("comment"), ORDER_MARK)
        if not raw:
            raise TerminalError(f"sale {sale['id']}: the {ORDER_MARK.strip()} line is missing from its comment")
        try:
            order = json.loads(raw[0])
        except ValueError as exc:
            raise TerminalError(f"sale {sale['id']}: unreadable {ORDER_MARK.strip()} line: {exc}") from exc
        lines = self._search_read(
            "sale.line",
            [["sale", "=", sale["id"]], ["type", "=", "line"]],
            ["product", "quantity", "unit", "unit_price", "note", "shipping_date"],
            order=[["sequence", "ASC"], ["id", "ASC"]],
        )
        by_index: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            marks = _marks(line.get("note"), LINE_MARK)
            if marks and marks[0].isdigit():
                by_index.setdefault(int(marks[0]), []).append(line)
        cancelled = sale["state"] == "cancelled"
        ack_lines = [
            self._ack_line(ordered, [] if cancelled else by_index.get(ordered["i"], [])) for ordered in order["lines"]
        ]
        statuses = {line["status"] for line in ack_lines}
        status = "accepted" if statuses == {"accepted"} else "rejected" if statuses == {"rejected"} else "changed"
        document: dict[str, Any] = {
            "document_type": "purchase_order_ack",
            "schema_version": "1.0",
            "number": order["number"],
            "sender": order["receiver"],
            "receiver": order["sender"],
            "status": status,
            "purpose": "original",
        }
        if sale.get("number"):
            document["seller_order_number"] = sale["number"]
        if order.get("date"):
            document["order_date"] = order["date"]
        document["date"] = dt.datetime.now(dt.UTC).date().isoformat()
        currency = order.get("currency") or self._currency_code(sale.get("currency"))
        if currency:
            document["currency"] = currency
        document["lines"] = ack_lines
        return document

    def _ack_line(self, ordered: Mapping[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
        quantity = ordered["quantity"]
        edi_unit = quantity.get("unit")
        ordered_qty = Decimal(str(quantity["value"]))
        same_unit = all(line.get("unit") == ordered["uom"] for line in lines)
        confirmed = sum((Decimal(str(line.get("quantity") or 0)) for line in lines), Decimal(0))
        prices = {Decimal(str(line["unit_price"])) for line in lines if line.get("unit_price") is not None}
        ordered_price = Decimal(ordered["price"])
        products = {line.get("product") for line in lines}

        result: dict[str, Any] = {}
        if ordered.get("line_number"):
            result["line_number"] = ordered["line_number"]
        if not lines or confirmed == 0:
            status = "rejected"
        elif confirmed == ordered_qty and same_unit and prices <= {ordered_price} and products == {ordered["product"]}:
            status = "accepted"
        else:
            status = "changed"
        result["status"] = status
        if ordered.get("product_ids"):
            result["product_ids"] = ordered["product_ids"]
        if ordered.get("description"):
            result["description"] = ordered["description"]
        result["ordered_quantity"] = quantity
        if ordered.get("unit_price"):
            result["ordered_unit_price"] = ordered["unit_price"]
        confirmed_qty: dict[str, Any] = {"value": _text(confirmed)}
        if same_unit and edi_unit:
            confirmed_qty["unit"] = edi_unit
        elif lines and not same_unit:
            confirmed_qty["unit"] = self._unit_symbol(lines[0]["unit"])
        result["confirmed_quantity"] = confirmed_qty
        if status == "changed" and prices and prices != {ordered_price}:
            result["confirmed_unit_price"] = {"amount": _text(max(prices))}
        dates = sorted({line["shipping_date"] for line in lines if isinstance(line.get("shipping_date"), dt.date)})
        if dates and status != "rejected":
            result["confirmed_dates"] = [{"type": "promised_ship", "date": dates[0].isoformat()}]
        return result

    def _currency_code(self, currency_id: int | None) -> str | None:
        if not currency_id:
            return None

        def lookup() -> str | None:
            rows = self._call("currency.currency", "read", [currency_id], ["code"])
            return rows[0]["code"] if rows else None

        return self._cached("currency_code", str(currency_id), lookup)

    def _unit_symbol(self, uom_id: int) -> str:
        def lookup() -> str:
            rows = self._call("product.uom", "read", [uom_id], ["symbol"])
            return rows[0]["symbol"]

        return self._cached("uom_symbol", str(uom_id), lookup)

    def settle(self, item: OutboundDocument) -> None:
        sale_id = item.token
        if not isinstance(sale_id, int):
            match = re.fullmatch(rf"tryton:{re.escape(self.database)}:sale:(\d+):ack", item.id)
            if not match:
                raise TerminalError(f"not an item of this Tryton adapter: {item.id!r}")
            sale_id = int(match.group(1))
        rows = self._call("sale.sale", "read", [sale_id], ["comment"])
        if not rows:
            return  # the sale was deleted: nothing left to mark
        comment = rows[0].get("comment") or ""
        if _sent(comment, "ack"):
            return
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        mark = f"{SENT_MARK}ack {stamp}" + ("" if item.ok else f" (failed: {str(item.error)[:200]})")
        self._call("sale.sale", "write", [sale_id], {"comment": comment.rstrip("\n") + "\n" + mark})

    def close(self) -> None:
        self.rpc.close()


def _header_date(document: Mapping[str, Any], kind: str) -> dt.date | None:
    for entry in document.get("dates") or []:
        if isinstance(entry, Mapping) and entry.get("type") == kind and entry.get("date"):
            try:
                return dt.date.fromisoformat(str(entry["date"]))
            except ValueError:
                return None
    return None


def build_adapter(config: Mapping[str, Any]) -> TrytonAdapter:
    """The factory :func:`hub.erp.base.build_adapter` calls for ``type: tryton``."""
    return TrytonAdapter.from_config(config)
