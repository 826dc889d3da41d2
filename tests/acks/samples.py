"""Hand-written X12 inbound files for the acknowledgment tests, and hand-made findings.

Segments are written one per line (``~`` then LF), ``*`` / ``>`` / ``~``
delimiters unless a test asks otherwise.  Counts (SE01, GE01, IEA01) are right
unless a test overrides them.
"""

from __future__ import annotations

from hub.edi.core import ERROR, SCHEMA, WARNING, Finding

PO_BODY = ["BEG*00*SA*PO-1001**20240102", "N1*ST*ACME DC*92*0042", "PO1*1*10*EA*9.95**VP*ABC-1", "CTT*1"]
CLAIM_BODY = [
    "BHT*0019*00*0123*20240102*1200*CH",
    "NM1*41*2*SUBMITTER INC*****46*999999999",
    "HL*1**20*1",
    "NM1*85*2*BILLING GROUP*****XX*1234567890",
    "CLM*A37YH556*500***11>B>1*Y*A*Y*I",
    "SV1*HC>99211>25*12.25*UN*1*11**1**Y",
]


def isa(
    *,
    sender: str = "SENDERID",
    receiver: str = "HUBID",
    control: str = "000000101",
    version: str = "00401",
    ack: str = "0",
    usage: str = "P",
    rep: str | None = None,
    comp: str = ">",
    q_sender: str = "ZZ",
    q_receiver: str = "ZZ",
    date: str = "240102",
    time: str = "1200",
) -> str:
    if rep is None:
        rep = "^" if version >= "00402" else "U"
    return (
        f"ISA*00*{'':10}*00*{'':10}*{q_sender}*{sender:<15}*{q_receiver}*{receiver:<15}*{date}*{time}*{rep}*"
        f"{version}*{control}*{ack}*{usage}*{comp}~\n"
    )


def tx(
    type_: str,
    control: str,
    body: list[str],
    *,
    impl: str | None = None,
    count: int | None = None,
    se_control: str | None = None,
    se: bool = True,
) -> str:
    segs = [f"ST*{type_}*{control}" + (f"*{impl}" if impl else ""), *body]
    if se:
        segs.append(f"SE*{len(segs) + 1 if count is None else count}*{se_control or control}")
    return "".join(s + "~\n" for s in segs)


def group(
    fid: str,
    control: str,
    version: str,
    sets: list[str],
    *,
    sender: str = "SENDERGS",
    receiver: str = "HUBGS",
    ge: bool = True,
    ge_count: int | None = None,
    ge_control: str | None = None,
) -> str:
    text = f"GS*{fid}*{sender}*{receiver}*20240102*1200*{control}*X*{version}~\n" + "".join(sets)
    if ge:
        text += f"GE*{len(sets) if ge_count is None else ge_count}*{ge_control or control}~\n"
    return text


def interchange(
    groups: list[str],
    *,
    iea: bool = True,
    iea_count: int | None = None,
    iea_control: str | None = None,
    ta1s: list[str] = (),
    **isa_fields,
) -> str:
    control = isa_fields.get("control", "000000101")
    text = isa(**isa_fields) + "".join(t + "~\n" for t in ta1s) + "".join(groups)
    if iea:
        text += f"IEA*{len(groups) if iea_count is None else iea_count}*{iea_control or control}~\n"
    return text


def po_file(**isa_fields) -> bytes:
    """One clean 004010 850 in one group."""
    return interchange([group("PO", "1001", "004010", [tx("850", "0001", PO_BODY)])], **isa_fields).encode()


def claim_5010(sets: int = 1, **isa_fields) -> bytes:
    """837P 005010X222A1 (a HIPAA group: pyx12's stock 999 map fits its ack)."""
    isa_fields.setdefault("version", "00501")
    txs = [tx("837", f"{n:04d}", CLAIM_BODY, impl="005010X222A1") for n in range(1, sets + 1)]
    return interchange([group("HC", "2001", "005010X222A1", txs)], **isa_fields).encode()


def claim_4010(sets: int = 1, **isa_fields) -> bytes:
    """837P 004010X098A1 (a HIPAA group: pyx12's stock 997 map fits its ack)."""
    txs = [tx("837", f"{n:04d}", CLAIM_BODY) for n in range(1, sets + 1)]
    return interchange([group("HC", "3001", "004010X098A1", txs)], **isa_fields).encode()


# ------------------------------------------------------------- findings


def segment_finding(position: int, segment_id: str, code: str, *, ik: str | None = None, severity: str = ERROR,
                    loop_id: str | None = None, ctx: list[dict] | None = None) -> Finding:
    extra: dict = {}
    if ik:
        extra["ik"] = ik
    if ctx:
        extra["ctx"] = ctx
    return Finding(
        code="TEST_SEGMENT",
        severity=severity,
        layer=SCHEMA,
        message=f"hand-made segment finding {code}",
        segment=position,
        segment_id=segment_id,
        loop_id=loop_id,
        ack_level="segment",
        ack_code=code,
        extra=extra,
    )


def element_finding(position: int, segment_id: str, element: int, code: str, *, component: int | None = None,
                    repetition: int | None = None, ref: str | None = None, bad: str | None = None,
                    ik: str | None = None, severity: str = ERROR, loop_id: str | None = None,
                    ctx: list[dict] | None = None) -> Finding:
    extra: dict = {}
    if ik:
        extra["ik"] = ik
    if ctx:
        extra["ctx"] = ctx
    return Finding(
        code="TEST_ELEMENT",
        severity=severity,
        layer=SCHEMA,
        message=f"hand-made element finding {code}",
        segment=position,
        segment_id=segment_id,
        element=element,
        component=component,
        repetition=repetition,
        element_ref=ref,
        bad_value=bad,
        loop_id=loop_id,
        ack_level="element",
        ack_code=code,
        extra=extra,
    )


def transaction_finding(code: str, *, ik: str | None = None, severity: str = ERROR) -> Finding:
    return Finding(
        code="TEST_TRANSACTION",
        severity=severity,
        layer=SCHEMA,
        message=f"hand-made transaction finding {code}",
        ack_level="transaction",
        ack_code=code,
        extra={"ik": ik} if ik else {},
    )


def validator_of(by_control: dict[str, list[Finding]]):
    """A validator returning the given findings for the set with that ST02 (positions filled in)."""

    def check(tx):
        out = []
        for f in by_control.get(tx.control_number, []):
            g = Finding(**{**f.to_dict(), "extra": dict(f.extra)})
            g.interchange = tx.interchange.index
            g.group = tx.group.index if tx.group is not None else None
            g.transaction = tx.index
            out.append(g)
        return out

    return check


__all__ = ["ERROR", "WARNING"]
