#!/usr/bin/env bash
# Copies the web page's third-party libraries from their Debian packages into web/vendor, with
# their licences, and writes web/vendor/SOURCES.md saying where each file came from. Run it
# after the packages change (`make deps-test` installs them); the copies are committed, so
# building parley needs no Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."
out=web/vendor
mkdir -p "$out"
copy() {  # copy PACKAGE SOURCE-FILE TARGET-NAME
    local package=$1 source=$2 target=$3
    [ -f "$source" ] || { echo "$source is missing: apt-get install $package" >&2; exit 1; }
    cp "$source" "$out/$target"
    cp "/usr/share/doc/$package/copyright" "$out/$target.LICENSE"
    printf '| `%s` | `%s` %s | `%s` |\n' "$target" "$package" "$(dpkg-query -W -f='${Version}' "$package")" "$source" >>"$out/SOURCES.md"
}
{
    echo "# Third-party files of the web page"
    echo
    echo "Copied from Debian packages by \`scripts/vendor-web.sh\`; each file's licence is beside it (\`*.LICENSE\`,"
    echo "the package's copyright file). Do not edit them here."
    echo
    echo "| file | package and version | copied from |"
    echo "| --- | --- | --- |"
} >"$out/SOURCES.md"
copy libjs-marked /usr/share/javascript/marked/marked.umd.min.js marked.min.js
copy node-dompurify /usr/share/nodejs/dompurify/dist/purify.js purify.js
# Debian's security update 2.4.1+dfsg-2+deb12u1 left, in sanitize(), a nesting-depth check that
# names a variable of another function (`shadowNode`): every call throws a ReferenceError. The
# check is removed here; the same check on every node, in the loop right after it, stays.
python3 - "$out/purify.js" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
broken = """      if (shadowNode.__depth >= MAX_NESTING_DEPTH || numberIsNaN(shadowNode.__depth)) {
        _forceRemove(body.firstChild);
      }
"""
if broken in text:
    text = text.replace(broken, "")
    open(path, "w").write(text)
    print("purify.js: removed the check that names an undefined shadowNode")
PY
echo '| | patched: a check in `sanitize()` naming an undefined `shadowNode` (it made every call throw) removed; the per-node depth check stays | |' >>"$out/SOURCES.md"
copy libjs-highlight.js /usr/share/javascript/highlight.js/highlight.min.js highlight.min.js
copy libjs-highlight.js /usr/share/javascript/highlight.js/styles/a11y-light.css highlight-light.css
copy libjs-highlight.js /usr/share/javascript/highlight.js/styles/a11y-dark.css highlight-dark.css
echo "vendored into $out:"; ls "$out"
