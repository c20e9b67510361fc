# parley — build, run, test, benchmark.
# `make run` and `make test` work on a fresh Debian machine with the Swift toolchain.

SWIFT ?= swift
# Debian packages, by purpose. The Dockerfile's build and runtime lists must match these.
BUILD_PACKAGES   := pkg-config libssl-dev libargon2-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libhiredis-dev
RUNTIME_PACKAGES := ca-certificates curl libssl3 libargon2-1 libsqlite3-0 libpq5 libcurl4 libhiredis0.14
TEST_PACKAGES    := curl postgresql python3 python3-venv python3-pexpect redis-server docker-compose binutils nginx-light chromium chromium-driver
BENCH_PACKAGES   := wrk curl python3 gcc libc6-dev postgresql redis-server

.PHONY: deps deps-test deps-bench build release run test bench bench-http bench-streams bench-idle bench-turns bench-startup bench-cluster bench-tree bench-web fuzz clean

deps:
	@scripts/install-deps.sh $(BUILD_PACKAGES) $(RUNTIME_PACKAGES)

deps-test: deps
	@scripts/install-deps.sh $(TEST_PACKAGES)

deps-bench: deps
	@scripts/install-deps.sh $(BENCH_PACKAGES)

build: deps
	$(SWIFT) build

## The parley binary as the container ships it: the Swift runtime linked in (smaller and
## faster to start than with the runtime's shared libraries).
RELEASE_FLAGS := -c release --product parley --static-swift-stdlib
release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

## Serve on embedded defaults (127.0.0.1:8080); configure with environment variables or .env.
run: release
	$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/parley serve

## Every test: unit, parser tables, live servers on loopback, curl, the parley binary itself,
## the storage and rate-limit contracts against SQLite and a throwaway PostgreSQL and Redis that
## this starts, the fuzzers briefly, the Dockerfile against the release binary (hadolint, linked
## libraries), and schemathesis holding the server to openapi.yaml (PyPI tools, in .build/).
test: deps-test
	$(SWIFT) build --build-tests
	$(SWIFT) build $(RELEASE_FLAGS)
	scripts/run-tests.sh

## The benchmark suite (every scenario of the design's performance targets, listed in bench/RESULTS.md, each against a Hummingbird 2 peer
## measured in the same run); each part updates its own section of bench/RESULTS.md.
bench: bench-http bench-streams bench-idle bench-turns bench-startup bench-cluster bench-tree bench-web

## GET /health throughput and latency with wrk.
bench-http: deps-bench
	bench/run-http.sh

## 1,000 and 100 concurrent streamed chats: straight to the mock, through parley, through the peer.
bench-streams: deps-bench
	bench/run-streams.sh

## 10,000 idle open SSE streams: memory per stream.
bench-idle: deps-bench
	bench/run-idle.sh

## Full chat turns per second with PostgreSQL and Redis (both started here, in throwaway folders).
bench-turns: deps-bench
	bench/run-turns.sh

## Start-up time to the first answered request, and idle memory.
bench-startup: deps-bench
	bench/run-startup.sh

## Several instances: cross-instance tail delay, a rolling restart under 200 chats (needs deps-test's PostgreSQL, Redis, nginx).
bench-cluster: deps-bench deps-test
	bench/run-cluster.sh

## A 10,000-message conversation against a 10-message one: listing and sending, SQLite and PostgreSQL.
bench-tree: deps-bench
	bench/run-tree.sh

## The web page's first load in headless Chromium: bytes and time to a usable page.
bench-web: deps-bench deps-test
	bench/run-web.sh

## libFuzzer over the request parser, the chunked body decoder and the upstream event-stream
## parser, FUZZ_SECONDS each (default 60); `make test` runs them for 10 s each.
FUZZ_SECONDS ?= 60
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-* fuzz/out
