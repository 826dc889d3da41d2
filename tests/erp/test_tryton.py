"""The Tryton adapter against a real trytond (started from the template of .ci/tryton_setup.sh), plus wire-level units.

The server tests are ``slow``; they skip without the template, and fail under
CI (``EDIHUB_REQUIRE_CORPUS=1``), where .ci/run builds it first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.canonical import load_document
from hub.erp.base import OutboundDocument, build_adapter
from hub.erp.tryton import DEFAULTS, TrytonAdapter, TrytonRpc, rpc_error
from hub.errors import TerminalError, TransientError
from tests.erp.conftest import golden
from tests.erp.tryton_server import TrytonServer, free_port, start_server

# ------------------------------------------------------------------ fixtures


class Admin:
    """Test-side Tryton access (what a person would click), separate from the adapter under test."""

    def __init__(self, server: TrytonServer) -> None:
        password = server.password_file.read_text(encoding="utf-8").strip()
        self.rpc = TrytonRpc(server.url, server.database, server.user, password)
        preferences = self.rpc.call("model.res.user.get_preferences", True, {})
        self.context = {k: v for k, v in preferences.items() if "." not in k and not k.startswith("locale")}

    def __call__(self, model: str, method: str, *args: Any) -> Any:
        return self.rpc.call(f"model.{model}.{method}", *args, self.context)

    def read(self, model: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        return self(model, "read", ids, fields)

    def search_read(self, model: str, domain: list[Any], fields: list[str]) -> list[dict[str, Any]]:
        return self(model, "search_read", domain, 0, None, [["id", "ASC"]], fields)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonServer]:
    server = start_server(tmp_path_factory.mktemp("tryton"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(server: TrytonServer) -> Iterator[Admin]:
    admin = Admin(server)
    yield admin
    admin.rpc.close()


@pytest.fixture(scope="module")
def catalog(admin: Admin, server: TrytonServer) -> dict[str, int]:
    """The seller's products: ABC-1 (with its UPC as an EAN identifier), X2 (known by the buyer's part number)."""
    (unit,) = admin.search_read("product.uom", [["symbol", "=", "u"]], ["category"])
    (case,) = admin(
        "product.uom",
        "create",
        [
            {
                "name": "Case of 12",
                "symbol": "CA",
                "category": unit["category"],
                "factor": 12.0,
                "rate": round(1 / 12, 12),
                "rounding": 1.0,
                "digits": 0,
            }
        ],
    )
    category = server.meta["product_category"]

    def product(name: str, code: str, identifiers: list[dict[str, Any]], price: str) -> int:
        (template,) = admin(
            "product.template",
            "create",
            [
                {
                    "name": name,
                    "code": code,
                    "type": "goods",
                    "salable": True,
                    "default_uom": unit["id"],
                    "sale_uom": unit["id"],
                    "list_price": Decimal(price),
                    "account_category": category,
                    "products": [["create", [{"identifiers": [["create", identifiers]]}]]],
                }
            ],
        )
        (row,) = admin.read("product.template", [template], ["products"])
        return row["products"][0]

    return {
        "unit": unit["id"],
        "case": case,
        "abc1": product("Blue widget", "ABC-1", [{"type": "ean", "code": "0012345678905"}], "1.10"),
        "x2": product("Gadget", "GAD-2", [{"code": "X2"}], "0.80"),
        "other": product("Other", "OTH-9", [], "5"),
    }


@pytest.fixture
def adapter(server: TrytonServer, catalog: dict[str, int]) -> Iterator[TrytonAdapter]:
    adapter = TrytonAdapter(server.url, server.database, server.user, server.password_reference)
    yield adapter
    adapter.close()


def order(number: str, sender: str = "ACMEBUYER") -> dict[str, Any]:
    """The golden 850 as a valid order for the catalog (line 2's 3.5 EA becomes 3: Tryton's units are whole)."""
    document = golden("850-basic")
    document["number"] = number
    document["sender"]["id"] = sender
    document["lines"][1]["quantity"]["value"] = "3"
    load_document(document)
    return document


def sales(admin: Admin, reference: str) -> list[dict[str, Any]]:
    return admin.search_read(
        "sale.sale",
        [["reference", "=", reference]],
        ["state", "party", "lines", "currency", "shipment_address", "invoice_address", "comment", "number"],
    )


slow = pytest.mark.slow

# ------------------------------------------------------------------ against the server


@slow
def test_post_makes_a_draft_sale_for_the_customer(adapter: TrytonAdapter, admin: Admin, catalog: dict[str, int]):
    delivery = adapter.post(order("PO-T1"), "key-t1")

    assert not delivery.duplicate
    (sale,) = sales(admin, "PO-T1")
    assert delivery.reference == f"sale.sale,{sale['id']}"
    assert sale["state"] == "draft"
    (party,) = admin.read("party.party", [sale["party"]], ["name", "identifiers"])
    codes = [i["code"] for i in admin.read("party.identifier", party["identifiers"], ["code"])]
    assert "ACMEBUYER" in codes
    (currency,) = admin.read("currency.currency", [sale["currency"]], ["code"])
    assert currency["code"] == "USD"
    (ship_to,) = admin.read("party.address", [sale["shipment_address"]], ["party_name", "street", "city", "party"])
    assert ship_to["party"] == sale["party"]
    assert (ship_to["party_name"], ship_to["city"]) == ("ACME STORE 12", "SPRINGFIELD")
    assert ship_to["street"].splitlines() == ["1 MAIN ST", "SUITE 4"]

    lines = admin.read("sale.line", sale["lines"], ["product", "quantity", "unit", "unit_price", "description"])
    lines.sort(key=lambda line: line["id"])
    assert [(line["product"], line["quantity"], line["unit"], line["unit_price"]) for line in lines] == [
        (catalog["abc1"], 10.0, catalog["case"], Decimal("12.50")),
        (catalog["x2"], 3.0, catalog["unit"], Decimal("0.75")),
    ]
    assert lines[0]["description"] == "BLUE WIDGET"
    assert "edihub-key: key-t1" in sale["comment"].splitlines()


@slow
def test_repeated_post_is_a_duplicate_and_creates_nothing(adapter: TrytonAdapter, admin: Admin, server: TrytonServer):
    first = adapter.post(order("PO-T2"), "key-t2")
    parties_before = len(admin.search_read("party.party", [], ["id"]))

    again = adapter.post(order("PO-T2"), "key-t2")

    assert again.duplicate
    assert again.reference == first.reference
    assert len(sales(admin, "PO-T2")) == 1
    assert len(admin.search_read("party.party", [], ["id"])) == parties_before
    # a fresh adapter (another worker, or after a restart) finds it too
    other = TrytonAdapter(server.url, server.database, server.user, server.password_reference)
    try:
        assert other.post(order("PO-T2"), "key-t2").duplicate
    finally:
        other.close()
    # a key that only looks alike (LIKE wildcards) is not a duplicate
    assert not adapter.post(order("PO-T2b"), "key_t2").duplicate


@slow
def test_second_order_reuses_the_customer_and_its_addresses(adapter: TrytonAdapter, admin: Admin):
    adapter.post(order("PO-T3a", sender="REPEATCO"), "key-t3a")
    adapter.post(order("PO-T3b", sender="REPEATCO"), "key-t3b")

    (a,) = sales(admin, "PO-T3a")
    (b,) = sales(admin, "PO-T3b")
    assert a["party"] == b["party"]
    assert (a["shipment_address"], a["invoice_address"]) == (b["shipment_address"], b["invoice_address"])


@slow
def test_confirmed_sale_yields_one_valid_ack_until_settled(adapter: TrytonAdapter, admin: Admin):
    adapter.post(order("PO-T4"), "key-t4")
    (sale,) = sales(admin, "PO-T4")
    lines = sorted(admin.read("sale.line", sale["lines"], ["quantity"]), key=lambda line: line["id"])
    assert not [i for i in adapter.fetch_outbound() if i.token == sale["id"]], "a draft sale is not acknowledged"

    admin("sale.line", "write", [lines[1]["id"]], {"quantity": 2.0})  # the seller can ship only 2 of 3
    admin("sale.sale", "quote", [sale["id"]])
    admin("sale.sale", "confirm", [sale["id"]])
    (sale,) = sales(admin, "PO-T4")
    assert sale["state"] in ("confirmed", "processing")

    items = [i for i in adapter.fetch_outbound() if i.token == sale["id"]]
    assert len(items) == 1
    (item,) = items
    assert item.ok, item.error
    ack = item.document
    load_document(ack)
    assert ack["document_type"] == "purchase_order_ack"
    assert ack["number"] == "PO-T4"
    assert ack["sender"]["id"] == "EDIHUBSELLER" and ack["receiver"]["id"] == "ACMEBUYER"
    assert ack["seller_order_number"] == sale["number"]
    assert ack["status"] == "changed"
    first, second = ack["lines"]
    assert (first["line_number"], first["status"], first["confirmed_quantity"]) == (
        "1",
        "accepted",
        {"value": "10", "unit": "CA"},
    )
    assert (second["line_number"], second["status"], second["confirmed_quantity"]) == (
        "2",
        "changed",
        {"value": "2", "unit": "EA"},
    )
    assert second["ordered_quantity"] == {"value": "3", "unit": "EA"}

    again = [i for i in adapter.fetch_outbound() if i.token == sale["id"]]
    assert [i.id for i in again] == [item.id], "fetch has no side effect and ids are stable"

    adapter.settle(item)
    assert not [i for i in adapter.fetch_outbound() if i.token == sale["id"]]
    adapter.settle(item)  # twice is harmless
    (sale,) = sales(admin, "PO-T4")
    assert sum(line.startswith("edihub-sent: ack") for line in sale["comment"].splitlines()) == 1


@slow
def test_cancelled_sale_yields_a_rejection(adapter: TrytonAdapter, admin: Admin):
    adapter.post(order("PO-T5"), "key-t5")
    (sale,) = sales(admin, "PO-T5")
    admin("sale.sale", "cancel", [sale["id"]])

    (item,) = [i for i in adapter.fetch_outbound() if i.token == sale["id"]]
    assert item.document["status"] == "rejected"
    assert {line["status"] for line in item.document["lines"]} == {"rejected"}
    assert all(line["confirmed_quantity"]["value"] == "0" for line in item.document["lines"])
    adapter.settle(item)


@slow
def test_copied_sale_is_not_acknowledged_twice(adapter: TrytonAdapter, admin: Admin):
    adapter.post(order("PO-T6"), "key-t6")
    (sale,) = sales(admin, "PO-T6")
    (copy_id,) = admin("sale.sale", "copy", [sale["id"]], {})
    for sale_id in (sale["id"], copy_id):
        admin("sale.sale", "quote", [sale_id])
        admin("sale.sale", "confirm", [sale_id])

    tokens = [i.token for i in adapter.fetch_outbound()]
    assert sale["id"] in tokens and copy_id not in tokens
    assert adapter.post(order("PO-T6"), "key-t6").reference == f"sale.sale,{sale['id']}"


@slow
def test_partner_text_cannot_pose_as_a_marker(adapter: TrytonAdapter, admin: Admin):
    document = order("PO-T14")
    document["notes"] = [{"text": "edihub-key: key-evil"}, {"text": "line\nedihub-sent: ack 2020"}]
    document["sender"]["name"] = "EVIL\nedihub-key: key-evil2"
    adapter.post(document, "key-t14")
    (sale,) = sales(admin, "PO-T14")
    admin("sale.sale", "quote", [sale["id"]])
    admin("sale.sale", "confirm", [sale["id"]])

    assert not adapter.post(order("PO-T14b"), "key-evil").duplicate
    assert not adapter.post(order("PO-T14c"), "key-evil2").duplicate
    (item,) = [i for i in adapter.fetch_outbound() if i.token == sale["id"]]
    assert item.ok
    adapter.settle(item)


@slow
def test_unknown_product_fails_terminally_and_creates_no_sale(adapter: TrytonAdapter, admin: Admin):
    document = order("PO-T7")
    document["lines"][1]["product_ids"] = [{"scheme": "buyer_part", "value": "NOPE-1", "code": "BP"}]

    with pytest.raises(TerminalError, match=r"line 2: no Tryton product has the code or identifier buyer_part NOPE-1"):
        adapter.post(document, "key-t7")
    assert sales(admin, "PO-T7") == []


@slow
def test_gtin_spellings_match_and_vendor_code_wins(adapter: TrytonAdapter, admin: Admin, catalog: dict[str, int]):
    document = order("PO-T8")
    document["lines"] = document["lines"][:1]
    document["lines"][0]["product_ids"] = [{"scheme": "gtin", "value": "00012345678905"}]
    document["totals"] = {"line_count": 1}
    adapter.post(document, "key-t8")
    (sale,) = sales(admin, "PO-T8")
    (line,) = admin.read("sale.line", sale["lines"], ["product"])
    assert line["product"] == catalog["abc1"]

    document = order("PO-T8b")
    document["lines"][0]["product_ids"] = [
        {"scheme": "buyer_part", "value": "X2"},  # would be the gadget...
        {"scheme": "vendor_part", "value": "OTH-9"},  # ...but the seller's own code decides
    ]
    adapter.post(document, "key-t8b")
    (sale,) = sales(admin, "PO-T8b")
    products = [line["product"] for line in admin.read("sale.line", sorted(sale["lines"]), ["product"])]
    assert products[0] == catalog["other"]


@slow
def test_unknown_unit_fails_terminally(adapter: TrytonAdapter):
    document = order("PO-T9")
    document["lines"][0]["quantity"]["unit"] = "ZZZ"
    with pytest.raises(TerminalError, match="unit 'ZZZ' is not known to Tryton"):
        adapter.post(document, "key-t9")


@slow
def test_tryton_validation_error_is_terminal_with_trytons_message(adapter: TrytonAdapter, admin: Admin):
    document = order("PO-T10")
    document["lines"][1]["quantity"]["value"] = "3.5"  # the golden order's 3.5 EA: 'u' has no decimals in Tryton
    with pytest.raises(TerminalError, match=r"Tryton refused model\.sale\.sale\.create: .*digits") as info:
        adapter.post(document, "key-t10")
    assert "Quantity" in str(info.value)
    assert sales(admin, "PO-T10") == []


@slow
@pytest.mark.parametrize("case", ["855-basic", "856-basic", "810-basic"])
def test_other_documents_are_refused(adapter: TrytonAdapter, case: str):
    with pytest.raises(TerminalError, match="tryton adapter takes purchase orders"):
        adapter.post(golden(case), f"key-{case}")


@slow
def test_malformed_order_without_validation_is_terminal(server: TrytonServer, catalog: dict[str, int]):
    adapter = TrytonAdapter(server.url, server.database, server.user, server.password_reference, validate=False)
    document = order("PO-T15")
    del document["lines"][0]["quantity"]
    with pytest.raises(TerminalError, match="malformed purchase order"):
        adapter.post(document, "key-t15")
    adapter.close()


@slow
def test_wrong_login_is_terminal(server: TrytonServer, catalog: dict[str, int]):
    adapter = TrytonAdapter(server.url, server.database, "nobody", server.password_reference)
    with pytest.raises(TerminalError, match="refused the login of 'nobody'"):
        adapter.post(order("PO-T11"), "key-t11")
    adapter.close()


@slow
def test_expired_session_is_renewed(adapter: TrytonAdapter):
    adapter.fetch_outbound()
    before = adapter.rpc._auth
    adapter.rpc._send("common.db.logout", [], before)  # the server forgets the session
    adapter.fetch_outbound()
    assert adapter.rpc._auth not in (None, before)


@slow
def test_server_down_is_transient(tmp_path: Path, catalog: dict[str, int]):
    own = start_server(tmp_path / "tryton")
    try:
        adapter = TrytonAdapter(own.url, own.database, own.user, own.password_reference, timeout=5)
        assert adapter.fetch_outbound() == []
    finally:
        own.stop()
    with pytest.raises(TransientError, match="unreachable"):
        adapter.post(order("PO-T12"), "key-t12")
    with pytest.raises(TransientError):
        adapter.fetch_outbound()
    adapter.close()

    never = TrytonAdapter(f"http://127.0.0.1:{free_port()}", "x", "admin", own.password_reference)
    with pytest.raises(TransientError):
        never.post(order("PO-T13"), "key-t13")
    never.close()


# ------------------------------------------------------------------ wire level (no server)


def _mock(handler: Any) -> TrytonAdapter:
    return TrytonAdapter(
        "http://tryton.test",
        "db",
        "admin",
        "${TRYTON_PW}",
        environ={"TRYTON_PW": "pw"},
        transport=httpx.MockTransport(handler),
    )


def _answer(request: httpx.Request, result: Any = None, error: Any = None) -> httpx.Response:
    body = json.loads(request.content)
    payload: dict[str, Any] = {"id": body["id"]}
    payload["error" if error is not None else "result"] = error if error is not None else result
    return httpx.Response(200, json=payload)


def _logged_in(request: httpx.Request) -> httpx.Response | None:
    method = json.loads(request.content)["method"]
    if method == "common.db.login":
        return _answer(request, [1, "token", None])
    if method == "model.res.user.get_preferences":
        return _answer(request, {"company": 1, "companies": [1], "language": "en"})
    return None


def test_http_5xx_is_transient_with_retry_after():
    adapter = _mock(lambda request: _logged_in(request) or httpx.Response(503, headers={"Retry-After": "7"}))
    with pytest.raises(TransientError, match="HTTP 503") as info:
        adapter.fetch_outbound()
    assert info.value.retry_after == 7.0


def test_user_error_is_terminal_with_trytons_message():
    def handler(request: httpx.Request) -> httpx.Response:
        return _logged_in(request) or _answer(
            request, error=["UserError", ['The value for field "Party" is not valid.', "Check it.", None]]
        )

    with pytest.raises(TerminalError, match=r'Tryton refused .*"Party" is not valid\. \(Check it\.\)'):
        _mock(handler).fetch_outbound()


def test_session_header_and_tryton_json_classes():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _logged_in(request) or _answer(
            request, [{"id": 1, "amount": {"__class__": "Decimal", "decimal": "1.5"}}]
        )

    adapter = _mock(handler)
    assert adapter._search_read("x.y", [], ["amount"]) == [{"id": 1, "amount": Decimal("1.5")}]
    assert seen[-1].url.path == "/db/rpc/"
    assert seen[-1].headers["Authorization"].startswith("Session ")
    login = json.loads(seen[0].content)
    assert login["method"] == "common.db.login" and login["params"][:2] == ["admin", {"password": "pw"}]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (["ConcurrencyException", "Records were modified in the meanwhile"], TransientError),
        (["UserWarning", ["name", "Are you sure?", ""]], TerminalError),
        (["'res.user'", "Traceback ..."], TransientError),
        ("weird", TransientError),
    ],
)
def test_rpc_error_kinds(error: Any, kind: type[Exception]):
    assert isinstance(rpc_error("model.x.y", error), kind)


def test_password_must_be_a_reference_and_options_are_checked():
    with pytest.raises(ValueError, match="must be a reference"):
        TrytonAdapter("http://tryton.test", "db", "admin", "plain-secret")
    with pytest.raises(ValueError, match="unknown option"):
        TrytonAdapter.from_config({"url": "http://x", "database": "d", "user": "u", "password": "${P}", "pasword": 1})
    assert set(DEFAULTS) >= {"url", "database", "user", "password", "company", "warehouse", "units"}


def test_factory_builds_the_tryton_adapter(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EDIHUB_TEST_TRYTON_PW", "pw")
    adapter = build_adapter(
        {
            "type": "tryton",
            "tryton": {"url": "http://x:8000", "database": "d", "user": "u", "password": "${EDIHUB_TEST_TRYTON_PW}"},
        }
    )
    assert isinstance(adapter, TrytonAdapter) and adapter.name == "tryton"
    adapter.close()


def test_settle_refuses_foreign_items():
    adapter = _mock(lambda request: _logged_in(request) or _answer(request, []))
    with pytest.raises(TerminalError, match="not an item of this Tryton adapter"):
        adapter.settle(OutboundDocument("folder:abc", {}, "x"))
    adapter.settle(OutboundDocument("tryton:db:sale:5:ack", {}, "x"))  # a deleted sale: nothing to mark
