# Portcullis — the two commands a newcomer needs are `make demo` and `make test` (see README.md).
SWIFT   ?= swift
BIN     := .build/release/portcullis
PYTHON  ?= python3
SHARED  ?= $(abspath ../shared)

.PHONY: deps build debug test unit blackbox blackbox-fast check-example demo bench bench-rotating bench-ws bench-jwt clean

deps:                ## apt + pip packages the build and the tests need (idempotent)
	@bash scripts/deps.sh

build: deps          ## release binary at .build/release/portcullis
	$(SWIFT) build -c release --product portcullis

debug:
	$(SWIFT) build

unit: deps           ## Swift unit tests (pure parts: parser, JWT engine, config, policy)
	$(SWIFT) test --disable-swift-testing

blackbox: build      ## the real binary in front of real upstreams, driven by curl, raw sockets and Python clients
	PORTCULLIS_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q tests/blackbox

blackbox-fast: build
	PORTCULLIS_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q tests/blackbox -m 'not slow'

check-example: build
	ONLYOFFICE_JWT_SECRET=example-secret-of-32-bytes-long!! $(BIN) check --config gateway.conf.example

test: deps           ## everything CI runs
	$(SWIFT) test --disable-swift-testing
	$(SWIFT) build -c release --product portcullis
	ONLYOFFICE_JWT_SECRET=example-secret-of-32-bytes-long!! $(BIN) check --config gateway.conf.example
	PORTCULLIS_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q tests/blackbox

demo: build          ## a gateway and a small upstream on localhost, with curl commands that pass and fail
	$(BIN) demo

bench: build         ## Portcullis beside nginx and HAProxy (../shared/bench), one worker each
	SHARED=$(SHARED) bash bench/run.sh

bench-rotating: build  ## 10,000 distinct tokens per algorithm (defeats the token cache), beside HAProxy
	SHARED=$(SHARED) bash bench/rotating.sh

bench-ws: build      ## RSS of 10,000 idle WebSocket tunnels; echo round trip through the gateway vs direct
	bash bench/ws-bench.sh

bench-jwt: deps      ## single-core JWT verifications per second beside `openssl speed`
	$(SWIFT) build -c release --product jwt-bench
	openssl speed -seconds 3 rsa2048 ecdsap256 ed25519 2>/dev/null | tee .build/openssl-speed.txt | tail -n 8
	.build/release/jwt-bench 3 --openssl-speed .build/openssl-speed.txt

clean:
	rm -rf .build
