"""The five canonical documents: PurchaseOrder, PurchaseOrderAck, ShipNotice, Invoice, FunctionalAck.

Each document's JSON starts with ``document_type`` and ``schema_version``,
then ``number``, ``sender``, ``receiver`` and ends with ``lines``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any, ClassVar, Literal

from hub.canonical.common import (
    AllowanceCharge,
    Carrier,
    Contact,
    DateEntry,
    DateType,
    Endpoint,
    Fob,
    Note,
    Packaging,
    Party,
    PaymentTerms,
    Price,
    ProductId,
    Purpose,
    Quantity,
    Reference,
    Schedule,
    Source,
    Tax,
)
from hub.canonical.model import CanonicalError, Count, Currency, Model, Position, Sscc, many, opt, req

SCHEMA_VERSION = "1.0"


@dataclass(kw_only=True)
class Document(Model):
    """Base of the canonical documents: what every one of them carries."""

    DOCUMENT_TYPE: ClassVar[str] = ""

    number: str = req("Business number of the document")
    sender: Endpoint = req("Who sends the document")
    receiver: Endpoint = req("Who receives the document")
    source: Source | None = opt("The EDI message the document was read from or is written to")

    def to_json(self) -> dict[str, Any]:
        return {"document_type": self.DOCUMENT_TYPE, "schema_version": SCHEMA_VERSION, **super().to_json()}

    @classmethod
    def from_json(cls, data: Any, *, validate: bool = True) -> Any:
        """Builds the document from its JSON; with ``validate`` (default) the JSON Schema is checked first.

        Raises :class:`~hub.canonical.model.DocumentError` (a ``ValueError``) listing every problem.
        """
        if validate:
            from hub.canonical.schema import validate_document

            errors = validate_document(data)
            if errors:
                from hub.canonical.model import DocumentError

                raise DocumentError(errors)
        return cls._from_document(data)

    @classmethod
    def _from_document(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise CanonicalError("document: expected an object")
        if data.get("document_type") != cls.DOCUMENT_TYPE:
            raise CanonicalError(f"document_type: expected {cls.DOCUMENT_TYPE!r}, got {data.get('document_type')!r}")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise CanonicalError(f"schema_version: expected {SCHEMA_VERSION!r}, got {data.get('schema_version')!r}")
        body = {k: v for k, v in data.items() if k not in ("document_type", "schema_version")}
        return cls._from_dict(body, cls.DOCUMENT_TYPE)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of this document, built from the dataclasses."""
        defs: dict[str, Any] = {}
        body = cls._object_schema(defs)
        props = {
            "document_type": {"const": cls.DOCUMENT_TYPE, "description": "Kind of canonical document"},
            "schema_version": {"const": SCHEMA_VERSION, "description": "Version of this schema"},
            **body["properties"],
        }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://edihub.dev/schemas/canonical/{cls.DOCUMENT_TYPE}-{SCHEMA_VERSION}.json",
            "title": f"edihub canonical {cls.__name__} {SCHEMA_VERSION}",
            "description": body.get("description", ""),
            "type": "object",
            "properties": props,
            "required": ["document_type", "schema_version", *body["required"]],
            "additionalProperties": False,
            "$defs": dict(sorted(defs.items())),
        }


# ------------------------------------------------------------ purchase order


@dataclass(kw_only=True)
class OrderTotals(Model):
    """Control totals of an order or an acknowledgment (CTT, AMT; CNT, MOA)."""

    line_count: Count | None = opt("Number of line items (CTT01, CNT 2)")
    quantity_total: Decimal | None = opt("Hash total of the line quantities (CTT02)")
    amount: Decimal | None = opt("Total amount (AMT 'TT', MOA 79/86)")
    weight: Quantity | None = opt("Total weight (CTT03/CTT04)")


