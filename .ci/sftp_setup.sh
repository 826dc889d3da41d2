#!/usr/bin/env bash
# Installs what the SFTP tests need from Debian: OpenSSH's sshd (the partner server the client channel is tested
# against, started by tests/transports/sshd.py on a free 127.0.0.1 port with its own configuration) and the
# OpenSSH client programs (`sftp` in batch mode and `ssh`, as clients of the hub's hosted drop zone).
#
#   .ci/sftp_setup.sh        # idempotent: nothing to do (and no apt) when the programs are there
#
# The packages start no system sshd on Debian container images (/usr/sbin/policy-rc.d exits 101); the tests never
# use port 22 or /etc/ssh either way.  Needs root, or password-less sudo.
set -euo pipefail

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
if ! command -v sftp >/dev/null 2>&1 || ! command -v ssh >/dev/null 2>&1; then
    need+=(openssh-client)
fi
if [ ${#need[@]} -eq 0 ]; then
    echo "sftp: $(ssh -V 2>&1) already installed"
    exit 0
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "sftp: ${need[*]} missing and not root: apt-get install -y --no-install-recommends ${need[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "sftp: installing ${need[*]}"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "sftp: $(ssh -V 2>&1) installed"
