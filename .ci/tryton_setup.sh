#!/usr/bin/env bash
# Installs a real Tryton server for the Tryton ERP adapter tests, and builds the template database they copy.
#
#   .ci/tryton_setup.sh            # idempotent: about a second when nothing changed
#   .ci/tryton_setup.sh --force    # rebuild the template database (the venv is kept)
#
# What it makes, under $EDIHUB_TRYTON_HOME (default var/tryton, which .gitignore covers):
#   venv/                     trytond 8.2 + party, product, company, currency, account, stock, sale (+ their
#                             dependencies) and proteus, in a venv of their own so that Tryton's pins never
#                             touch the hub's venv; the hub talks to it over JSON-RPC on 127.0.0.1 only.
#   admin.pass                the admin password, generated once (unless TRYTONPASSFILE names another file).
#   template/template.json    what the tests need: database name, file, login, password file, trytond path, ids.
#   template/edihub_template.sqlite
#                             a SQLite database with the modules activated, a company (EDIHUB SELLER, USD),
#                             a minimal chart of accounts, fiscal years for this year and the next with invoice
#                             sequences, a product category with accounts, a "Direct" payment term (the default
#                             customer payment term).
# The template is rebuilt when the installed Tryton packages, this script, the password or the year change.
# Tests copy the .sqlite file to a temporary folder and start `trytond` on a free 127.0.0.1 port
# (tests/erp/tryton_server.py).
#
# Environment: PYTHON (interpreter for the venv, default python3), EDIHUB_TRYTON_HOME, TRYTONPASSFILE.
set -euo pipefail
SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
if [ -n "${TRYTONPASSFILE:-}" ]; then
    TRYTONPASSFILE=$(cd "$(dirname "$TRYTONPASSFILE")" && pwd)/$(basename "$TRYTONPASSFILE")
fi
cd "$(dirname "$SCRIPT")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

force=0
if [ "${1:-}" = "--force" ]; then
    force=1
fi

started=$SECONDS
TRYTON_HOME=${EDIHUB_TRYTON_HOME:-var/tryton}
mkdir -p "$TRYTON_HOME"
TRYTON_HOME=$(cd "$TRYTON_HOME" && pwd)
PY=${PYTHON:-python3}
VENV=$TRYTON_HOME/venv
DB=edihub_template

# One Tryton series for the server and every module (a module must match the server's series).
REQUIREMENTS="trytond>=8.2,<8.3 trytond-party>=8.2,<8.3 trytond-product>=8.2,<8.3 trytond-company>=8.2,<8.3
trytond-currency>=8.2,<8.3 trytond-account>=8.2,<8.3 trytond-account-invoice>=8.2,<8.3 trytond-stock>=8.2,<8.3
trytond-sale>=8.2,<8.3 proteus>=8.2,<8.3"

# ----------------------------------------------------------------------------- venv
if [ ! -x "$VENV/bin/trytond" ] || [ "$(cat "$TRYTON_HOME/venv.stamp" 2>/dev/null)" != "$REQUIREMENTS" ]; then
    echo "tryton: installing the server into $VENV"
    rm -rf "$VENV" "$TRYTON_HOME/venv.stamp"
    "$PY" -m venv "$VENV"
    # shellcheck disable=SC2086  # one requirement per word
    "$VENV/bin/pip" install -q $REQUIREMENTS
    printf '%s' "$REQUIREMENTS" > "$TRYTON_HOME/venv.stamp"
    echo "tryton: venv ready after $((SECONDS - started)) s"
fi

# ------------------------------------------------------------------------- password
if [ -n "${TRYTONPASSFILE:-}" ]; then
    PASSFILE=$TRYTONPASSFILE
else
    PASSFILE=$TRYTON_HOME/admin.pass
    if [ ! -s "$PASSFILE" ]; then
        (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(18))' > "$PASSFILE")
    fi
fi

