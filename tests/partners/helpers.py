"""Small profile fixtures whose line numbers the tests assert."""

from __future__ import annotations

from pathlib import Path

# Line numbers matter: tests assert them.
ACME = """\
id: acme
name: ACME Corp
identities:
  x12:
    sender: {qualifier: ZZ, id: ACMEBUYER}
    receiver: {qualifier: ZZ, id: EDIHUBSUPPLY}
documents:
  - type: 850
    direction: inbound
    version: 004010
    mapping: common/850.004010
channels:
  inbound: {type: folder, path: inbound/acme/}
  outbound: {type: folder, path: outbound/acme/}
"""

GLOBEX = """\
id: globex
name: Globex GmbH
identities:
  edifact:
    sender: {id: "5412345000013", qualifier: "14"}
    receiver: {id: "8712345000014", qualifier: "14"}
documents:
  - {type: ORDERS, direction: inbound, version: D96A, mapping: common/ORDERS.D96A}
  - {type: INVOIC, direction: outbound, version: D96A, mapping: common/INVOIC.D96A}
  - {type: CONTRL, direction: outbound, version: "4.1"}
channels:
  inbound: {type: folder, path: inbound/globex/}
  outbound: {type: folder, path: outbound/globex/}
acknowledgments:
  edifact: {contrl: errors_only}
  expected_within_minutes: null
syntax:
  edifact: {una: ":+,? '", send_una: false, line_ending: crlf}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
