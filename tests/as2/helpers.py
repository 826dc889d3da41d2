"""Small helpers shared by the AS2 tests: free ports, waiting, and minimal partner profiles."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A port nobody listens on (once the probing socket is closed): for a server to come, or a refused connection."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def profile_yaml(partner_id: str, sender_id: str, channels: str) -> str:
    """A minimal X12 profile that sends 997s; ``channels`` is its ``channels:`` block (YAML)."""
    return f"""\
id: {partner_id}
name: {partner_id} (AS2 test partner)
identities:
  x12:
    sender: {{qualifier: ZZ, id: {sender_id}}}
    receiver: {{qualifier: ZZ, id: EDIHUB}}
documents:
  - {{type: "997", direction: outbound, version: "004010"}}
{channels}"""