# ------------------------------------------------------------------------- template
stamp=$(
    {
        "$VENV/bin/pip" freeze 2>/dev/null | grep -i -E '^(trytond|proteus)' || true
        cat "$SCRIPT"
        cat "$PASSFILE"
        date +%Y
    } | sha256sum | cut -c1-16
)
TEMPLATE=$TRYTON_HOME/template
if [ "$force" = 0 ] && [ -f "$TEMPLATE/template.json" ] && grep -q "\"stamp\": \"$stamp\"" "$TEMPLATE/template.json"; then
    echo "tryton: template $TEMPLATE is up to date ($((SECONDS - started)) s)"
    exit 0
fi

echo "tryton: building the template database (takes about a minute)"
build=$(mktemp -d "$TRYTON_HOME/build.XXXXXX")
trap 'rm -rf "$build"' EXIT
cat > "$build/trytond.conf" <<EOF
[database]
uri = sqlite://
path = $build
EOF
: > "$build/$DB.sqlite"
TRYTONPASSFILE=$PASSFILE "$VENV/bin/trytond-admin" -c "$build/trytond.conf" -d "$DB" \
    -u sale --activate-dependencies --email admin@example.com < /dev/null
echo "tryton: modules activated after $((SECONDS - started)) s"

cat > "$build/configure.py" <<'EOF'
"""Company, accounts, fiscal years, a product category and a payment term, with proteus (trytond as a library)."""
import datetime
import json
import sys

from proteus import Model
from proteus import config as proteus_config

conf, database, out = sys.argv[1:4]
proteus_config.set_trytond(database=database, config_file=conf)

from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, get_accounts  # noqa: E402
from trytond.modules.account_invoice.tests.tools import (  # noqa: E402
    create_payment_term,
    set_fiscalyear_invoice_sequences,
)
from trytond.modules.company.tests.tools import create_company, get_company  # noqa: E402

Party = Model.get("party.party")
seller = Party(name="EDIHUB SELLER")
seller.save()
create_company(party=seller, currency="USD")
company = get_company()
create_chart(company)

year = datetime.date.today().year
for y in (year, year + 1):
    fiscalyear = create_fiscalyear(company, (datetime.date(y, 1, 1), datetime.date(y, 12, 31)))
    fiscalyear = set_fiscalyear_invoice_sequences(fiscalyear)
    fiscalyear.save()
    fiscalyear.click("create_period")

accounts = get_accounts(company)
Category = Model.get("product.category")
category = Category(name="EDI goods", accounting=True)
category.account_expense = accounts["expense"]
category.account_revenue = accounts["revenue"]
category.save()

payment_term = create_payment_term()
payment_term.save()
Configuration = Model.get("account.configuration")
configuration = Configuration(1)
configuration.default_customer_payment_term = payment_term
configuration.save()

with open(out, "w", encoding="utf-8") as fh:
    json.dump({"company": company.id, "product_category": category.id, "payment_term": payment_term.id}, fh)
EOF
"$VENV/bin/python" "$build/configure.py" "$build/trytond.conf" "$DB" "$build/ids.json"

"$VENV/bin/python" - "$build" "$stamp" "$PASSFILE" "$VENV" "$DB" <<'EOF'
import json
import sys

import trytond

build, stamp, passfile, venv, database = sys.argv[1:6]
meta = {
    "stamp": stamp,
    "trytond_version": trytond.__version__,
    "database": database,
    "file": f"{database}.sqlite",
    "user": "admin",
    "password_file": passfile,
    "trytond": f"{venv}/bin/trytond",
    **json.load(open(f"{build}/ids.json", encoding="utf-8")),
}
with open(f"{build}/template.json", "w", encoding="utf-8") as fh:
    json.dump(meta, fh, indent=2)
    fh.write("\n")
EOF
rm -f "$build/configure.py" "$build/ids.json" "$build/trytond.conf"
rm -rf "$TEMPLATE"
mv "$build" "$TEMPLATE"
trap - EXIT
echo "tryton: template ready in $TEMPLATE after $((SECONDS - started)) s"
