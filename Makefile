# Portcullis — the two commands a newcomer needs are `make demo` and `make test` (see README.md).
SWIFT   ?= swift
BIN     := .build/release/portcullis
PYTHON  ?= python3
SHARED  ?= $(abspath ../shared)

.PHONY: deps build debug test unit blackbox check-example demo bench bench-jwt clean

deps:                ## apt + pip packages the build and the tests need (idempotent)
	@bash scripts/deps.sh

build: deps          ## release binary at .build/release/portcullis
	$(SWIFT) build -c release --product portcullis

debug:
	$(SWIFT) build

unit: deps           ## Swift unit tests (pure parts: parser, JWT engine, config, policy)
	$(SWIFT) test

blackbox: build      ## the real binary in front of real upstreams, driven by curl, raw sockets and Python clients
	PORTCULLIS_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q tests/blackbox

check-example: build
	ONLYOFFICE_JWT_SECRET=example-secret-of-32-bytes-long!! $(BIN) check --config gateway.conf.example

test: deps           ## everything CI runs
	$(SWIFT) test
	$(SWIFT) build -c release --product portcullis
	ONLYOFFICE_JWT_SECRET=example-secret-of-32-bytes-long!! $(BIN) check --config gateway.conf.example
	PORTCULLIS_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q tests/blackbox

demo: build          ## a gateway and a small upstream on localhost, with curl commands that pass and fail
	$(BIN) demo

bench: build         ## Portcullis beside nginx and HAProxy (../shared/bench), one worker each
	SHARED=$(SHARED) bash bench/run.sh

bench-jwt: deps      ## single-core JWT verifications per second beside `openssl speed`
	$(SWIFT) build -c release --product jwt-bench
	openssl speed -seconds 3 rsa2048 ecdsap256 ed25519 2>/dev/null | tail -n 8
	.build/release/jwt-bench 3

clean:
	rm -rf .build
