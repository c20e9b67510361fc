#!/usr/bin/env bash
# The Python environment of the browser tests (selenium, the WebDriver client), in .build/;
# prints its python. Chromium and chromedriver come from Debian (`make deps-test`).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/browser-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check selenium==4.27.1
fi
echo "$PWD/$venv/bin/python"
