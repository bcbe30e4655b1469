# MedTunnel: the two commands a new user runs are `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/debug/medtunnel

.PHONY: setup build test demo format release firmware firmware-demo

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

# The pump core as Cortex-M4 firmware (firmware-profile/README.md): the ELF and its footprint
# report in .build/firmware/; firmware-demo runs it in QEMU against the real relay and gateway.
firmware: setup
	firmware-profile/build

firmware-demo: build firmware
	firmware-profile/run-demo

release: setup
	$(SWIFT) build -c release

format:
	swift-format format --in-place --recursive Sources Tests Package.swift
