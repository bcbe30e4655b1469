# MedTunnel: the two commands a new user runs are `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/debug/medtunnel

.PHONY: setup build test demo format release

setup:
	@tools/setup

build: setup
	$(SWIFT) build

# Build once (sources and tests), then run every test.
test: setup
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) tools/run-tests

demo: build
	$(BIN) demo

release: setup
	$(SWIFT) build -c release

format:
	swift-format format --in-place --recursive Sources Tests Package.swift
