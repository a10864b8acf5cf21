# patgate: make run · make test · make ci · make openapi
CARGO ?= cargo

.PHONY: run test test-rust test-octokit test-typescript ci fmt clippy openapi check-postgres docs-check fuzz-api bench

## Serve the demo on http://127.0.0.1:8080 from an embedded SQLite file (data/).
run:
	$(CARGO) run -- demo

## Every test: unit, property, persistence and end-to-end on SQLite and PostgreSQL, then
## the @octokit/rest conformance check and the generated TypeScript client's flow.
test: check-postgres test-rust test-octokit test-typescript

test-rust:
	$(CARGO) test --workspace --all-targets

test-octokit:
	$(CARGO) build
	cd tests/octokit && npm ci --no-audit --no-fund --loglevel=error && node conformance.mjs

## Generate a TypeScript client (openapi-typescript + openapi-fetch) from the committed
## openapi/openapi.json, type-check a reviewer's flow against it, and run it on the server.
test-typescript:
	$(CARGO) build
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check

check-postgres:
	@command -v initdb >/dev/null 2>&1 || test -x "$$(pg_config --bindir 2>/dev/null)/initdb" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "PostgreSQL server binaries (initdb, pg_ctl) are required by the test suite."; \
	  echo "Install them with: apt-get update && apt-get install -y postgresql"; exit 1; }

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## What CI runs.
ci: fmt clippy test

## Regenerate the committed OpenAPI documents (3.1, and its 3.0 down-conversion).
openapi:
	$(CARGO) run -q -- openapi > openapi/openapi.json.tmp && mv openapi/openapi.json.tmp openapi/openapi.json
	$(CARGO) run -q -- openapi --spec-version 3.0 > openapi/openapi-3.0.json.tmp && mv openapi/openapi-3.0.json.tmp openapi/openapi-3.0.json

## Render /docs in headless Chromium (apt-get install chromium) and check every path shows.
docs-check:
	$(CARGO) build
	scripts/check-docs.sh

## Fuzz the live API from the OpenAPI document with schemathesis (installed in target/fuzz-venv).
fuzz-api:
	$(CARGO) build
	scripts/fuzz-api.sh

## Benchmarks: seed 10k, 100k and 1M requests and grants into SQLite and a throwaway
## PostgreSQL, load the release server, write BENCHMARKS.md and benchmarks/throughput.svg.
## Settings: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_ROWS, BENCH_BACKENDS (see crates/bench).
bench: check-postgres
	$(CARGO) build --release -p patgate -p patgate-bench
	target/release/patgate-bench
