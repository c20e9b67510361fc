#!/usr/bin/env bash
# The web page's first load in headless Chromium (Tests/Web/browser_test.py --first-load): bytes
# over the wire and milliseconds from navigation to a usable page (the sign-in form, after the
# page has tried its refresh cookie), on loopback against the release binary, ROUNDS fresh
# browsers. Updates the `web` section of bench/RESULTS.md. No peer: the Hummingbird proxy
# serves no page.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-10}
MOCK_PORT=18130 PORT=18131
echo "building parley (release)…"
swift build -c release --static-swift-stdlib --product parley >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
PARLEY_BIN="$(swift build -c release --static-swift-stdlib --product parley --show-bin-path)/parley"
python="$(scripts/test-venv.sh)"
start_mock $MOCK_PORT
start_parley $PORT $MOCK_PORT
"$python" Tests/Web/browser_test.py "http://127.0.0.1:$PORT" "$WORK/shots" --first-load "$ROUNDS" >"$OUT/web.json"
python3 - "$(machine_line)" "$ROUNDS" >"$OUT/web.md" <<'PY'
import json, statistics, sys
machine, rounds = sys.argv[1:3]
runs = [json.loads(line) for line in open("bench/out/web.json")]
def cell(key, digits=1):
    values = sorted(run[key] for run in runs)
    return f"{statistics.median(values):,.{digits}f} ({values[0]:,.{digits}f}–{values[-1]:,.{digits}f})"
print("## The web page's first load (`make bench-web`)\n")
print(f"{machine} Headless Chromium on loopback, a fresh browser each time ({rounds}), the release binary; from the start "
      "of navigation to the page usable (the sign-in form, after its attempt to sign in with a refresh cookie), and the "
      "bytes transferred (headers and compressed bodies of the page and every file it loaded); median (min–max). "
      "highlight.js is not in it: it is loaded when an answer first shows code.\n")
print("| measure | value | budget |")
print("| --- | --- | --- |")
print(f"| bytes transferred | {cell('first_load_bytes', 0)} | < 204,800 |")
print(f"| files | {cell('first_load_files', 0)} | |")
print(f"| DOM interactive (ms) | {cell('dom_interactive_ms')} | |")
print(f"| usable (ms) | {cell('usable_ms')} | < 300 |")
PY
python3 bench/update_results.py web <"$OUT/web.md"
cat "$OUT/web.md"
