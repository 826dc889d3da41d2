"""A real Tryton server for the adapter tests, started from the template that ``.ci/tryton_setup.sh`` builds.

>>> server = start_server(tmp_path)        # copies the template database, starts trytond on a free port
>>> server.url, server.database, server.password_reference
>>> server.stop()

Without the template (``.ci/tryton_setup.sh`` not run) the tests skip, or fail
when ``EDIHUB_REQUIRE_CORPUS=1`` (CI).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, REQUIRE_CORPUS

_home = Path(os.environ.get("EDIHUB_TRYTON_HOME", "var/tryton"))
TRYTON_HOME = _home if _home.is_absolute() else REPO / _home
TEMPLATE = TRYTON_HOME / "template"
START_TIMEOUT = 90.0


def template() -> dict[str, Any]:
    """The template's description (template.json); skips the test when it is missing (fails under CI)."""
    meta_file = TEMPLATE / "template.json"
    problem = None
    if not meta_file.is_file():
        problem = f"no Tryton template at {TEMPLATE} (run .ci/tryton_setup.sh)"
    else:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        for need in (Path(meta["trytond"]), TEMPLATE / meta["file"], Path(meta["password_file"])):
            if not need.exists():
                problem = f"the Tryton template is incomplete: {need} is missing (run .ci/tryton_setup.sh)"
        if problem is None:
            return meta
    if REQUIRE_CORPUS:
        pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but {problem}")
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TrytonServer:
    """One trytond process serving a private copy of the template database."""

    url: str
    database: str
    user: str
    password_file: Path
    workdir: Path
    process: subprocess.Popen[bytes]
    meta: dict[str, Any]
    started_in: float = 0.0
    _log: Any = field(default=None, repr=False)

    @property
    def password_reference(self) -> str:
        """The admin password as the adapter's config names it."""
        return f"file:{self.password_file}"

    @property
    def log(self) -> str:
        path = self.workdir / "trytond.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


def start_server(workdir: Path) -> TrytonServer:
    """Copies the template database into ``workdir`` and starts trytond on 127.0.0.1; waits until it answers."""
    meta = template()
    workdir.mkdir(parents=True, exist_ok=True)
    database = meta["database"]
    shutil.copyfile(TEMPLATE / meta["file"], workdir / f"{database}.sqlite")
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        config = workdir / "trytond.conf"
        config.write_text(
            f"[database]\nuri = sqlite://\npath = {workdir}\n[web]\nlisten = 127.0.0.1:{port}\n",
            encoding="utf-8",
        )
        log = (workdir / "trytond.log").open("ab")
        started = time.monotonic()
        # -d loads the database's modules before the first request (trytond 8.2 does not load them on login).
        process = subprocess.Popen(
            [meta["trytond"], "-c", str(config), "-d", database],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        server = TrytonServer(
            url=f"http://127.0.0.1:{port}",
            database=database,
            user=meta["user"],
            password_file=Path(meta["password_file"]),
            workdir=workdir,
            process=process,
            meta=meta,
            _log=log,
        )
        if _wait(server):
            server.started_in = time.monotonic() - started
            return server
        server.stop()
        last_error = server.log[-3000:]
        if "Address already in use" not in last_error:
            break
    raise RuntimeError(f"trytond did not start:\n{last_error}")


def _die_with_parent() -> None:
    """In the child: ask Linux to stop trytond when the test process dies without its teardown (a killed run)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait(server: TrytonServer) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    body = {"id": 0, "method": "common.server.version", "params": []}
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not server.running():
                return False
            try:
                if client.post(f"{server.url}/rpc/", json=body).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False
