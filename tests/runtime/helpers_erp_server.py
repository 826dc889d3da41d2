"""Shared pieces of the runtime's fault tests: an idempotent ERP over real HTTP, X12 850s, a hub folder, PostgreSQL.

:class:`IdempotentErp` is a ``ThreadingHTTPServer`` on 127.0.0.1 that behaves like
an ERP honouring ``Idempotency-Key``: the first POST of a key is accepted (201,
the document is kept), a POST of a key it already holds answers 200 with
``Idempotent-Replayed: true`` (or 409) and keeps nothing new.  Every request is
recorded with its key, body and the status answered.  ``fault`` (a callable of
the request) can answer something else first: 503 while the ERP is "down", 400
for a document it refuses.

:func:`hub_dir` lays out a working directory the way ``edihub run`` expects it
(profiles, mappings, config.yaml with the paths relative to it), and
:func:`x12_850` builds distinct, valid X12 850 interchanges from acme's sample.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS_PATH = "/erp/documents"

# acme's sample 850 (inbound/acme/acme_850_4010.x12) with its control numbers and PO number as fields; the SE
# segment count (14) does not change.
_X12_850 = (
    "ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIHUBSUPPLY   *261126*0930*U*00401*{isa13}*1*T*>~\n"
    "GS*PO*ACMEBUYER*EDIHUBSUPPLY*20261126*0930*{gs06}*X*004010~\n"
    "ST*850*{st02}~\n"
    "BEG*00*SA*{po}**20261126~\n"
    "CUR*BY*USD~\n"
    "REF*DP*042~\n"
    "DTM*002*20261210~\n"
    "N1*ST*ACME DISTRIBUTION CENTER*92*DC01~\n"
    "N3*100 WAREHOUSE ROAD~\n"
    "N4*SPRINGFIELD*IL*62701*US~\n"
    "PO1*1*24*EA*4.25**BP*WIDGET-100*VP*W100~\n"
    "PID*F****STEEL WIDGET 100MM~\n"
    "PO1*2*10*CA*39.90**BP*GADGET-7*VP*G7~\n"
    "PID*F****GADGET SEVEN, CASE OF 12~\n"
    "CTT*2*34~\n"
    "SE*14*{st02}~\n"
    "GE*1*{gs06}~\n"
    "IEA*1*{isa13}~\n"
)


@dataclass(frozen=True)
class Order:
    """One generated 850: its file name, control numbers and PO number."""

    name: str
    isa13: str
    gs06: str
    st02: str
    po: str


def x12_850(i: int, *, prefix: str = "PO-T") -> tuple[Order, bytes]:
    """The ``i``-th distinct 850 (ISA13, GS06, ST02 and BEG03 all derived from ``i``)."""
    order = Order(name=f"acme_850_{i:04d}.x12", isa13=f"{700_000_000 + i:09d}", gs06=str(5000 + i),
                  st02=f"{(i % 9999) + 1:04d}", po=f"{prefix}-{i:04d}")
    text = _X12_850.format(isa13=order.isa13, gs06=order.gs06, st02=order.st02, po=order.po)
    return order, text.encode("ascii")


def drop_orders(folder: Path, orders: list[tuple[Order, bytes]]) -> None:
    """Write each file under a temporary name, then rename it into place (as a careful partner would)."""
    folder.mkdir(parents=True, exist_ok=True)
    for order, data in orders:
        tmp = folder / f".{order.name}.part"
        tmp.write_bytes(data)
        os.replace(tmp, folder / order.name)


def hub_dir(root: Path, db_url: str, erp: dict[str, Any], runtime: dict[str, Any] | None = None) -> Path:
    """A working directory for ``edihub run``: acme's and nordbuy's profiles, the mappings and config.yaml."""
    shutil.copytree(REPO / "partner_profiles", root / "partner_profiles")
    shutil.copytree(REPO / "mappings", root / "mappings")
    for partner in ("acme", "nordbuy"):
        (root / "inbound" / partner).mkdir(parents=True, exist_ok=True)
        (root / "outbound" / partner).mkdir(parents=True, exist_ok=True)
    config = {
        "database": {"url": db_url},
        "folders": {"settle_seconds": 0},
        "runtime": runtime or {},
        "erp": erp,
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return root / "config.yaml"


def edit_profile(root: Path, partner: str, **sections: Any) -> None:
    """Replace top-level sections of a partner's profile in the working directory (``retry={...}``...)."""
    path = root / "partner_profiles" / f"{partner}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(sections)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def read_997s(folder: Path) -> dict[str, list[str]]:
    """Every 997 file in ``folder`` (hidden temporaries left aside) -> the group numbers its AK1 segments name."""
    out: dict[str, list[str]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        text = path.read_text(encoding="latin-1")
        segments = [s.strip().split("*") for s in text.split("~") if s.strip()]
        if not any(s[0] == "ST" and s[1] == "997" for s in segments):
            continue
        out[path.name] = [s[2] for s in segments if s[0] == "AK1"]
    return out


# --------------------------------------------------------------------------- the ERP


@dataclass
class Request:
    key: str | None
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def number(self) -> str | None:
        try:
            return self.json().get("number")
        except ValueError:
            return None


class IdempotentErp:
    """An ERP on 127.0.0.1 that keeps one document per Idempotency-Key (see the module docstring)."""

    def __init__(self, *, duplicate_status: int = 200) -> None:
        self.requests: list[Request] = []
        self.documents: dict[str, Any] = {}  # idempotency key -> the document accepted under it
        self.aborted = 0  # requests whose body never arrived whole (the client was killed while sending)
        self.lock = threading.Lock()
        self.duplicate_status = duplicate_status
        self.fault: Callable[[Request], tuple[int, str] | None] | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while we answered

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer(404, "no such resource")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key")
                if len(body) < length:  # the client died while sending: no request was made
                    with owner.lock:
                        owner.aborted += 1
                    return
                with owner.lock:
                    request = Request(key, body, 0)
                    owner.requests.append(request)
                    fault = owner.fault(request) if owner.fault is not None and self.path == DOCS_PATH else None
                    if self.path != DOCS_PATH:
                        request.status, answer, headers = 404, "no such resource", {}
                    elif fault is not None:
                        request.status, answer = fault
                        headers = {}
                    elif not key:
                        request.status, answer, headers = 400, "Idempotency-Key is required", {}
                    elif key in owner.documents:
                        request.status = owner.duplicate_status
                        answer, headers = {"id": f"ERP-{key}", "replayed": True}, {"Idempotent-Replayed": "true"}
                    else:
                        try:
                            owner.documents[key] = json.loads(body)
                        except ValueError:
                            request.status, answer, headers = 400, "not JSON", {}
                        else:
                            request.status, answer, headers = 201, {"id": f"ERP-{key}"}, {}
                self._answer(request.status, answer, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{DOCS_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def seen(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.key is not None]

    def erp_config(self, **options: Any) -> dict[str, Any]:
        """The ``erp`` section of config.yaml for this server (small timeouts and backoffs for tests)."""
        http = {"url": self.url, "timeout": 5.0, "attempts": 2, "backoff_base": 0.01, "backoff_cap": 0.05,
                "jitter": False, "circuit_reset": 0.2}
        http.update(options)
        return {"type": "http", "http": http}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def erp() -> Iterator[IdempotentErp]:
    server = IdempotentErp()
    yield server
    server.stop()


# --------------------------------------------------------------------------- databases

PG_ADMIN = os.environ.get("EDIHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")  # as tests/store
REQUIRE = os.environ.get("EDIHUB_REQUIRE_CORPUS") == "1"


@pytest.fixture
def db_url(request, tmp_path) -> Iterator[str]:
    """``sqlite`` (var/edihub.db under ``tmp_path``, the hub's working directory) or a fresh PostgreSQL
    database, dropped afterwards.

    PostgreSQL unreachable: skip, or fail under ``EDIHUB_REQUIRE_CORPUS=1`` (CI must test both).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'edihub.db'}"
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import URL

    name = f"edihub_runtime_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            url = URL.create("postgresql+psycopg", username=conn.info.user, password=conn.info.password or None,
                             host=conn.info.host, port=conn.info.port, database=name)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}"
        if REQUIRE:
            pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but {message}")
        pytest.skip(message)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