@dataclass(kw_only=True)
class OrderLine(Model):
    """One ordered item (PO1 loop, ORDERS LIN group)."""

    line_number: str | None = opt("Line number assigned by the buyer (PO101, LIN 1082)")
    product_ids: list[ProductId] = many("Item identifiers: GTIN/UPC, buyer and vendor part numbers...")
    description: str | None = opt("Item description (PID05, IMD)")
    quantity: Quantity = req("Ordered quantity (PO102/PO103, QTY 21)")
    unit_price: Price | None = opt("Unit price (PO104/PO105, PRI)")
    other_prices: list[Price] = many("Further prices: retail, catalog... (CTP, PRI)")
    amount: Decimal | None = opt("Line amount (quantity x price, less line allowances)")
    packaging: Packaging | None = opt("Pack (PO4, PAC)")
    dates: list[DateEntry] = many("Line dates: requested delivery or ship...")
    schedule: list[Schedule] = many("Delivery schedule when the quantity is split over dates (SCH)")
    references: list[Reference] = many("Line references")
    parties: list[Party] = many("Line parties, e.g. a ship-to per line (N1 in the PO1 loop, SDQ)")
    allowances_charges: list[AllowanceCharge] = many("Line allowances and charges (SAC, ALC)")
    taxes: list[Tax] = many("Line taxes")
    notes: list[Note] = many("Line notes")


OrderType = Literal["standard", "blanket", "release", "dropship", "rush", "consignment", "sample", "other"]


@dataclass(kw_only=True)
class PurchaseOrder(Document):
    """A purchase order (X12 850, EDIFACT ORDERS); ``number`` is the PO number (BEG03, BGM 1004)."""

    DOCUMENT_TYPE: ClassVar[str] = "purchase_order"

    purpose: Purpose | None = opt("Purpose (BEG01, BGM 1225)")
    order_type: OrderType | None = opt("Kind of order (BEG02, BGM 1001)")
    order_type_code: str | None = opt("Order type code as received (BEG02 'SA', 'BK'; BGM 1001 '220')")
    release_number: str | None = opt("Release number (BEG04)")
    date: date | None = opt("Order date (BEG05, DTM 137)")
    currency: Currency | None = opt("Currency of every amount (CUR02, CUX)")
    parties: list[Party] = many("Buyer, seller, ship-to, bill-to...")
    references: list[Reference] = many("Department, contract, promotion, vendor number...")
    dates: list[DateEntry] = many("Requested delivery, ship not before, cancel after...")
    contacts: list[Contact] = many("Header contacts not tied to a party (PER)")
    terms: list[PaymentTerms] = many("Terms of sale (ITD, PAT)")
    fob: Fob | None = opt("FOB / delivery terms")
    carrier: Carrier | None = opt("Carrier and routing (TD5, TDT)")
    notes: list[Note] = many("Header notes (MSG, NTE, FTX)")
    allowances_charges: list[AllowanceCharge] = many("Header allowances and charges")
    taxes: list[Tax] = many("Header taxes")
    totals: OrderTotals | None = opt("Control totals")
    lines: list[OrderLine] = req("One entry per PO1 / LIN line")


# -------------------------------------------------------- purchase order ack

LineStatus = Literal["accepted", "changed", "rejected", "backordered", "pending"]


@dataclass(kw_only=True)
class AckSchedule(Model):
    """One part of an acknowledged line (each ACK segment, each QTY/DTM of an ORDRSP line)."""

    status: LineStatus = req("Status of this part")
    status_code: str | None = opt("Status code as received (ACK01 'IA', 'IB', 'IQ')")
    quantity: Quantity | None = opt("Quantity this status applies to")
    date: date | None = opt("Date for this quantity")
    date_type: DateType | None = opt("Meaning of the date")


