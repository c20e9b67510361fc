#!/usr/bin/env bash
# Builds the request parser with libFuzzer and AddressSanitizer and fuzzes it for N seconds
# (default 60), starting from the seed corpus. Exit status is non-zero if the fuzzer found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
mkdir -p fuzz/out fuzz/corpus
sources=(Sources/HTTPServer/Parsing/*.swift Sources/HTTPServer/Messages/{HTTPMethod,HTTPVersion,HTTPStatus,HTTPFields,Request}.swift
         Sources/HTTPServer/Routing/PathParameters.swift fuzz/RequestParserFuzzer.swift)
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name RequestParserFuzz "${sources[@]}" -o fuzz/out/request-parser
cp -n fuzz/seeds/* fuzz/corpus/ 2>/dev/null || true
fuzz/out/request-parser -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=5 -artifact_prefix=fuzz/out/ fuzz/corpus
