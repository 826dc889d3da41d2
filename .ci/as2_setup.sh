#!/usr/bin/env bash
# Installs django-pyas2 1.2.3, a real AS2 server, into a venv of its own for the AS2 interop tests (tests/as2/).
#
#   .ci/as2_setup.sh            # idempotent: well under a second when the venv is already right
#   .ci/as2_setup.sh --force    # rebuild the venv
#
# What it makes, under $EDIHUB_AS2_PEER_HOME (default var/as2-peer, which .gitignore covers):
#   venv/        django-pyas2 1.2.3 with the pins it is known to work with (pyas2lib 1.4.3, oscrypto 1.3.0,
#                pyOpenSSL 23.0.0, cryptography < 40, Django 4.2-5.x).  Its pins never touch the hub's venv.
#   venv.stamp   the requirements and the patch the venv was built with; a change rebuilds it.
#
# Why a patch: oscrypto 1.3.0 (the last release, pinned by pyas2lib) reads the libcrypto version with the regex
# \d\.\d\.\d, which cannot match "OpenSSL 3.0.19", so it raises LibraryNotFoundError at import on every OpenSSL
# >= 3.0.10.  The fix (\d+\.\d+\.\d+, as on oscrypto's unreleased master) is applied to THIS venv only; the hub
# itself does not use oscrypto or pyas2lib at all (hub/as2/ is built on cryptography + asn1crypto).
#
# Environment: PYTHON (interpreter for the venv, default python3), EDIHUB_AS2_PEER_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
started=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)"; }

force=0
if [ "${1:-}" = "--force" ]; then
    force=1
fi

PEER_HOME=${EDIHUB_AS2_PEER_HOME:-var/as2-peer}
mkdir -p "$PEER_HOME"
PEER_HOME=$(cd "$PEER_HOME" && pwd)
PY=${PYTHON:-python3}
VENV=$PEER_HOME/venv

REQUIREMENTS="django-pyas2==1.2.3 pyas2lib==1.4.3 oscrypto==1.3.0 pyOpenSSL==23.0.0 cryptography<40 Django>=4.2,<6"
PATCH_VERSION=1   # bump when the patch below changes
STAMP="$REQUIREMENTS patch=$PATCH_VERSION"

if [ "$force" = 0 ] && [ -x "$VENV/bin/python" ] && [ "$(cat "$PEER_HOME/venv.stamp" 2>/dev/null)" = "$STAMP" ]; then
    echo "as2 peer: venv $VENV is up to date ($(elapsed) s)"
    exit 0
fi

echo "as2 peer: installing django-pyas2 into $VENV"
rm -rf "$VENV" "$PEER_HOME/venv.stamp"
"$PY" -m venv "$VENV"
# shellcheck disable=SC2086  # one requirement per word
"$VENV/bin/pip" install -q $REQUIREMENTS
echo "as2 peer: packages installed after $(elapsed) s"

# The oscrypto version-regex fix (see the header).  Fails loudly when the files no longer look as expected.
"$VENV/bin/python" - <<'PYEOF'
import importlib.util
import pathlib

root = pathlib.Path(importlib.util.find_spec("oscrypto").origin).parent / "_openssl"
fixes = [
    (r"'\\b(\\d\\.\\d\\.\\d[a-z]*)\\b'", r"'\\b(\\d+\\.\\d+\\.\\d+[a-z]*)\\b'"),
    (r"'(?<=LibreSSL )(\\d\\.\\d(\\.\\d)?)\\b'", r"'(?<=LibreSSL )(\\d+\\.\\d+(\\.\\d+)?)\\b'"),
]
patched = 0
for name in ("_libcrypto_cffi.py", "_libcrypto_ctypes.py"):
    path = root / name
    text = path.read_text()
    new = text
    for old, fixed in fixes:
        new = new.replace(old, fixed)
    if new == text and fixes[0][1] not in text:
        raise SystemExit(f"as2 peer: oscrypto patch did not apply to {path}")
    if new != text:
        path.write_text(new)
        patched += 1
print(f"as2 peer: oscrypto patched ({patched} file(s))")
PYEOF

# Prove the stack imports (this is exactly what fails without the patch).
"$VENV/bin/python" -c "import oscrypto.asymmetric, pyas2lib, pyas2, django; \
print('as2 peer: django', django.get_version(), 'pyas2lib', pyas2lib.__version__)"
printf '%s' "$STAMP" > "$PEER_HOME/venv.stamp"
echo "as2 peer: ready after $(elapsed) s"
