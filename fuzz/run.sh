#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs each for N seconds
# (default 60), starting from its seed corpus. Exit status is non-zero if a fuzzer found a
# crash or a broken property. `make test` runs it briefly, so the targets keep building.
#
#   request-parser  the HTTP/1.1 request parser (heads, bodies, pipelining)
#   chunked-body    the chunked body decoder, after a fixed chunked request head
#   event-stream    the upstream event-stream parser (bytes from the network)
#
# Each target is built from whole folders or files that depend on nothing else, so it cannot
# drift from the module: the HTTP wire layer (Sources/HTTPServer/Parsing/ and Messages/HTTP*)
# and Sources/HTTPClient/EventStreamParser.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
shift || true
targets=("${@:-request-parser chunked-body event-stream}")
read -r -a targets <<<"${targets[*]}"

wire=(Sources/HTTPServer/Parsing/*.swift Sources/HTTPServer/Messages/HTTP*.swift)
mkdir -p fuzz/out
for target in "${targets[@]}"; do
    case "$target" in
        request-parser) sources=("${wire[@]}" fuzz/RequestParserFuzzer.swift) ;;
        chunked-body)   sources=("${wire[@]}" fuzz/ChunkedBodyFuzzer.swift) ;;
        event-stream)   sources=(Sources/HTTPClient/EventStreamParser.swift fuzz/EventStreamFuzzer.swift) ;;
        *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
    esac
    echo "fuzz: building $target"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz_${target//-/_}" "${sources[@]}" -o "fuzz/out/$target" \
        2>"fuzz/out/$target.build.log" || { cat "fuzz/out/$target.build.log"; echo "fuzz: $target does not build"; exit 1; }
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    cp -n "fuzz/seeds/$target"/* "$corpus/" 2>/dev/null || true
    echo "fuzz: running $target for ${SECONDS_TO_RUN} s"
    "fuzz/out/$target" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=5 -print_final_stats=1 \
        -artifact_prefix="fuzz/out/$target-" "$corpus" 2>"fuzz/out/$target.log" \
        || { tail -40 "fuzz/out/$target.log"; echo "fuzz: $target FAILED (input saved under fuzz/out/)"; exit 1; }
    grep -E "^Done [0-9]+ runs" "fuzz/out/$target.log" | sed "s/^/fuzz: $target: /" || true
done
