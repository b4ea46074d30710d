# Every target does its own set-up from a fresh clone: virtualenv, Python packages, tools, images.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help test unit chaos soak replay shrink matrix bugs index up status down sweep images tools lint clean bench

help:
	@echo "make test      the harness's own tests (builds images, starts clusters)"
	@echo "make unit      the harness's tests that need no Docker (under a minute)"
	@echo "make chaos     the chaos scenarios (SEED=, SCENARIO=, DESIGN= select)"
	@echo "make soak      random faults for DURATION (default 8h; CHECKPOINT=5m, SEED=, DESIGN=seed|hardened)"
	@echo "make replay    redo a recorded history's faults (HISTORY=path/to/history.jsonl)"
	@echo "make shrink    the smallest fault schedule of a failing history that still fails (HISTORY=, TRIES=, BUDGET=)"
	@echo "make matrix    one scenario on 5.16.1, 5.17.2 and 5.17.6 side by side (SCENARIO=, SEED=)"
	@echo "make index     runs/index.html: every run, and a trend per scenario and design"
	@echo "make bugs      the known-bug patterns on every version and design, a table (TRIES=, SEED=, VERSIONS=, PATTERNS=)"
	@echo "make up        start a cluster and print its endpoints; make status; make down"
	@echo "make images    build the broker and VIP images (ACTIVEMQ_VERSION=5.17.2|5.16.1|5.17.6)"
	@echo "make bench     every speed figure measured now, in one table (about 5 minutes; nothing else running)"
	@echo "make lint      ruff, and the import contracts (checking and reporting never import the cluster)"
	@echo "make sweep     remove anything any harness run left behind"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

# mmdebstrap bootstraps the images' root file systems from Debian's mirror (no container registry here);
# chromium renders the HTML report headless in its test.
# apt-get needs root: sudo where make does not run as root (CI runners)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
tools:
	@command -v mmdebstrap >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mmdebstrap >/dev/null; }
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq docker-compose >/dev/null; }

images: $(STAMP) tools
	$(PY) -m harness images

test: images lint
	$(PY) -m pytest tests $(PYTEST_ARGS)

unit: $(STAMP) lint
	$(PY) -m pytest -m "not docker" tests $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check harness tests scenarios benchmarks
	$(VENV)/bin/ruff format --check harness tests scenarios benchmarks
	$(VENV)/bin/lint-imports --no-cache

# PYTEST_ARGS passes pytest options through: -k freeze, a node id, --lf, --count 3 (pytest-repeat). It is
# `pytest scenarios`, with the harness's exit codes: 0 ok, 1 a violation, 2 bad input, 3 the harness or the
# machine failed, 130 interrupted (harness/errors.py)
chaos: images
	$(PY) -m harness chaos $(PYTEST_ARGS)

# progress lines only on a terminal; checkpoints always
soak: images
	$(PY) -m harness soak

# replay the faults recorded in a history: make replay HISTORY=runs/chaos/latest/<scenario>-<topology>/history.jsonl
replay: images
	@test -n "$(HISTORY)" || { echo "error: give HISTORY=<path to a history.jsonl>"; exit 2; }
	$(PY) -m harness replay $(HISTORY)

# the smallest schedule of a failing run: make shrink HISTORY=runs/chaos/latest/<scenario>-<design>/history.jsonl
shrink: images
	@test -n "$(HISTORY)" || { echo "error: give HISTORY=<path to a failing run's history.jsonl>"; exit 2; }
	$(PY) -m harness shrink $(HISTORY)

# one scenario on every broker version (builds the images it lacks): make matrix SCENARIO=kill-live-master
matrix: $(STAMP) tools
	$(PY) -m harness matrix

# every benchmark of the speed targets, one table (benchmarks/bench.py)
bench: images
	$(PY) benchmarks/bench.py

# `harness up` builds whatever image is missing itself: a separate `make images` step here cost a second
up: $(STAMP) tools
	$(PY) -m harness up

status: $(STAMP)
	@$(PY) -m harness status

down: $(STAMP)
	$(PY) -m harness down

sweep: $(STAMP)
	$(PY) -m harness sweep

clean: sweep
	rm -rf $(VENV) runs

# runs/index.html: every chaos run and soak, and a trend per scenario and design (each run rewrites it too)
index: $(STAMP)
	$(PY) -m harness index

# the known-bug table: every pattern on every version and design (builds the images it lacks), TRIES tries
# each; VERSIONS=5.17.2 PATTERNS=stranded,split-brain narrow it. About 80 minutes for everything, 2 tries.
bugs: $(STAMP) tools
	$(PY) -m harness bugs