@dataclass(kw_only=True)
class AckLine(Model):
    """The seller's answer to one ordered line (PO1/ACK loop, ORDRSP LIN group)."""

    line_number: str | None = opt("Line number of the order line (PO101, LIN 1082)")
    status: LineStatus = req("Line status")
    status_code: str | None = opt("Status code as received (ACK01 'IA', 'IR', 'IC'; LIN 1229 '5', '7', '3')")
    reason: str | None = opt("Why the line was changed or rejected")
    product_ids: list[ProductId] = many("Item identifiers (the substitute's when substituted)")
    description: str | None = opt("Item description")
    ordered_quantity: Quantity | None = opt("Quantity as ordered (PO102, QTY 21)")
    ordered_unit_price: Price | None = opt("Unit price as ordered (PO104)")
    confirmed_quantity: Quantity | None = opt("Quantity the seller will ship (ACK02, QTY 113)")
    confirmed_unit_price: Price | None = opt("Unit price the seller will invoice (changed price: CTP, PRI)")
    confirmed_dates: list[DateEntry] = many("Dates the seller promises (ACK05, DTM)")
    schedule: list[AckSchedule] = many("The line split by status/date when it has several ACK segments")
    references: list[Reference] = many("Line references")
    allowances_charges: list[AllowanceCharge] = many("Line allowances and charges")
    taxes: list[Tax] = many("Line taxes")
    notes: list[Note] = many("Line notes")


@dataclass(kw_only=True)
class PurchaseOrderAck(Document):
    """A purchase order acknowledgment (X12 855, EDIFACT ORDRSP); ``number`` is the PO number (BAK03, RFF+ON)."""

    DOCUMENT_TYPE: ClassVar[str] = "purchase_order_ack"

    status: Literal["accepted", "changed", "rejected", "pending"] = req("Status of the whole order")
    status_code: str | None = opt("Acknowledgment type code as received (BAK02 'AC', 'AD', 'RJ'; BGM 1225 '29')")
    purpose: Purpose | None = opt("Purpose (BAK01, BGM 1225)")
    ack_number: str | None = opt("The acknowledgment's own number (BGM 1004)")
    seller_order_number: str | None = opt("Seller's order number (BAK08)")
    order_date: date | None = opt("Date of the order acknowledged (BAK04)")
    date: date | None = opt("Date of the acknowledgment (BAK09, DTM 137)")
    currency: Currency | None = opt("Currency of every amount")
    parties: list[Party] = many("Buyer, seller, ship-to...")
    references: list[Reference] = many("References")
    dates: list[DateEntry] = many("Header dates (promised delivery...)")
    contacts: list[Contact] = many("Header contacts")
    terms: list[PaymentTerms] = many("Terms of sale")
    fob: Fob | None = opt("FOB / delivery terms")
    carrier: Carrier | None = opt("Carrier and routing")
    notes: list[Note] = many("Header notes")
    allowances_charges: list[AllowanceCharge] = many("Header allowances and charges")
    taxes: list[Tax] = many("Header taxes")
    totals: OrderTotals | None = opt("Control totals")
    lines: list[AckLine] = req("One entry per PO1 / LIN line")


# --------------------------------------------------------------- ship notice


@dataclass(kw_only=True)
class ShipItem(Model):
    """One item shipped (HL item level: LIN/SN1/PO4/PID; DESADV LIN group)."""

    line_number: str | None = opt("Line number of the order line (LIN01, LIN 1082)")
    product_ids: list[ProductId] = many("Item identifiers")
    description: str | None = opt("Item description")
    shipped_quantity: Quantity = req("Quantity shipped (SN102/SN103, QTY 12)")
    ordered_quantity: Quantity | None = opt("Quantity ordered (SN105/SN106, QTY 21)")
    status_code: str | None = opt("Line item status code as received (SN108 'AC', 'BP')")
    unit_price: Price | None = opt("Unit price, when carried")
    packaging: Packaging | None = opt("Pack (PO4)")
    batch_number: str | None = opt("Lot / batch number")
    serial_numbers: list[str] = many("Serial numbers")
    dates: list[DateEntry] = many("Item dates: expiry, production...")
    references: list[Reference] = many("Item references")
    notes: list[Note] = many("Item notes")


@dataclass(kw_only=True)
class ShipNoticeLine(ShipItem):
    """An item of the flattened ``lines`` of a ship notice: the item plus its order and pack."""

    purchase_order_number: str | None = opt("Order the item belongs to")
    sscc: Sscc | None = opt("SSCC of the pack the item is in")


