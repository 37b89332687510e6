# Keyward: the only entry points people need. Each target installs what it needs itself.
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
# psycopg and psycopg-binary: what `pip install keyward[postgres]` brings, for PostgresStore's tests
PY_TOOLS := maturin==1.16.0 pytest==9.2.0 mypy==2.4.1 psycopg==3.3.9 psycopg-binary==3.3.9

WASM_BINDGEN_VERSION := 0.2.130
# Cargo's output folder: CARGO_TARGET_DIR when set (several worktrees, one cache each), else target/.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
WASM_OUT := $(TARGET_DIR)/wasm32-unknown-unknown/wasm-release/keyward_wasm.wasm
NODE_LIB := $(TARGET_DIR)/release/libkeyward_node.so

.PHONY: fuzz fuzz-smoke stubs bench-smoke cross-host-test examples-test demo walkthrough test sql-test cli-test lint build bench toolchain fmt js-shared wasm node-native js-test e2e-test chromium wasm-bindgen-cli python-test python-build python-develop python-venv

## demo: a short session of `keyward` commands on a fresh ./keyward.db (tenant, service account,
## token, verify allowed and denied, rotation, a cross-tenant grant, the audit trail); the
## database stays for you to explore, and the next `make demo` starts afresh
demo:
	@$(CARGO) build -q -p keyward-cli
	@KEYWARD="$$($(CARGO) metadata --format-version 1 --no-deps | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/keyward" \
	  scripts/demo.sh

## walkthrough: the same story through the Rust library, on the built-in in-memory store
walkthrough:
	$(CARGO) run -q -p keyward-core --example walkthrough

## test: formatting, lints, the core's tests, the SQL stores' and the `keyward` command's (each
## on a private PostgreSQL cluster), then the Python package's and both npm packages' tests
## (each replays tests/conformance with its built-in store and a host store)
test: toolchain lint
	$(CARGO) test -p keyward-core -p keyward-stubs -p keyward-fuzz-targets
	$(MAKE) fuzz-smoke
	$(MAKE) sql-test
	$(MAKE) cli-test
	$(MAKE) python-test
	$(MAKE) js-test
	$(MAKE) e2e-test
	$(MAKE) cross-host-test
	$(MAKE) examples-test
	$(MAKE) bench-smoke

## stubs: rewrite what is generated from the operation table in core/src/call.rs (the Python
## methods and stubs, the JavaScript driver's table, the TypeScript method declarations);
## `make test` fails while any of them is stale
stubs:
	$(CARGO) run -q -p keyward-stubs

## sql-test: keyward-sql's stores (SQLite files, a private PostgreSQL cluster that the script
## starts and stops) through the store conformance suite and the engine
sql-test:
	scripts/with-postgres.sh $(CARGO) test -p keyward-sql

## cli-test: the built `keyward` command driven as a script drives it (exit statuses, JSON,
## secrets, two processes on one SQLite file, a Postgres URL on a private cluster)
cli-test:
	scripts/with-postgres.sh $(CARGO) test -p keyward-cli

## lint: rustfmt check and clippy with warnings as errors
lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -q -- -D warnings
	$(CARGO) clippy -p keyward-wasm --target wasm32-unknown-unknown -q -- -D warnings

## build: the three packages: @keyward/wasm (pkg/), @keyward/node (node/), and the Python
## wheel (target/wheels/)
build: toolchain wasm node-native python-build

# --- JavaScript: one driver and one set of declarations (js/), copied into both packages
js-shared: pkg/driver.mjs pkg/driver.cjs node/driver.cjs pkg/index.d.ts node/index.d.ts \
  pkg/store-adapters.mjs node/store-adapters.cjs pkg/testing.mjs node/testing.cjs pkg/testing.d.ts node/testing.d.ts

# The stores (js/stores.mjs) and the store conformance suite (js/testing.mjs): ES modules in
# @keyward/wasm, CommonJS in @keyward/node (each `export` dropped, its names in module.exports).
pkg/store-adapters.mjs: js/stores.mjs
	cp $< $@
pkg/testing.mjs: js/testing.mjs
	cp $< $@
pkg/testing.d.ts node/testing.d.ts: js/testing.d.ts
	cp $< $@
node/store-adapters.cjs: js/stores.mjs
	{ echo "'use strict';"; sed -E 's/^export ((async )?(function|class|const) )/\1/' $<; \
	  echo "module.exports = { $$(sed -nE 's/^export (async )?(function|class|const) ([A-Za-z0-9_]+).*/\3/p' $< | paste -sd, -) };"; } > $@
node/testing.cjs: js/testing.mjs
	{ echo "'use strict';"; sed -E 's/^export ((async )?(function|class|const) )/\1/' $<; \
	  echo "module.exports = { $$(sed -nE 's/^export (async )?(function|class|const) ([A-Za-z0-9_]+).*/\3/p' $< | paste -sd, -) };"; } > $@

pkg/driver.mjs: js/driver.mjs
	cp $< $@
