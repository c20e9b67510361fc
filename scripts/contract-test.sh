#!/usr/bin/env bash
# The API contract against the running server: openapi.yaml must be a valid OpenAPI 3.1
# document, and schemathesis (every check on, schemathesis.toml) must find no response that
# breaks it. The server runs on the embedded defaults (SQLite in a temporary folder, the mock
# model) with an admin account, whose token every request carries (admins have no message
# limits; the per-address sign-in limit and daily guest cap, the per-account failure limit and the caps on what an
# account keeps are off or out of reach here: the limits have tests of their own).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.build/contract-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi
"$venv/bin/openapi-spec-validator" openapi.yaml

bin="${PARLEY_BIN:-$(swift build --show-bin-path)/parley}"
work=$(mktemp -d /tmp/parley-contract.XXXXXX)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/parley.db" LOG_LEVEL=info GUEST_DAILY_PER_CLIENT=0 \
       MOCK_TOKEN_DELAY_SECONDS=0 AUTH_RATE_LIMIT_PER_MINUTE=0 LOGIN_MAX_FAILURES=0 USER_MAX_API_KEYS=10000 JWT_SECRET="contract-test-secret-$(date +%s%N)-0123456789"
printf 'contract password\n' | "$bin" user create --email admin@contract.test --admin >/dev/null
PORT=0 "$bin" serve > "$work/log" 2>&1 &
server=$!
port=""
for _ in $(seq 1 100); do
    port=$(grep -o '"parley.port":"[0-9]*"' "$work/log" | grep -o '[0-9][0-9]*' || true)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "parley did not start:"; cat "$work/log"; exit 1; }
token=$(curl -fsS -H 'Content-Type: application/json' -d '{"email":"admin@contract.test","password":"contract password"}' \
    "http://127.0.0.1:$port/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

"$venv/bin/schemathesis" run openapi.yaml --url "http://127.0.0.1:$port" -H "Authorization: Bearer $token" \
    --checks all --exclude-checks ensure_resource_availability --request-timeout 10 --seed "${SCHEMATHESIS_SEED:-1}" --no-color