@dataclass(kw_only=True)
class Pack(Model):
    """A pallet, carton or other package (HL tare/pack level: MAN, PO4, TD1; DESADV CPS/PAC/GIN)."""

    sscc: Sscc | None = opt("SSCC-18 (MAN 'GM', GIN 'BJ')")
    level: Literal["tare", "pack", "inner"] | None = opt("Level in the hierarchy: tare is a pallet")
    parent_sscc: Sscc | None = opt("SSCC of the pallet or pack this pack sits in")
    package_type: str | None = opt("Packaging code as received ('CTN25', PAC 7065 'BX')")
    marks: list[str] = many("Other marks and numbers (MAN 'CP', 'UC'...)")
    tracking_number: str | None = opt("Carrier tracking number of this package")
    weight: Quantity | None = opt("Gross weight of the package")
    items: list[ShipItem] = many("Items in this package")


@dataclass(kw_only=True)
class ShipOrder(Model):
    """One order in a shipment (HL order level: PRF, REF, N1; DESADV RFF+ON)."""

    purchase_order_number: str = req("PO number (PRF01, RFF+ON)")
    purchase_order_date: date | None = opt("PO date (PRF04)")
    release_number: str | None = opt("Release number (PRF02)")
    seller_order_number: str | None = opt("Seller's order number")
    invoice_number: str | None = opt("Invoice number, when known")
    references: list[Reference] = many("Order references: department, vendor number...")
    parties: list[Party] = many("Order parties, e.g. the mark-for store")
    dates: list[DateEntry] = many("Order dates")
    packs: list[Pack] = many("Packages (an order shipped without packs has one pack without SSCC)")


@dataclass(kw_only=True)
class ShipNotice(Document):
    """An advance ship notice (X12 856, EDIFACT DESADV); ``number`` is the shipment ID (BSN02, BGM 1004).

    ``lines`` is derived: the items of every pack of every order, each with its
    PO number and pack SSCC; it must agree with ``orders``.
    """

    DOCUMENT_TYPE: ClassVar[str] = "ship_notice"
    __derived__: ClassVar[dict[str, Any]] = {"lines": list[ShipNoticeLine]}

    purpose: Purpose | None = opt("Purpose (BSN01, BGM 1225)")
    date: date | None = opt("Date of the notice (BSN03, DTM 137)")
    time: time | None = opt("Time of the notice (BSN04)")
    parties: list[Party] = many("Ship-from, ship-to, buyer, supplier...")
    references: list[Reference] = many("Bill of lading, carrier PRO number, packing list...")
    dates: list[DateEntry] = many("Shipped, estimated delivery...")
    carrier: Carrier | None = opt("Carrier and routing (TD5, TDT)")
    fob: Fob | None = opt("FOB / delivery terms")
    tracking_numbers: list[str] = many("Shipment tracking numbers")
    lading_quantity: Quantity | None = opt("Number of packages shipped (TD101/TD102, CPS/PAC)")
    gross_weight: Quantity | None = opt("Gross weight (TD106-TD108, MEA)")
    net_weight: Quantity | None = opt("Net weight")
    volume: Quantity | None = opt("Volume")
    notes: list[Note] = many("Notes")
    line_count: Count | None = opt("Number of line items (CTT01, CNT)")
    orders: list[ShipOrder] = many("Shipment -> orders -> packs -> items")

    @property
    def lines(self) -> list[ShipNoticeLine]:
        out = []
        for order in self.orders:
            for pack in order.packs:
                for item in pack.items:
                    values = {f.name: getattr(item, f.name) for f in ShipItem._fields()}
                    out.append(
                        ShipNoticeLine(**values, purchase_order_number=order.purchase_order_number, sscc=pack.sscc)
                    )
        return out


# ------------------------------------------------------------------- invoice


