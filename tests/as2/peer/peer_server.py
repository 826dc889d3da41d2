"""django-pyas2 1.2.3 as a live AS2 peer for tests/as2, driven over stdin/stdout with JSON lines.

Runs with the *peer venv's* python (var/as2-peer/venv/bin/python, made by .ci/as2_setup.sh), never with the
hub's: django-pyas2 needs pyas2lib and a patched oscrypto that the hub must not depend on.

One process does two things, so that Django starts once per test session:

* serves django-pyas2's receive view (``/pyas2/as2receive``) with Django's threaded WSGI server on a free
  127.0.0.1 port -- the same server ``manage.py runserver`` uses;
* reads commands on stdin and answers each with one JSON line on stdout (logs go to stderr).

Commands (``{"cmd": NAME, ...}``):

``configure``   organisation (``org``, ``key``/``key_pass``: its PKCS#12, ``sign_key`` for a different signing
                key) and partner (``partner``, ``url``, ``cert``, ``encryption``, ``signature``, ``compress``,
                ``mdn_mode`` SYNC/ASYNC/null, ``mdn_sign``, ``content_type``) -- the django-pyas2 models
``send``        ``manage.py sendas2message ORG PARTNER FILE`` (the file is copied under MEDIA_ROOT first);
                answers the outbound message's record
``send_raw``    a message built by pyas2lib for ``org``/``partner`` with overrides, optionally tampered
                with after signing, POSTed by requests (optionally chunked); answers the HTTP reply and
                pyas2lib's reading of the MDN -- for what django-pyas2 cannot be told to do
``async_mdns``  ``manage.py manageas2server --async-mdns`` (sends the pending async MDNs)
``message``     the record of a message by Message-ID (``direction`` IN/OUT)
``messages``    every message record
``quit``
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import sys
import threading
import traceback
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "as2peer_settings")

import django  # noqa: E402

django.setup()

import pyas2.settings as pyas2_settings  # noqa: E402
import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from pyas2.models import Mdn, Message, Organization, Partner, PrivateKey, PublicCertificate  # noqa: E402
from pyas2lib import Mdn as As2Mdn  # noqa: E402
from pyas2lib import Message as As2Message  # noqa: E402
from pyas2lib import Organization as As2Organization  # noqa: E402
from pyas2lib import Partner as As2Partner  # noqa: E402

log = logging.getLogger("as2peer")


def rb(path: str) -> bytes:
    return Path(path).read_bytes()


def message_info(m: Message) -> dict:
    mdn = Mdn.objects.filter(message=m).first()
    payload_path = None
    if m.payload:
        try:
            payload_path = m.payload.path
        except (ValueError, NotImplementedError):
            payload_path = None
    return {
        "message_id": m.message_id, "direction": m.direction, "status": m.status,
        "detailed_status": m.detailed_status, "signed": m.signed, "encrypted": m.encrypted,
        "compressed": m.compressed, "payload_path": payload_path,
        "headers": m.headers.read().decode("utf-8", "replace") if m.headers else None,
        "mdn": None if mdn is None else {"mdn_id": mdn.mdn_id, "status": mdn.status, "signed": mdn.signed,
                                         "return_url": mdn.return_url},
    }


def cmd_configure(a: dict) -> dict:
    pk = PrivateKey.objects.create(name=f"{a['org']}-key", key=rb(a["key"]), key_pass=a["key_pass"])
    sign_pk = pk
    if a.get("sign_key"):
        sign_pk = PrivateKey.objects.create(name=f"{a['org']}-sign", key=rb(a["sign_key"]), key_pass=a["key_pass"])
    cert = PublicCertificate.objects.create(name=f"{a['partner']}-cert", certificate=rb(a["cert"]))
    Organization.objects.update_or_create(as2_name=a["org"], defaults=dict(
        name=a["org"], email_address="as2@peer.example", encryption_key=pk, signature_key=sign_pk))
    Partner.objects.update_or_create(as2_name=a["partner"], defaults=dict(
        name=a["partner"], target_url=a["url"], content_type=a.get("content_type", "application/EDI-X12"),
        compress=bool(a.get("compress")), encryption=a.get("encryption"), encryption_cert=cert,
        signature=a.get("signature"), signature_cert=cert, mdn=a.get("mdn_mode") is not None,
        mdn_mode=a.get("mdn_mode"), mdn_sign=a.get("mdn_sign"), keep_filename=True))
    return {"configured": True}


def cmd_send(a: dict) -> dict:
    rel = Path("outbox") / a["partner"] / a["filename"]
    target = Path(settings.MEDIA_ROOT) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(a["path"], target)
    before = set(Message.objects.filter(direction="OUT").values_list("id", flat=True))
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("sendas2message", a["org"], a["partner"], str(rel))
    new = Message.objects.filter(direction="OUT").exclude(id__in=before).order_by("-id").first()
    return message_info(new) if new else {"error": "no message recorded", "output": out.getvalue()}


def cmd_send_raw(a: dict) -> dict:
    org = Organization.objects.get(as2_name=a["org"])
    partner = Partner.objects.get(as2_name=a["partner"])
    sign_key = rb(a["sign_key"]) if a.get("sign_key") else bytes(org.signature_key.key)
    as2org = As2Organization(as2_name=org.as2_name, sign_key=sign_key, sign_key_pass=org.signature_key.key_pass,
                             decrypt_key=bytes(org.encryption_key.key), decrypt_key_pass=org.encryption_key.key_pass,
                             mdn_url=pyas2_settings.MDN_URL)
    base = partner.as2partner
    params = {k: getattr(base, k) for k in ("as2_name", "verify_cert", "encrypt_cert", "compress", "sign",
                                             "digest_alg", "encrypt", "enc_alg", "mdn_mode", "mdn_digest_alg")}
    params.update(a.get("overrides") or {})
    as2partner = As2Partner(**params)
    msg = As2Message(sender=as2org, receiver=as2partner)
    msg.build(rb(a["path"]), filename=a["filename"], content_type=a.get("content_type", "application/EDI-X12"))
    if a.get("message_id"):
        mid = a["message_id"].strip("<>")
        msg.message_id = mid
        msg.payload.replace_header("Message-ID", f"<{mid}>")
    body = msg.content
    if a.get("tamper"):
        old, new = a["tamper"][0].encode(), a["tamper"][1].encode()
        if old not in body:
            raise ValueError("tamper target not found in the message body")
        body = body.replace(old, new, 1)
    headers = {k: v for k, v in msg.headers.items()}
    data = body
    if a.get("chunked"):
        def chunks():
            for i in range(0, len(body), 7001):
                yield body[i: i + 7001]
        data = chunks()
    resp = requests.post(a["url"], data=data, headers=headers, timeout=300)
    result = {"http": resp.status_code, "message_id": msg.message_id,
              "mic": msg.mic.decode() if msg.mic else None,
              "headers": dict(resp.headers), "body_b64": base64.b64encode(resp.content).decode()}
    if as2partner.mdn_mode == "SYNC":
        raw = "".join(f"{k}: {v}\n" for k, v in resp.headers.items()).encode() + b"\n" + resp.content
        mdn = As2Mdn()
        status, detail = mdn.parse(raw, lambda mid, rcpt: msg)
        result.update(mdn_status=status, mdn_detail=detail, mdn_signed=bool(mdn.digest_alg))
    return result


def cmd_async_mdns(a: dict) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("manageas2server", async_mdns=True)
    return {"output": out.getvalue()}


def cmd_message(a: dict) -> dict | None:
    mid = a["message_id"].strip().strip("<>")
    qs = Message.objects.filter(message_id__in=[mid, mid + "_duplicate"])
    if a.get("direction"):
        qs = qs.filter(direction=a["direction"])
    return [message_info(m) for m in qs.order_by("id")]  # type: ignore[return-value]


def cmd_messages(a: dict) -> list:
    return [message_info(m) for m in Message.objects.order_by("id")]


COMMANDS = {"configure": cmd_configure, "send": cmd_send, "send_raw": cmd_send_raw, "async_mdns": cmd_async_mdns,
            "message": cmd_message, "messages": cmd_messages}


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        sys.stderr.write("peer http: " + (format % args) + "\n")


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("migrate", verbosity=0)
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
    server.set_app(get_wsgi_application())
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/pyas2/as2receive"
    pyas2_settings.MDN_URL = url  # where partners post async MDNs for what this peer sends
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"ready": True, "url": url, "port": port}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("cmd") == "quit":
            break
        try:
            with redirect_stdout(sys.stderr):
                result = COMMANDS[request["cmd"]](request)
            reply = {"ok": True, "result": result}
        except Exception as exc:  # reported to the test, which fails with the traceback
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print(json.dumps(reply), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
