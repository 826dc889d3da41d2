"""The folder ERP adapter (the default): an inbox the ERP imports from, an outbox it exports to.

Many ERPs integrate by files, and a folder needs no credentials, no server and
no client library, which is why it is the default.

**Posting** writes one file per document into ``inbox`` as canonical JSON
(default), XML or CSV (see :mod:`hub.erp.formats` for the exact renderings).
The file name is ``<document_type>_<number>_<idempotency key>.<ext>`` (unsafe
characters replaced, with a short hash of the original added when anything was
replaced or cut, so that two keys never share a name).  The bytes go to a
hidden ``.<name>.<random>.tmp`` file first, are fsynced, then hard-linked to
the final name — a link, unlike a rename, fails when the name exists, so two
workers posting the same key at once still write it once — and the directory
is fsynced.  An ERP polling the inbox therefore never sees a partial file.  A
second post with the same key finds the name taken and answers
``Delivery(duplicate=True)`` without writing.  (On filesystems without hard
links the adapter falls back to check-then-rename.)

That check only sees files still in the inbox.  When the ERP *consumes*
(moves or deletes) imported files, set ``ledger`` to a directory outside the
inbox: a marker per key is kept there, and a key with a marker is a duplicate
even after the ERP took the file.

**Reading outbound**: every ``*.json`` file directly in ``outbox`` (hidden
files, ``*.tmp``/``*.part``/``*.partial``/``*.filepart`` and sub-folders are
ignored, and so are files modified less than ``min_age`` seconds ago, as they
may still be being written).  Each file holds one canonical document.  A file
that is not valid JSON, not an object, or (with ``validate``) not a valid
canonical document is **returned as a failed item** (``error`` set) rather than
raised, so one bad file does not hold up the others; settling a failed item
moves it to ``failed_dir`` (default ``outbox/failed``) for a person to look at.

An item's id is ``<file name>:<sha256 prefix of its bytes>``: stable across
fetches, so the hub can dedupe a file re-read after a crash, yet different
when the ERP writes new content under a name it used before.

**Settling** a good item moves the file to ``sent_dir`` (default
``outbox/sent``; ``on_settle: delete`` deletes it instead).  A file already
gone was settled before (harmless), and a file whose bytes changed since the
fetch is left alone, to be fetched again as a new item.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.erp.base import Delivery, OutboundDocument, check_key, document_field, options
from hub.erp.formats import EXTENSIONS, FORMATS, render
from hub.errors import TerminalError, TransientError
from hub.fsutil import fsync_dir as _fsync_dir

PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".filepart")

DEFAULTS: dict[str, Any] = {
    "name": "folder",
    "inbox": "var/erp/inbox",
    "outbox": "var/erp/outbox",
    "format": "json",
    "ledger": None,
    "on_settle": "move",
    "sent_dir": None,
    "failed_dir": None,
    "min_age": 1.0,
    "validate": True,
    "fsync": True,
}
"""Every option of the folder adapter and its default (``sent_dir``/``failed_dir`` None: ``outbox/sent|failed``)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def safe_part(text: str, limit: int = 80) -> str:
    """``text`` usable in a file name on any OS; a hash of the original is added when it had to change."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or "x"
    if cleaned == text and len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return f"{cleaned[:limit]}-{digest}"




class FolderAdapter:
    """Posts documents as files into ``inbox``; reads canonical JSON files from ``outbox``."""

    def __init__(
        self,
        inbox: str | os.PathLike[str],
        outbox: str | os.PathLike[str] | None = None,
        *,
        name: str = "folder",
        format: str = "json",
        ledger: str | os.PathLike[str] | None = None,
        on_settle: str = "move",
        sent_dir: str | os.PathLike[str] | None = None,
        failed_dir: str | os.PathLike[str] | None = None,
        min_age: float = 1.0,
        validate: bool = True,
        fsync: bool = True,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"erp (folder): format must be one of {', '.join(FORMATS)}, not {format!r}")
        if on_settle not in ("move", "delete"):
            raise ValueError(f"erp (folder): on_settle must be 'move' or 'delete', not {on_settle!r}")
        self.name = name
        self.inbox = Path(inbox)
        self.outbox = Path(outbox) if outbox is not None else None
        self.format = format
        self.ledger = Path(ledger) if ledger is not None else None
        self.on_settle = on_settle
        base = self.outbox or Path(".")
        self.sent_dir = Path(sent_dir) if sent_dir is not None else base / "sent"
        self.failed_dir = Path(failed_dir) if failed_dir is not None else base / "failed"
        self.min_age = float(min_age)
        self.validate = bool(validate)
        self.fsync = bool(fsync)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FolderAdapter:
        """Built from the ``erp`` options (see :data:`DEFAULTS`)."""
        opts = options(DEFAULTS, config, "folder")
        inbox = opts.pop("inbox")
        outbox = opts.pop("outbox")
        if not inbox:
            raise ValueError("erp (folder): 'inbox' is required")
        return cls(inbox, outbox, **opts)

    # ---------------------------------------------------------------- post

    def file_name(self, document: dict[str, Any], idempotency_key: str) -> str:
        """The inbox file name for ``document`` posted with ``idempotency_key``."""
        kind = safe_part(document_field(document, "document_type"), 40)
        number = safe_part(document_field(document, "number"))
        return f"{kind}_{number}_{safe_part(idempotency_key)}{EXTENSIONS[self.format]}"

    def _marker(self, idempotency_key: str) -> Path | None:
        return None if self.ledger is None else self.ledger / f"{safe_part(idempotency_key)}.posted"

    def post(self, document: dict[str, Any], idempotency_key: str) -> Delivery:
        check_key(idempotency_key)
        name = self.file_name(document, idempotency_key)
        data = render(document, self.format)
        marker = self._marker(idempotency_key)
        try:
            if marker is not None and marker.exists():
                return Delivery(reference=marker.read_text(encoding="utf-8").strip() or name, duplicate=True)
            self.inbox.mkdir(parents=True, exist_ok=True)
            written = self._write_once(self.inbox, name, data)
            if marker is not None:
                marker.parent.mkdir(parents=True, exist_ok=True)
                self._write_once(marker.parent, marker.name, name.encode("utf-8") + b"\n")
        except OSError as exc:
            raise TransientError(f"cannot write {name} into the ERP inbox {self.inbox}: {exc}") from exc
        path = str(self.inbox / name)
        if not written:
            return Delivery(reference=name, response={"path": path, "status": "duplicate"}, duplicate=True)
        return Delivery(reference=name, response={"path": path, "bytes": len(data)})

    def _write_once(self, directory: Path, name: str, data: bytes) -> bool:
        """Writes ``directory/name`` atomically unless it exists; True when this call wrote it."""
        final = directory / name
        tmp = directory / f".{name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                if final.exists():
                    return False
                os.replace(tmp, final)
            if self.fsync:
                _fsync_dir(directory)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    # ------------------------------------------------------------ outbound

    def _waiting(self) -> list[Path]:
        if self.outbox is None or not self.outbox.is_dir():
            return []
        now = time.time()
        found = []
        for path in self.outbox.iterdir():
            name = path.name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES) or not name.endswith(".json"):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file() or now - stat.st_mtime < self.min_age:
                continue
            found.append(path)
        return sorted(found)

    def fetch_outbound(self) -> list[OutboundDocument]:
        try:
            paths = self._waiting()
        except OSError as exc:
            raise TransientError(f"cannot list the ERP outbox {self.outbox}: {exc}") from exc
        items = []
        for path in paths:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # taken away between listing and reading
            except OSError as exc:
                raise TransientError(f"cannot read {path}: {exc}") from exc
            items.append(self._item(path, data))
        return items

    def _item(self, path: Path, data: bytes) -> OutboundDocument:
        digest = hashlib.sha256(data).hexdigest()
        item_id = f"{path.name}:{digest[:16]}"
        token = (str(path), digest)
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            error = TerminalError(f"{path}: not valid UTF-8 JSON: {exc}")
            return OutboundDocument(item_id, None, str(path), error=error, token=token)
        if not isinstance(document, dict):
            error = TerminalError(f"{path}: expected one canonical document (a JSON object)")
            return OutboundDocument(item_id, None, str(path), error=error, token=token)
        if self.validate:
            from hub.canonical import validate_document

            problems = validate_document(document)
            if problems:
                shown = "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
                error = TerminalError(f"{path}: not a valid canonical document: {shown}")
                return OutboundDocument(item_id, None, str(path), error=error, token=token)
        return OutboundDocument(item_id, document, str(path), token=token)

    def settle(self, item: OutboundDocument) -> None:
        if not item.token:
            raise TerminalError(f"{item.id}: not an item fetched by the folder adapter {self.name!r}")
        path, digest = Path(item.token[0]), item.token[1]
        try:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return  # settled before (a crash after the move, or a second settle)
            if hashlib.sha256(data).hexdigest() != digest:
                return  # replaced since the fetch: the new bytes are a new item
            if item.ok and self.on_settle == "delete":
                path.unlink(missing_ok=True)
                if self.fsync:
                    _fsync_dir(path.parent)
                return
            target_dir = self.sent_dir if item.ok else self.failed_dir
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / path.name
            if target.exists():
                target = target_dir / f"{path.stem}.{digest[:12]}{path.suffix}"
            os.replace(path, target)
            if self.fsync:
                _fsync_dir(target_dir)
                _fsync_dir(path.parent)
        except OSError as exc:
            raise TransientError(f"cannot settle {path}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: files are opened and closed per call."""
