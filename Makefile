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

# `make demo KEEP=1` keeps the web console up after the story, until Ctrl-C.
demo: build
	$(BIN) demo $(if $(KEEP),--keep)

release: setup
	$(SWIFT) build -c release

format:
	swift-format format --in-place --recursive Sources Tests Package.swift
