# patgate: make run · make test · make ci · make openapi
CARGO ?= cargo

.PHONY: run test test-rust test-octokit test-typescript test-python ci fmt clippy openapi check-postgres check-promtool docs-check fuzz-api bench schema schema-check

## Serve the demo on http://127.0.0.1:8080 from an embedded SQLite file (data/).
run:
	$(CARGO) run -- demo

## Every test: unit, property, persistence and end-to-end on SQLite and PostgreSQL, then
## the @octokit/rest conformance check, the generated TypeScript client's flow and the
## Python (PyGithub + githubkit) conformance check.
test: check-postgres check-promtool test-rust test-octokit test-typescript test-python

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

## Drive the demo with unmodified PyGithub and githubkit (pinned in tests/python/requirements.txt,
## installed into target/python-venv with the machine's python3, again only when that file changes).
PYTHON ?= python3
PY_VENV := target/python-venv
PY_REQS := tests/python/requirements.txt
test-python:
	$(CARGO) build
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "test-python: $(PYTHON) not found; the Python check needs Python >= 3.10 with its venv module."; \
	  echo "Install them with: apt-get update && apt-get install -y python3 python3-venv"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
	  echo "test-python: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); PyGithub and githubkit need >= 3.10 (set PYTHON=...)."; exit 1; }
	@if ! $(PY_VENV)/bin/python -c '' >/dev/null 2>&1; then \
	  rm -rf $(PY_VENV); \
	  $(PYTHON) -m venv $(PY_VENV) || { rm -rf $(PY_VENV); \
	    echo "test-python: '$(PYTHON) -m venv' failed; install the venv module with: apt-get update && apt-get install -y python3-venv"; exit 1; }; \
	fi
	@want=$$(sha256sum $(PY_REQS) | cut -d' ' -f1); \
	if [ "$$(cat $(PY_VENV)/requirements.sha256 2>/dev/null)" != "$$want" ]; then \
	  echo "test-python: installing $(PY_REQS) into $(PY_VENV)"; \
	  $(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(PY_REQS) || exit 1; \
	  echo "$$want" > $(PY_VENV)/requirements.sha256; \
	fi
	$(PY_VENV)/bin/python -B tests/python/conformance.py

check-postgres:
	@command -v initdb >/dev/null 2>&1 || test -x "$$(pg_config --bindir 2>/dev/null)/initdb" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "PostgreSQL server binaries (initdb, pg_ctl) are required by the test suite."; \
	  echo "Install them with: apt-get update && apt-get install -y postgresql"; exit 1; }

## The metrics tests check a scrape, the alert rules and the dashboard's queries with promtool.
check-promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "promtool is required by the test suite (metrics, alert rules, dashboard)."; \
	  echo "Install it with Debian's prometheus package: apt-get update && apt-get install -y prometheus"; exit 1; }

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## What CI runs.
ci: fmt schema-check clippy test

## The diesel schema (crates/persistence/src/schema.rs) is generated, not edited: `make schema`
## writes it from the SQLite migrations with diesel_cli (options in diesel.toml), and
## `make schema-check` fails, with the diff, when the committed file differs from them.
## Both need diesel_cli with SQLite (.ci/run installs it; scripts/schema.sh says how).
schema:
	scripts/schema.sh write

schema-check:
	scripts/schema.sh check

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