@dataclass(kw_only=True)
class InvoiceLine(Model):
    """One invoiced item (IT1 loop, INVOIC LIN group)."""

    line_number: str | None = opt("Line number (IT101, LIN 1082)")
    order_line_number: str | None = opt("Line number on the purchase order, when different")
    product_ids: list[ProductId] = many("Item identifiers")
    description: str | None = opt("Item description")
    quantity: Quantity = req("Invoiced quantity (IT102/IT103, QTY 47)")
    unit_price: Price | None = opt("Unit price (IT104/IT105, PRI)")
    other_prices: list[Price] = many("Further prices (CTP, PRI)")
    amount: Decimal | None = opt("Line amount (MOA 203)")
    packaging: Packaging | None = opt("Pack (PO4, PAC)")
    dates: list[DateEntry] = many("Line dates")
    references: list[Reference] = many("Line references (PO number when the invoice spans orders)")
    allowances_charges: list[AllowanceCharge] = many("Line allowances and charges (SAC, ALC)")
    taxes: list[Tax] = many("Line taxes (TXI, TAX)")
    notes: list[Note] = many("Line notes")


@dataclass(kw_only=True)
class InvoiceTotals(Model):
    """Invoice totals (TDS, CTT, ISS; MOA in the UNS summary)."""

    line_total: Decimal | None = opt("Sum of the line amounts (MOA 79)")
    allowance_total: Decimal | None = opt("Sum of allowances (MOA 260)")
    charge_total: Decimal | None = opt("Sum of charges (MOA 259)")
    taxable_amount: Decimal | None = opt("Taxable amount (MOA 125)")
    tax_total: Decimal | None = opt("Total tax (MOA 176/124)")
    total_amount: Decimal | None = opt("Invoice total (TDS01, MOA 77/86)")
    prepaid_amount: Decimal | None = opt("Amount already paid (MOA 113)")
    amount_due: Decimal | None = opt("Amount due (MOA 9)")
    discount_eligible_amount: Decimal | None = opt("Amount subject to terms discount (TDS02)")
    discount_amount: Decimal | None = opt("Terms discount amount (TDS04)")
    line_count: Count | None = opt("Number of line items (CTT01, CNT 2)")
    quantity_total: Quantity | None = opt("Total quantity shipped/invoiced (ISS)")
    weight: Quantity | None = opt("Total weight (ISS)")


@dataclass(kw_only=True)
class Invoice(Document):
    """An invoice or credit note (X12 810, EDIFACT INVOIC); ``number`` is the invoice number (BIG02, BGM 1004)."""

    DOCUMENT_TYPE: ClassVar[str] = "invoice"

    invoice_type: Literal["invoice", "credit_note", "debit_note", "corrected", "proforma", "other"] | None = opt(
        "Kind of invoice (BIG07, BGM 1001)"
    )
    invoice_type_code: str | None = opt("Type code as received (BIG07 'CR', BGM 1001 '380', '381')")
    purpose: Purpose | None = opt("Purpose (BIG08, BGM 1225)")
    date: date | None = opt("Invoice date (BIG01, DTM 137/3)")
    purchase_order_number: str | None = opt("PO number (BIG04, RFF+ON)")
    purchase_order_date: date | None = opt("PO date (BIG03)")
    release_number: str | None = opt("Release number (BIG05)")
    currency: Currency | None = opt("Currency of every amount (CUR, CUX)")
    parties: list[Party] = many("Seller/supplier, buyer, bill-to, remit-to, ship-to...")
    references: list[Reference] = many("Bill of lading, packing list, contract...")
    dates: list[DateEntry] = many("Shipped, delivered, period...")
    contacts: list[Contact] = many("Header contacts (PER)")
    terms: list[PaymentTerms] = many("Terms of sale (ITD, PAT)")
    fob: Fob | None = opt("FOB / delivery terms")
    carrier: Carrier | None = opt("Carrier and routing")
    notes: list[Note] = many("Notes")
    allowances_charges: list[AllowanceCharge] = many("Header allowances and charges (SAC, ALC)")
    taxes: list[Tax] = many("Header tax lines (TXI, TAX/MOA)")
    totals: InvoiceTotals | None = opt("Totals")
    lines: list[InvoiceLine] = req("One entry per IT1 / LIN line")


# --------------------------------------------------------- functional ack

AckStatus = Literal["accepted", "accepted_with_errors", "partially_accepted", "rejected", "received"]