# The CommonJS copy: the same source with its two exports turned into module.exports.
pkg/driver.cjs node/driver.cjs: js/driver.mjs
	{ echo "'use strict';"; sed -e 's/^export function /function /' -e 's/^export const /const /' $<; \
	  echo 'module.exports = { createKeyward, OPERATIONS };'; } > $@
pkg/index.d.ts: js/index.d.ts pkg/index.tail.d.ts
	cat $^ > $@
node/index.d.ts: js/index.d.ts
	cp $< $@

wasm-bindgen-cli:
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || \
	  $(CARGO) install -q wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

## wasm: @keyward/wasm — the `web` build (browsers, workerd) and the `nodejs` build, shrunk
## by wasm-opt (npm binaryen, from pkg/package-lock.json)
wasm: toolchain wasm-bindgen-cli js-shared pkg/node_modules/.package-lock.json
	$(CARGO) build -q -p keyward-wasm --target wasm32-unknown-unknown --profile wasm-release
	wasm-bindgen --target web --out-dir pkg/web $(WASM_OUT)
	wasm-bindgen --target nodejs --out-dir pkg/nodejs $(WASM_OUT)
	echo '{ "type": "commonjs" }' > pkg/nodejs/package.json
	for d in web nodejs; do \
	  pkg/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
	    --enable-sign-ext --enable-mutable-globals --strip-debug --strip-producers \
	    pkg/$$d/keyward_wasm_bg.wasm -o pkg/$$d/keyward_wasm_bg.wasm; done

pkg/node_modules/.package-lock.json: pkg/package-lock.json
	cd pkg && npm ci --no-audit --no-fund --loglevel=error

## node-native: @keyward/node's native module
node-native: js-shared
	$(CARGO) build -q -p keyward-node --release
	cp $(NODE_LIB) node/keyward.node

## js-test: both npm packages: declarations checked by tsc, then node --test; @keyward/node's
## tests run beside a private PostgreSQL cluster (scripts/with-postgres.sh) for PostgresStore
js-test: wasm node-native node/node_modules/.package-lock.json
	cd pkg && node_modules/.bin/tsc -p tsconfig.json
	pkg/node_modules/.bin/tsc -p node/tsconfig.json
	cd node && ../scripts/with-postgres.sh node --test test/
	cd pkg && node --test test/

## cross-host-test: one PostgreSQL table, every host: `keyward` provisions a token, Python
## verifies and rotates it, Node sees the rotation and revokes, `keyward` sees the revocation
cross-host-test: node-native node/node_modules/.package-lock.json python-develop
	$(CARGO) build -q -p keyward-cli
	KEYWARD_BIN=$(TARGET_DIR)/debug/keyward scripts/with-postgres.sh tests/cross-host/run.sh

## examples-test: each example under examples/ tested the way its users run it (its own
## test.sh: the admin UI in Chromium on IndexedDB, the edge worker in workerd on D1, the Node
## backend and the Python job on a private PostgreSQL cluster), then one database shared by them
## all (tests/cross-host/examples.test.mjs)
EXAMPLE_ENV = KEYWARD_BIN=$(abspath $(TARGET_DIR))/debug/keyward PYTHON=$(abspath $(VENV))/bin/python
examples-test: wasm node-native python-develop chromium
	$(CARGO) build -q -p keyward-cli
	$(EXAMPLE_ENV) scripts/with-postgres.sh examples/node-backend/test.sh
	$(EXAMPLE_ENV) scripts/with-postgres.sh examples/python-automation/test.sh
	$(EXAMPLE_ENV) examples/edge-worker/test.sh
	$(EXAMPLE_ENV) examples/admin-ui/test.sh
	$(EXAMPLE_ENV) scripts/with-postgres.sh node --test tests/cross-host/examples.test.mjs

# `pg` for PostgresStore's tests (a devDependency: hosts bring their own).
node/node_modules/.package-lock.json: node/package-lock.json
	cd node && npm ci --no-audit --no-fund --loglevel=error

## e2e-test: the built @keyward/wasm in real runtimes: workerd (Miniflare) and Chromium
e2e-test: wasm tests/e2e/node_modules/.package-lock.json chromium
	cd tests/e2e && node --test

# Debian's Chromium for the browser test (the machines run as root; apt never auto-updates).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error

## python-test: the Python package (python/): a venv in .venv with pinned tools, the native
## module built by maturin (debug), mypy --strict on the package and its tests, then pytest
## with a private PostgreSQL cluster (scripts/with-postgres.sh): every tests/conformance
## scenario with the built-in store, a Python dict store, SqliteStore and PostgresStore, and
## keyward.testing.check_store on each store
python-test: python-develop
	cd python && ../$(VENV)/bin/mypy --strict keyward tests
	scripts/with-postgres.sh bash -c 'cd python && ../$(VENV)/bin/python -m pytest'

