#!/usr/bin/env bash
# Renders the API reference (/docs) in a real headless Chromium, with the network closed to
# anything but this machine, and checks that every operation of the document is on the page.
# Needs Debian's chromium (apt-get install chromium). Usage: make docs-check
# Leaves a screenshot in target/docs-check.png.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${PATGATE_BIN:-target/debug/patgate}
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "chromium is required: apt-get install chromium" >&2
  exit 1
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" --data-dir "$work/data" demo --bind "127.0.0.1:$port" > "$work/out" 2> "$work/log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf -A check "http://127.0.0.1:$port/" > /dev/null && break
  sleep 0.1
done

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile" --virtual-time-budget=15000
  # Only this machine is reachable: a page that needs the internet renders nothing.
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
"$CHROMIUM" "${flags[@]}" --dump-dom "http://127.0.0.1:$port/docs/" > "$work/dom.html" 2> /dev/null
mkdir -p target
"$CHROMIUM" "${flags[@]}" --window-size=1280,2400 --screenshot=target/docs-check.png \
  "http://127.0.0.1:$port/docs/" > /dev/null 2>&1 || true

missing=0
total=0
for path in $(python3 -c '
import json, sys
doc = json.load(open("openapi/openapi.json"))
for path in doc["paths"]:
    print(path)
'); do
  total=$((total + 1))
  if ! grep -qF "$path" "$work/dom.html"; then
    echo "not rendered: $path" >&2
    missing=$((missing + 1))
  fi
done
if [ "$missing" -ne 0 ]; then
  echo "docs-check: $missing of $total paths missing from the rendered page" >&2
  exit 1
fi
echo "docs-check: all $total paths rendered; screenshot in target/docs-check.png"
