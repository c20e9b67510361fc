#!/usr/bin/env bash
# The Python environment of the tests that drive parley with real clients from PyPI: selenium
# (the browser tests' WebDriver client) and the official openai package; in .build/, and
# prints its python. Chromium and chromedriver come from Debian (`make deps-test`).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/test-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import selenium, openai' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check selenium==4.27.1 openai==1.58.1
fi
echo "$PWD/$venv/bin/python"
