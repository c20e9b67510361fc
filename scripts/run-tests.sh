#!/usr/bin/env bash
# Runs every test suite against real services started here: a throwaway PostgreSQL and a
# throwaway Redis on 127.0.0.1 (removed afterwards, whatever happens) and the parley binary
# that was just built; then the API contract (schemathesis against openapi.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/test-postgres.sh start)"
trap 'scripts/test-postgres.sh teardown' EXIT
eval "$(scripts/test-redis.sh start)"
trap 'scripts/test-postgres.sh teardown; scripts/test-redis.sh teardown' EXIT
export PARLEY_TEST_POSTGRES_URL PARLEY_TEST_POSTGRES_DIR PARLEY_TEST_REDIS_URL PARLEY_TEST_REDIS_DIR
export PARLEY_BIN="$(swift build --show-bin-path)/parley"
# Real clients from PyPI: selenium for the browser tests, the official openai package.
PARLEY_TEST_PYTHON="$(scripts/test-venv.sh)"
export PARLEY_TEST_PYTHON
# The suites that run several parley processes, PostgreSQL, Redis, nginx or a browser at once
# each load the machine on their own; run beside everything else on two cores they starve one
# another's timeouts. So a whole run has two phases: everything else in parallel, then these
# one at a time, with the one suite that measures the process's heap (which the parallel
# suites' allocations would blur).
heavy='ClusterTests|BehindNginxTests|WebPageTests|OpenAIClientTests|DatabaseFaultProcessTests|SleepMemoryTests'
if [ $# -eq 0 ]; then
    swift test --disable-xctest --skip "$heavy"
    swift test --disable-xctest --skip-build --no-parallel --filter "$heavy"
else
    swift test --disable-xctest "$@"
fi
# The fuzzers briefly (so they keep building and their properties keep holding) and the
# contract, when the whole suite runs (a filtered run is someone narrowing in on a test).
if [ $# -eq 0 ]; then
    fuzz/run.sh "${FUZZ_TEST_SECONDS:-10}"
    scripts/check-dockerfile.sh
    scripts/contract-test.sh
fi
