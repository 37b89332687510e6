# Keyward: the only entry points people need. Each target installs what it needs itself.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test lint build bench toolchain fmt

## demo: the walkthrough on the built-in store (tenant, service account, token, decisions)
demo:
	$(CARGO) run -q -p keyward-core --example walkthrough

## test: formatting, lints, the wasm32 build of the core (proves no I/O), and every test
test: toolchain lint
	$(CARGO) build -q -p keyward-core --target wasm32-unknown-unknown
	$(CARGO) test --workspace

## lint: rustfmt check and clippy with warnings as errors
lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -q -- -D warnings

## build: release build of every crate
build: toolchain
	$(CARGO) build --workspace --release

## bench: criterion benchmarks of verify and authorize (medians go to BENCHMARKS.md)
bench:
	$(CARGO) bench -p keyward-core --bench decisions

## fmt: format the code
fmt:
	$(CARGO) fmt --all

# rust-toolchain.toml names the components and target, but RUSTUP_AUTO_INSTALL may be off:
# add them explicitly (a no-op when present).
toolchain:
	@rustup component add rustfmt clippy >/dev/null 2>&1 || true
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