## python-build: a release wheel of the `keyward` Python package into target/wheels
python-build: python-venv
	cd python && VIRTUAL_ENV=$(CURDIR)/$(VENV) ../$(VENV)/bin/maturin build --release -q

python-develop: python-venv
	cd python && VIRTUAL_ENV=$(CURDIR)/$(VENV) ../$(VENV)/bin/maturin develop -q

python-venv:
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@grep -qxF '$(PY_TOOLS)' $(VENV)/.keyward-tools 2>/dev/null || \
	  { $(VENV)/bin/python -m pip install -q --disable-pip-version-check $(PY_TOOLS) && \
	    echo '$(PY_TOOLS)' > $(VENV)/.keyward-tools; }

## bench: every benchmark of issue 10 in one run (bench/, scripts/bench.sh): Rust verify and
## authorize with 1 k to 1 M tokens beside the floor, jsonwebtoken, cedar-policy and casbin; the
## SQL stores (a private PostgreSQL cluster); Python, @keyward/node and @keyward/wasm beside
## their peers; wasm size and cold start. Writes BENCHMARKS.md. Never part of `make test`.
bench: toolchain bench/node/node_modules/.package-lock.json
	scripts/with-postgres.sh scripts/bench.sh

## bench-smoke: builds the benchmarks and runs one tiny iteration of each (Rust on a private
## PostgreSQL cluster; Python with .venv's debug build, the peers installed beside it)
bench-smoke: toolchain wasm node-native python-develop bench/node/node_modules/.package-lock.json
	@grep -qxF '$(BENCH_PY_PEERS)' $(VENV)/.keyward-bench-peers 2>/dev/null || \
	  { $(VENV)/bin/python -m pip install -q --disable-pip-version-check -r bench/python/requirements.txt && \
	    echo '$(BENCH_PY_PEERS)' > $(VENV)/.keyward-bench-peers; }
	BENCH_PYTHON=$(VENV)/bin/python scripts/with-postgres.sh scripts/bench.sh --smoke

BENCH_PY_PEERS = $(shell grep -v '^\#' bench/python/requirements.txt | paste -sd' ' -)

bench/node/node_modules/.package-lock.json: bench/node/package-lock.json
	cd bench/node && npm ci --no-audit --no-fund --loglevel=error

## fmt: format the code
fmt:
	$(CARGO) fmt --all

# --- Fuzzing (fuzz/, issue 11): cargo-fuzz on the nightly toolchain; the targets' bodies live
# in bindings/fuzz-targets, whose tests replay fuzz/corpus on stable. The corpus is never
# written to: each run grows a scratch copy under the target directory.
FUZZ_TARGETS := token filter documents steps
FUZZ_FLAGS := --release -s none --debug-assertions
FUZZ_RUNS ?= 10000000
FUZZ_SCRATCH := $(abspath $(TARGET_DIR))/fuzz-corpus
FUZZ_NIGHTLY = rustup toolchain list | grep -q '^nightly'

## fuzz-smoke: each fuzz target for 15 s from the committed corpus (skipped, with a word, when
## there is no nightly toolchain; installs cargo-fuzz when missing)
fuzz-smoke:
	@if ! $(FUZZ_NIGHTLY); then echo "fuzz-smoke: no nightly toolchain (rustup toolchain install nightly): skipped"; exit 0; fi; \
	  command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked || exit 1; \
	  cd fuzz && $(CARGO) +nightly fuzz build $(FUZZ_FLAGS) || exit 1; \
	  for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_SCRATCH)/$$t && \
	    $(CARGO) +nightly fuzz run $$t $(FUZZ_FLAGS) $(FUZZ_SCRATCH)/$$t corpus/$$t -- \
	      -max_total_time=15 -max_len=4096 -timeout=10 2>&1 | grep -E '^(Done|==|INFO: (seed|-max)|.*(panicked|ERROR|SUMMARY))' ; \
	    test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	  done

## fuzz: the long runs of fuzz/RUNS.md: FUZZ_RUNS (10,000,000) executions of each target, one
## after another, at the lowest priority; each prints libFuzzer's `Done N runs in S second(s)`
fuzz:
	@$(FUZZ_NIGHTLY) || { echo "fuzz: needs the nightly toolchain (rustup toolchain install nightly)"; exit 1; }
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz build $(FUZZ_FLAGS)
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_SCRATCH)/$$t && \
	  nice -n 19 $(CARGO) +nightly fuzz run $$t $(FUZZ_FLAGS) $(FUZZ_SCRATCH)/$$t corpus/$$t -- \
	    -runs=$(FUZZ_RUNS) -max_len=4096 -timeout=10 2>&1 | grep -E '^(Done|==|.*(panicked|ERROR|SUMMARY))' | sed "s/^/$$t: /"; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# rust-toolchain.toml names the components and target, but RUSTUP_AUTO_INSTALL may be off:
# add them explicitly (a no-op when present).
toolchain:
	@rustup component add rustfmt clippy >/dev/null 2>&1 || true
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