@dataclass(kw_only=True)
class ElementError(Model):
    """An error in one data element (AK4, IK4, CONTRL UCD)."""

    position: Position | None = opt("Element position in the segment (AK401-1, UCD S011 0098)")
    component_position: Position | None = opt("Component position (AK401-2)")
    repetition_position: Position | None = opt("Repetition position (IK401-3)")
    reference_number: str | None = opt("Data element reference number (AK402)")
    error_code: str = req("Error code (AK403, IK403, UCD 0085)")
    bad_value: str | None = opt("Copy of the bad value (AK404)")


@dataclass(kw_only=True)
class SegmentError(Model):
    """An error in one segment (AK3, IK3, CONTRL UCS)."""

    segment_id: str | None = opt("Segment tag (AK301)")
    position: Position | None = opt("Segment position in the set, ST/UNH = 1 (AK302, UCS 0096)")
    loop_id: str | None = opt("Loop identifier (AK303)")
    error_code: str | None = opt("Segment error code (AK304, IK304, UCS 0085)")
    elements: list[ElementError] = many("Element errors within the segment")


@dataclass(kw_only=True)
class TransactionAck(Model):
    """The result for one transaction set or message (AK2/AK5, IK2/IK5, CONTRL UCM)."""

    group_control_number: str | None = opt("Control number of the group the set is in")
    transaction_type: str = req("Transaction set or message type (AK201, UCM S009 0065): '850', 'ORDERS'")
    control_number: str = req("Its control number (AK202, UCM 0062)")
    implementation_reference: str | None = opt("Implementation convention reference (AK203)")
    status: AckStatus = req("Result")
    status_code: str | None = opt("Status code as received (AK501 'A', 'E', 'R'; UCM 0083 '7', '4')")
    error_codes: list[str] = many("Set-level error codes (AK502-AK506, IK502-IK506, UCM 0085)")
    segment_errors: list[SegmentError] = many("Segment and element errors")


@dataclass(kw_only=True)
class GroupAck(Model):
    """The result for one functional group (AK1/AK9; CONTRL UCF)."""

    functional_id: str | None = opt("Functional identifier code (AK101 'PO', UNG 0038)")
    control_number: str | None = opt("Group control number (AK102, UCF 0048)")
    version: str | None = opt("Version (AK103)")
    status: AckStatus = req("Result")
    status_code: str | None = opt("Status code as received (AK901 'A', 'E', 'P', 'R'; UCF 0083)")
    transactions_included: Count | None = opt("Sets included in the group (AK902)")
    transactions_received: Count | None = opt("Sets received (AK903)")
    transactions_accepted: Count | None = opt("Sets accepted (AK904)")
    error_codes: list[str] = many("Group-level error codes (AK905-AK909, UCF 0085)")


@dataclass(kw_only=True)
class FunctionalAck(Document):
    """A functional or syntax acknowledgment (X12 997/999, EDIFACT CONTRL).

    ``number`` is the control number acknowledged: the group control number
    (AK102) for 997/999, the interchange control number (UCI 0020) for CONTRL.
    ``lines`` has one entry per acknowledged transaction set or message.
    """

    DOCUMENT_TYPE: ClassVar[str] = "functional_ack"

    ack_type: Literal["997", "999", "CONTRL"] = req("Kind of acknowledgment")
    date: date | None = opt("Date of the acknowledgment")
    time: time | None = opt("Time of the acknowledgment")
    interchange_control_number: str | None = opt("Interchange acknowledged (UCI 0020)")
    interchange_status: AckStatus | None = opt("Result for the interchange (UCI 0083)")
    interchange_status_code: str | None = opt("Status code as received (UCI 0083 '4', '7', '8')")
    interchange_error_codes: list[str] = many("Interchange-level error codes (UCI 0085)")
    groups: list[GroupAck] = many("Per functional group results")
    lines: list[TransactionAck] = req("One entry per acknowledged transaction set / message")


DOCUMENT_CLASSES: dict[str, type[Document]] = {
    cls.DOCUMENT_TYPE: cls for cls in (PurchaseOrder, PurchaseOrderAck, ShipNotice, Invoice, FunctionalAck)
}
