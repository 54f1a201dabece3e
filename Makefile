# podplane: `make up` installs everything and starts a single-node cluster;
# `make test` installs the same and runs the whole suite (lint, layering, tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
STAMP := $(VENV)/.installed

.PHONY: up test lint unit e2e bench clean system-packages

# System packages from Debian (apt-get); only missing ones are installed.
# runc + tini run containers, containernetworking-plugins + iptables + iproute2 build pod
# networks, nftables + conntrack program Services, util-linux gives nsenter to the tests;
# nginx and redis-server are host images (`image: nginx`, `image: redis`) for the pods of
# the demos and end-to-end tests. Their services are NOT started on install (policy-rc.d):
# they only ever run inside pods.
SYSTEM_PACKAGES := ca-certificates runc tini containernetworking-plugins iptables nftables conntrack \
	iproute2 procps util-linux nginx redis-server
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -m venv --help >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root (or install:$$missing) first" >&2; exit 1; fi; \
		policy=/usr/sbin/policy-rc.d; own_policy=""; \
		if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod +x $$policy && own_policy=1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; rc=$$?; \
		if [ -n "$$own_policy" ]; then rm -f $$policy; fi; \
		[ $$rc = 0 ] || exit $$rc; \
	fi

$(STAMP): pyproject.toml Makefile
	$(MAKE) system-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/podplane up --data-dir $(DATA_DIR)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

test: $(STAMP) lint
	$(BIN)/pytest -q -p no:cacheprovider tests

bench: $(STAMP)
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache
