#!/usr/bin/env bash
# fuzz-api.sh: property-based fuzzing of the patgate HTTP API, driven by openapi/openapi.json.
#
# Usage (from anywhere; needs a built target/debug/patgate and python3.11 with PyPI access
# for the first run):
#
#   scripts/fuzz-api.sh                 # the default run: about 1.5 minutes on 2 cores
#   FUZZ_MAX_EXAMPLES=300 scripts/fuzz-api.sh
#   FUZZ_SEED=42 scripts/fuzz-api.sh    # another seed (default: 1, reproducible)
#   scripts/fuzz-api.sh --include-path-regex 'personal-access-tokens'   # extra args go to
#                                       # `schemathesis run` (filters, --phases, ...)
#
# What it does:
#   1. Creates (or reuses) a virtualenv in target/fuzz-venv (git-ignored through /target)
#      and installs schemathesis==$SCHEMATHESIS_VERSION in it.
#   2. Starts `patgate demo` on 127.0.0.1 (port 0: the OS picks a free port) with a fresh
#      temporary data directory, reads <tmp>/demo.json, and waits until GET / answers.
#   3. Mints credentials: an app JWT for the reviewer app (`patgate app-jwt`, valid 9
#      minutes), the reviewer installation's token, and the issuer installation's token
#      (POST /app/installations/{id}/access_tokens). Each operation gets the credential
#      it needs through a generated schemathesis.toml:
#        /app/... and GET /orgs/{org}/installation     -> reviewer app JWT
#        /orgs/{org}/personal-access-token-intake/...  -> issuer installation token
#        every other /orgs/{org}/...                   -> reviewer installation token
#      The path parameter `org` is fixed to the demo organization and `installation_id`
#      to the reviewer's installation, so that generated requests reach real data.
#      Every request carries `User-Agent: patgate-fuzz`.
#   4. Runs `schemathesis run` against the live server with the checks
#      not_a_server_error, status_code_conformance, content_type_conformance,
#      response_schema_conformance and response_headers_conformance, all phases
#      (examples, coverage, fuzzing, stateful), at most $FUZZ_MAX_EXAMPLES examples per
#      operation. Set FUZZ_CHECKS=all for every check schemathesis has (noisier).
#   5. Stops the server and exits with schemathesis's exit code (non-zero on any failure).
#
# Notes:
#   - Credentials go in per-operation headers, not schemathesis's [auth.openapi.*]: the intake
#     operations declare the same `installation_token` scheme as the reviewer's but need the
#     issuer's token. Schemathesis's missing-auth cases then sometimes still carry the
#     configured Authorization header, so with FUZZ_CHECKS=all, failures that say a request
#     without Authorization was accepted (ST201 "violates required (was Authorization)")
#     are artifacts of this setup.
#   - The app JWT lives 9 minutes: a run longer than that (FUZZ_MAX_EXAMPLES of about 700
#     or more) gets 401s on /app/... (documented, so no check fails, but coverage drops).
#   - The sort and direction query parameters of the two list endpoints have unsatisfiable
#     schemas in the document (allOf string-enum and object), so positive cases never
#     carry a valid sort or direction.
#   - Reports hide credentials ([Filtered]); add `--output-sanitize false` to see them.
#
# Outputs: JUnit XML and a VCR cassette (every request and response) in
# target/fuzz-report/, and the server's log in target/fuzz-report/server.log.
#
# Environment:
#   PATGATE_BIN        server binary (default: target/debug/patgate); this script never builds
#   PYTHON             interpreter for the virtualenv (default: python3.11, else python3)
#   FUZZ_SCHEMA        the OpenAPI document (default: openapi/openapi.json)
#   FUZZ_MAX_EXAMPLES  examples per operation and phase (default: 100)
#   FUZZ_SEED          hypothesis seed (default: 1)
#   FUZZ_WORKERS       schemathesis workers (default: 1: with 2 worker threads, CPython 3.11's
#                      ast.parse, which hypothesis calls while describing strategies, fails at
#                      random with "SystemError: AST constructor recursion depth mismatch"
#                      (cpython gh-106905), reported as a schemathesis runtime error)
#   FUZZ_CHECKS        comma-separated checks (default: the five above)
#   FUZZ_KEEP_DATA=1   keep the server's temporary data directory
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PATGATE_BIN=${PATGATE_BIN:-$ROOT/target/debug/patgate}
VENV=$ROOT/target/fuzz-venv
REPORT_DIR=$ROOT/target/fuzz-report
SCHEMA=${FUZZ_SCHEMA:-$ROOT/openapi/openapi.json}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
SEED=${FUZZ_SEED:-1}
WORKERS=${FUZZ_WORKERS:-1}
CHECKS=${FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance}
UA=patgate-fuzz

