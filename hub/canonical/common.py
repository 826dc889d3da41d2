"""The building blocks every canonical document shares: parties, dates, quantities, prices...

Where a standard qualifies a value with a code (N101, NAD 3035, REF01, DTM01,
PO106...), the canonical field is a readable name from a closed list and the
code as received is kept beside it in ``code``, so nothing is lost and a
mapping can write the same code back out.  Amounts are :class:`~decimal.Decimal`
in the document's ``currency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Literal

from hub.canonical.model import Count, Country, Model, many, opt, req

__all__ = [
    "Address",
    "AllowanceCharge",
    "Carrier",
    "Contact",
    "DateEntry",
    "Endpoint",
    "Fob",
    "Note",
    "Packaging",
    "Party",
    "PartyIdentifier",
    "PaymentTerms",
    "Price",
    "ProductId",
    "Quantity",
    "Reference",
    "Schedule",
    "Source",
    "Tax",
]

IdScheme = Literal[
    "duns", "duns_plus4", "gln", "buyer_assigned", "seller_assigned", "mutually_defined", "tax_id", "other"
]
PartyRole = Literal[
    "buyer",
    "seller",
    "supplier",
    "ship_to",
    "ship_from",
    "bill_to",
    "remit_to",
    "mark_for",
    "manufacturer",
    "carrier",
    "payer",
    "other",
]
ContactFunction = Literal[
    "buyer", "sales", "accounts_receivable", "accounts_payable", "shipping", "receiving", "information", "other"
]
ReferenceType = Literal[
    "purchase_order",
    "release",
    "department",
    "contract",
    "promotion",
    "seller_order",
    "customer_order",
    "invoice",
    "bill_of_lading",
    "carrier_pro",
    "tracking",
    "packing_list",
    "delivery_note",
    "quote",
    "account",
    "project",
    "customer_reference",
    "vendor_number",
    "store",
    "previous_document",
    "other",
]
DateType = Literal[
    "document",
    "order",
    "requested_delivery",
    "requested_ship",
    "ship_not_before",
    "ship_no_later",
    "deliver_not_before",
    "deliver_no_later",
    "cancel_after",
    "promised_delivery",
    "promised_ship",
    "estimated_delivery",
    "estimated_ship",
    "shipped",
    "delivered",
    "invoice",
    "due",
    "period_start",
    "period_end",
    "expiry",
    "production",
    "effective",
    "other",
]
PriceType = Literal["net", "gross", "catalog", "contract", "list", "retail", "unit_cost", "calculation", "other"]
ProductScheme = Literal[
    "gtin",
    "upc",
    "ean",
    "isbn",
    "buyer_part",
    "vendor_part",
    "manufacturer_part",
    "sku",
    "style",
    "color",
    "size",
    "catalog",
    "ndc",
    "other",
]
Purpose = Literal["original", "replace", "change", "cancel", "confirmation", "duplicate", "test", "other"]


@dataclass(kw_only=True)
class Endpoint(Model):
    """A trading partner identity as the envelope carries it (ISA06/ISA08 with ISA05/ISA07, UNB S002/S003)."""

    id: str = req("Sender or receiver ID")
    qualifier: str | None = opt("ID qualifier as received (ISA05 '01', 'ZZ'; UNB 0007 '14', 'ZZZ')")
    name: str | None = opt("Partner name, from the partner profile")


@dataclass(kw_only=True)
class Source(Model):
    """Where the document came from (or goes to): the EDI message and its envelopes."""

    standard: Literal["x12", "edifact"] = req("EDI standard")
    version: str | None = opt("Version/release: '004010', '005010VICS', 'D96A'")
    message_type: str | None = opt("Transaction set or message type: '850', 'ORDERS'")
    control_number: str | None = opt("ST02 / UNH 0062")
    group_control_number: str | None = opt("GS06 / UNG 0048")
    interchange_control_number: str | None = opt("ISA13 / UNB 0020")
    test: bool | None = opt("True for test interchanges (ISA15 'T', UNB 0035 '1')")


@dataclass(kw_only=True)
class PartyIdentifier(Model):
    """One identifier of a party (N103/N104, NAD C082)."""

    scheme: IdScheme = req("Kind of identifier")
    value: str = req("The identifier")
    code: str | None = opt("Qualifier code as received (N103 '1', '9', 'UL', '92'; NAD 3055 '9', '16')")


@dataclass(kw_only=True)
class Address(Model):
    """A postal address (N3/N4, NAD C059-C819)."""

    lines: list[str] = many("Street lines")
    city: str | None = opt("City")
    region: str | None = opt("State, province or region code")
    postal_code: str | None = opt("Postal code")
    country: Country | None = opt("Country")
    location_code: str | None = opt("Location identifier (N406, LOC)")


@dataclass(kw_only=True)
class Contact(Model):
    """A contact person or department (PER, CTA/COM)."""

    function: ContactFunction | None = opt("What the contact is for")
    code: str | None = opt("Contact function code as received (PER01 'BD', CTA 3139 'IC')")
    name: str | None = opt("Name")
    phone: str | None = opt("Telephone")
    fax: str | None = opt("Fax")
    email: str | None = opt("E-mail")


@dataclass(kw_only=True)
class Reference(Model):
    """A reference number (REF, N9, PRF, RFF)."""

    type: ReferenceType = req("Kind of reference")
    value: str = req("The reference")
    code: str | None = opt("Qualifier code as received (REF01 'DP', 'CT', 'PD'; RFF 1153 'ON', 'CT')")
    description: str | None = opt("Free-text description (REF03)")
    date: date | None = opt("Date of the referenced document")


@dataclass(kw_only=True)
class Party(Model):
    """A party to the document (N1 loop, NAD group)."""

    role: PartyRole = req("Role of the party")
    code: str | None = opt("Entity/party qualifier as received (N101 'ST', 'BT', 'VN'; NAD 3035 'BY', 'SU', 'DP')")
    name: str | None = opt("Name (N102, NAD C080)")
    additional_names: list[str] = many("Further name lines (N2)")
    identifiers: list[PartyIdentifier] = many("Identifiers: DUNS, GLN, buyer- or seller-assigned...")
    address: Address | None = opt("Postal address")
    contacts: list[Contact] = many("Contacts")
    references: list[Reference] = many("References attached to this party (store number, VAT number...)")


@dataclass(kw_only=True)
class DateEntry(Model):
    """A qualified date (DTM, DTM C507, BEG05 etc. where a typed list is needed)."""

    type: DateType = req("Meaning of the date")
    date: date = req("The date")
    time: time | None = opt("Time of day, if given")
    code: str | None = opt("Date qualifier as received (DTM01 '002', '010'; DTM 2005 '2', '137')")


@dataclass(kw_only=True)
class Note(Model):
    """Free text (MSG, NTE, N9/MSG, FTX)."""

    text: str | None = opt("The text (absent when the note is only a coded reference, see code)")
    subject: str | None = opt("Subject code as received (NTE01 'GEN', FTX 4451 'AAI')")
    code: str | None = opt("Coded free text as received (FTX C107 4441), when the note refers to a standard text")


@dataclass(kw_only=True)
class Quantity(Model):
    """A quantity with its unit of measure (X12 355 'EA', 'CA'; UN/ECE rec. 20 'PCE', 'KGM')."""

    value: Decimal = req("The quantity")
    unit: str | None = opt("Unit of measure code")


@dataclass(kw_only=True)
class Price(Model):
    """A unit price (PO104/PO105, CTP, PRI)."""

    amount: Decimal = req("Price per unit (or per per_quantity units)")
    type: PriceType | None = opt("Kind of price")
    basis: str | None = opt("Price basis or price type code as received (PO105 'PE', 'UA'; PRI 5125 'AAA', 'INV')")
    per_quantity: Decimal | None = opt("Number of units the price applies to, when not 1")
    unit: str | None = opt("Unit of measure the price applies to")


@dataclass(kw_only=True)
class ProductId(Model):
    """An item identifier (PO106/PO107 pairs, LIN, PIA)."""

    scheme: ProductScheme = req("Kind of identifier")
    value: str = req("The identifier")
    code: str | None = opt("Product ID qualifier as received (PO106 'UP', 'VN', 'BP', 'IN'; LIN 7143 'EN', 'SRV')")


@dataclass(kw_only=True)
class AllowanceCharge(Model):
    """An allowance or a charge (SAC, ITA; ALC with MOA/PCD/QTY/RTE)."""

    indicator: Literal["allowance", "charge"] = req("Allowance (reduces the amount) or charge (adds to it)")
    code: str | None = opt("Allowance/charge code as received (SAC02 'B280', 'D360'; ALC 7161 'ABG')")
    description: str | None = opt("Description")
    amount: Decimal | None = opt("Amount")
    percent: Decimal | None = opt("Percentage")
    basis_amount: Decimal | None = opt("Amount the percentage applies to")
    rate: Decimal | None = opt("Rate per unit")
    quantity: Quantity | None = opt("Quantity the rate applies to")
    handling: str | None = opt("Method of handling code as received (SAC12 '02' off invoice, '06' charge to be paid)")


@dataclass(kw_only=True)
class Tax(Model):
    """A tax (TXI, SAC tax, TAX/MOA)."""

    type: str = req("Tax type code as received ('VAT', 'GST', X12 TXI01 'ST', 'LS')")
    category: str | None = opt("Tax category code (EDIFACT 5305 'S', 'Z', 'E')")
    rate: Decimal | None = opt("Rate in percent")
    taxable_amount: Decimal | None = opt("Taxable amount")
    amount: Decimal | None = opt("Tax amount")
    jurisdiction: str | None = opt("Tax jurisdiction")
    exempt: bool | None = opt("True when exempt")
    registration_id: str | None = opt("Tax registration number the tax is declared under")


@dataclass(kw_only=True)
class PaymentTerms(Model):
    """Terms of sale / payment terms (ITD, PAT/PCD/DTM)."""

    type_code: str | None = opt("Terms type code as received (ITD01 '01' basic, '05' discount not applicable)")
    basis_date_code: str | None = opt("Terms basis date code as received (ITD02 '2' delivery, '3' invoice)")
    discount_percent: Decimal | None = opt("Discount percent")
    discount_due_date: date | None = opt("Date by which the discount applies")
    discount_days: Count | None = opt("Days for the discount")
    discount_amount: Decimal | None = opt("Discount amount")
    net_due_date: date | None = opt("Net due date")
    net_days: Count | None = opt("Net days")
    description: str | None = opt("Terms in words")


@dataclass(kw_only=True)
class Fob(Model):
    """FOB / delivery terms (FOB, TOD/LOC)."""

    payment: str | None = opt("Shipment method of payment code as received (FOB01 'PP', 'CC', 'PB')")
    incoterms: str | None = opt("Incoterms code ('FCA', 'DAP')")
    location: str | None = opt("Location the terms apply at")
    location_code: str | None = opt("Location qualifier code as received (FOB02 'OR' origin, 'DE' destination)")
    description: str | None = opt("Terms in words")


@dataclass(kw_only=True)
class Carrier(Model):
    """Carrier and routing (TD5/TD3/TD4, TDT/EQD)."""

    scac: str | None = opt("Standard carrier alpha code")
    name: str | None = opt("Carrier name")
    transport_mode: str | None = opt("Transportation method code as received (TD504 'M', 'U', 'A'; TDT 8067)")
    routing: str | None = opt("Routing in words (TD505)")
    service_level: str | None = opt("Service level code (TD512)")
    equipment_type: str | None = opt("Equipment description code (TD301)")
    equipment_number: str | None = opt("Trailer / container number (TD303)")
    seal_number: str | None = opt("Seal number")


@dataclass(kw_only=True)
class Packaging(Model):
    """How an item is packed (PO4, PAC)."""

    units_per_pack: Decimal | None = opt("Inner units per outer pack (PO401)")
    size: Quantity | None = opt("Size of each unit (PO402/PO403)")
    inner_pack: Decimal | None = opt("Inner packs per outer pack (PO414)")
    package_type: str | None = opt("Packaging code as received (PO405 'CTN', PAC 7065 'BX')")
    gross_weight: Quantity | None = opt("Gross weight per pack")


@dataclass(kw_only=True)
class Schedule(Model):
    """One delivery of a line split over several dates (SCH, QTY+DTM in SCC)."""

    quantity: Quantity = req("Quantity due")
    date: date | None = opt("When")
    date_type: DateType | None = opt("Meaning of the date")
    time: time | None = opt("Time of day, if given")