log() { printf 'fuzz-api: %s\n' "$*" >&2; }

if [[ ! -x $PATGATE_BIN ]]; then
  log "no server binary at $PATGATE_BIN (build it first, e.g. cargo build)"
  exit 2
fi

# --- 1. virtualenv with a pinned schemathesis -------------------------------------------
if [[ -z ${PYTHON:-} ]]; then
  if command -v python3.11 >/dev/null; then PYTHON=python3.11; else PYTHON=python3; fi
fi
if [[ ! -x $VENV/bin/python ]]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [[ $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true) != "$SCHEMATHESIS_VERSION" ]]; then
  log "installing schemathesis==$SCHEMATHESIS_VERSION"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
ST=$VENV/bin/schemathesis

# --- 2. the server ------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/patgate-fuzz.XXXXXX")
DATA=$WORK/data
mkdir -p "$DATA" "$REPORT_DIR"
SERVER_PID=

cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ ${FUZZ_KEEP_DATA:-0} == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Port 0: the server binds a free port and writes the bound address to demo.json.
# The expiry sweep is off so that the data does not change under the fuzzer.
"$PATGATE_BIN" --data-dir "$DATA" demo --bind 127.0.0.1:0 --expiry-interval 0 \
  >"$REPORT_DIR/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 300); do
  [[ -s $DATA/demo.json ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited early; see $REPORT_DIR/server.log"; exit 2; }
  sleep 0.1
done
[[ -s $DATA/demo.json ]] || { log "no $DATA/demo.json after 30 s"; exit 2; }

demo() { "$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$DATA/demo.json" "$1"; }
BASE_URL=$(demo base_url)
ORG=$(demo org)
APP_ID=$(demo app_id)
INSTALLATION_ID=$(demo installation_id)
KEY=$(demo private_key_path)
ISSUER_APP_ID=$(demo issuer_app_id)
ISSUER_INSTALLATION_ID=$(demo issuer_installation_id)

for _ in $(seq 300); do
  curl -fsS -o /dev/null -A "$UA" "$BASE_URL/" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited early; see $REPORT_DIR/server.log"; exit 2; }
  sleep 0.1
done
curl -fsS -o /dev/null -A "$UA" "$BASE_URL/" || { log "$BASE_URL/ does not answer"; exit 2; }
log "server $BASE_URL (pid $SERVER_PID, org $ORG, app $APP_ID, installation $INSTALLATION_ID)"

# --- 3. credentials -------------------------------------------------------------------------
app_jwt() { "$PATGATE_BIN" --data-dir "$DATA" app-jwt --app-id "$1" --private-key "$KEY"; }
installation_token() { # JWT INSTALLATION_ID
  curl -fsS -X POST -A "$UA" -H "Authorization: Bearer $1" -H 'Accept: application/vnd.github+json' \
    "$BASE_URL/app/installations/$2/access_tokens" |
    "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
JWT=$(app_jwt "$APP_ID")
TOKEN=$(installation_token "$JWT" "$INSTALLATION_ID")
ISSUER_TOKEN=$(installation_token "$(app_jwt "$ISSUER_APP_ID")" "$ISSUER_INSTALLATION_ID")

# The JWT expires 9 minutes after this point: the default run is far shorter.
CONFIG=$WORK/schemathesis.toml
cat >"$CONFIG" <<EOF
# Generated by scripts/fuzz-api.sh
headers = { "User-Agent" = "$UA" }

# No state carried between runs: every run starts from a fresh server.
[cache]
enabled = false

# Values the demo data knows (docs/SEED.md), drawn instead of a generated value with the
# given probability, so that bodies and ids often pass validation and reach the stored
# requests (ids 1-50), tokens, users and repositories. The rest stays generated.
[dictionaries]
ids = { values = [1, 2, 3, 4, 5, 7, 10, 12, 20, 25, 33, 40, 49, 50, 51, 1000, 1001] }
owners = { values = ["alice", "bob", "carol", "dave", "erin", "fuzz-user"] }
repositories = { values = ["api", "web", "infra", "docs", "mobile", "billing", "search", "Hello-World"] }
permissions = { values = ["contents", "issues", "metadata", "pull_requests", "members", "organization_administration"] }
levels = { values = ["read", "write", "admin"] }
permission_filters = { values = ["issues_read", "issues_write", "contents_read", "metadata_read", "members_read"] }
selections = { values = ["none", "all", "subset"] }
token_names = { values = ["fuzz-token", "ci"] }
token_kinds = { values = ["fine_grained", "classic"] }
times = { values = ["2020-01-02T03:04:05Z", "2026-01-01T00:00:00Z", "2030-06-30T12:00:00Z"] }
actions = { values = ["approve", "deny", "revoke"] }

[parameters]
"path.org" = "$ORG"
"path.installation_id" = $INSTALLATION_ID
"path.pat_request_id" = { dictionary = "ids", probability = 0.6 }
"path.pat_id" = { dictionary = "ids", probability = 0.6 }
"query.repository" = { dictionary = "repositories", probability = 0.5 }
"query.permission" = { dictionary = "permission_filters", probability = 0.5 }
"query.last_used_before" = { dictionary = "times", probability = 0.5 }
"query.last_used_after" = { dictionary = "times", probability = 0.5 }
"query.after" = { dictionary = "times", probability = 0.5 }
"query.before" = { dictionary = "times", probability = 0.5 }
"body.pat_request_ids[*]" = { dictionary = "ids", probability = 0.7 }
"body.pat_ids[*]" = { dictionary = "ids", probability = 0.7 }
"body.token_id" = { dictionary = "ids", probability = 0.7 }
"body.owner" = { dictionary = "owners", probability = 0.7 }
"body.token_name" = { dictionary = "token_names", probability = 0.7 }
"body.repository_selection" = { dictionary = "selections", probability = 0.7 }
"body.repositories[*]" = { dictionary = "repositories", probability = 0.7 }
"body.repository" = { dictionary = "repositories", probability = 0.5 }
"body.permission" = { dictionary = "permissions", probability = 0.7 }
"body.level" = { dictionary = "levels", probability = 0.7 }
"body.token_kind" = { dictionary = "token_kinds", probability = 0.7 }
"body.token_expires_at" = { dictionary = "times", probability = 0.6 }
"body.token_created_at" = { dictionary = "times", probability = 0.6 }
"body.last_used_at" = { dictionary = "times", probability = 0.6 }
"body.action" = { dictionary = "actions", probability = 0.3 }

# Revoking the token or suspending the installation would take away the credentials the
# rest of the run depends on; tests/e2e/revocation.rs covers those operations.
[[operations]]
include-path-regex = '^/installation/token$|/suspended$'
enabled = false

[[operations]]
include-path-regex = '^/app(/|$)|^/orgs/\{org\}/installation$'
headers = { "Authorization" = "Bearer $JWT", "User-Agent" = "$UA" }

[[operations]]
include-path-regex = '^/orgs/\{org\}/personal-access-token-intake/'
headers = { "Authorization" = "Bearer $ISSUER_TOKEN", "User-Agent" = "$UA" }

[[operations]]
include-path-regex = '^/orgs/\{org\}/(?!installation$|personal-access-token-intake/)'
headers = { "Authorization" = "Bearer $TOKEN", "User-Agent" = "$UA" }
EOF

# --- 4. the fuzzer -------------------------------------------------------------------------
log "schemathesis $SCHEMATHESIS_VERSION: checks=$CHECKS max-examples=$MAX_EXAMPLES seed=$SEED"
set +e
# Run from the scratch directory so that nothing (hypothesis database, caches) lands in the
# work tree; reports go to target/fuzz-report.
(
  cd "$WORK" &&
    "$ST" --config-file "$CONFIG" run "$SCHEMA" \
      --url "$BASE_URL" \
      --checks "$CHECKS" \
      --max-examples "$MAX_EXAMPLES" \
      --seed "$SEED" \
      --workers "$WORKERS" \
      --request-timeout 10 \
      --generation-database none \
      --suppress-health-check all \
      --report junit,vcr --report-dir "$REPORT_DIR" \
      --no-color \
      "$@"
)
RC=$?
set -e
log "schemathesis exited $RC; reports in $REPORT_DIR"
exit "$RC"
