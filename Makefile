# Every target does its own set-up from a fresh clone: virtualenv, Python packages, tools, images.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
AMQ := $(VENV)/bin/amq-chaos

.PHONY: help test test-k8s test-ci-examples unit chaos soak replay shrink matrix bugs index merge durations up status down sweep images tools browser lint docs clean bench pack

help:
	@echo "make test      the harness's own tests (builds images, starts clusters)"
	@echo "make unit      the harness's tests that need no Docker (under a minute)"
	@echo "make test-ci-examples  ci/'s nightly-soak examples, run here as their platforms would (25 min)"
	@echo "make test-k8s  the Kubernetes backend on your cluster (kubeconfig, K8S_NAMESPACE=, docs/backends.md)"
	@echo "make chaos     the chaos scenarios, clusters side by side (SEED=, SCENARIO=, DESIGN= select; WORKERS=1)"
	@echo "make soak      random faults for DURATION (default 8h; CHECKPOINT=5m, SEED=, DESIGN=seed|hardened)"
	@echo "make replay    redo a recorded history's faults (HISTORY=path/to/history.jsonl)"
	@echo "make shrink    the smallest fault schedule of a failing history that still fails (HISTORY=, TRIES=, BUDGET=)"
	@echo "make matrix    one scenario on 5.16.1, 5.17.2 and 5.17.6 side by side (SCENARIO=, SEED=)"
	@echo "make index     runs/index.html: every run, and a trend per scenario and design"
	@echo "make merge     one chaos run from its shards' run folders (SHARDS=\"dir1 dir2 ...\"; SHARD=K/N make chaos)"
	@echo "make durations refresh durations.json, which SHARD=K/N splits by, from the last make test and make chaos"
	@echo "make bugs      the known-bug patterns on every version and design, a table (TRIES=, SEED=, VERSIONS=, PATTERNS=, JRE=)"
	@echo "make up        start a cluster and print its endpoints; make status; make down"
	@echo "make images    build the broker, VIP and SSH host images (ACTIVEMQ_VERSION=5.17.2|5.16.1|5.17.6)"
	@echo "make bench     every speed figure measured now, in one table (about 5 minutes; nothing else running)"
	@echo "make lint      ruff, mypy, the import contracts, and the guide built strictly (a dead link fails)"
	@echo "make docs      rewrite the guide's generated reference pages, build the guide into site/"
	@echo "make sweep     remove anything any harness run left behind"
	@echo "make pack      gzip every history under DIR (default runs/) for upload; replay and shrink read them so"

# The settings users type as make variables (SEED=7 make chaos) reach the harness under its own prefix
# (AMQ_CHAOS_SEED): run directly (amq-chaos, pytest scenarios), the harness reads only prefixed names, so a
# SIZE or SEED exported for something else never reaches it. harness/settings.py VARIABLES lists them (a
# test keeps this list equal to it); docs/reference/settings.md says what each does.
SETTINGS := SEED SCENARIO DESIGN PLACEMENT SHARD KNOWN_BUGS PRODUCERS CONSUMERS RATE SIZE QUEUES PERSISTENT \
	SUBSCRIBERS CHURN DURATION CHECKPOINT FAULTS INTERVAL HOLD TRIES BUDGET VERSIONS PATTERNS JRE RUNS_DIR READY_TIMEOUT VIP_PORT \
	STORE_SIZE BACKEND INVENTORY K8S_NAMESPACE K8S_CONTEXT K8S_BROKER_IMAGE K8S_VIP_IMAGE \
	K8S_STORAGE_CLASS K8S_STORE_SIZE CHAOS_MESH_CRDS
$(foreach name,$(SETTINGS),$(if $($(name)),$(eval export AMQ_CHAOS_$(name) := $$($(name)))))
ifneq ($(CHAOS_MINUTES),)
export AMQ_CHAOS_MINUTES := $(CHAOS_MINUTES)
endif

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

# mmdebstrap bootstraps the images' root file systems from Debian's mirror (no container registry here).
# apt-get needs root: sudo where make does not run as root (CI runners)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
tools:
	@command -v mmdebstrap >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mmdebstrap >/dev/null; }
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq docker-compose >/dev/null; }

images: $(STAMP) tools
	$(AMQ) images

# only the harness's own tests draw a report in a browser (its rendering test): a soak or a chaos run never
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The Docker tests mostly wait (takeovers, holds, drains): clusters side by side, one worker per core up to 3,
# and no more than one per 4 GiB of memory (a worker may hold two clusters of four JVMs). Each test file runs
# on one worker, so a file's tests keep sharing its session cluster. WORKERS=1 runs them one at a time.
WORKERS ?= $(shell $(PYTHON) -c 'import os; m = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30; print(max(1, min(os.cpu_count() or 1, 3, int(m // 4))))')

# the JUnit file is what `make bench` reads the suite's wall time from (a shard's, SHARD=2/3, is
# junit-shard2of3.xml); the slowest tests are listed at the end
test: images browser lint
	$(PY) -m pytest tests -m "not k8s and not ci_examples" -n $(WORKERS) --dist loadfile --durations=15 \
		--junitxml=runs/tests/junit$(if $(SHARD),-shard$(subst /,of,$(SHARD))).xml $(PYTEST_ARGS)

# ci/'s nightly-soak examples run as their platforms would, in clean clones, a 10-minute soak each (about
# 25 minutes: too long for make test); CI_EXAMPLE_DURATION= changes the soak's length
test-ci-examples: $(STAMP)
	$(PY) -m pytest tests/docker/test_nightly_soak_examples.py -m ci_examples -p no:randomly $(PYTEST_ARGS)

# the Kubernetes backend on a real cluster (docs/backends.md, Kubernetes): your kubeconfig and K8S_* settings
test-k8s: $(STAMP)
	$(PY) -m pytest tests/k8s -m k8s $(PYTEST_ARGS)

unit: $(STAMP) lint
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check harness tests scenarios benchmarks
	$(VENV)/bin/ruff format --check harness tests scenarios benchmarks
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir .cache/site
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows ci/github-nightly-soak.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.gitlab-ci ci/gitlab-nightly-soak.yml
	$(VENV)/bin/zizmor --offline --quiet --min-severity low ci/github-nightly-soak.yml

# docs/reference/ is generated from the code (harness/reference.py); a test fails while it is stale
docs: $(STAMP)
	$(PY) -m harness.reference
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# PYTEST_ARGS passes pytest options through: -k freeze, a node id, --lf, --count 3 (pytest-repeat). It is
# `pytest scenarios`, with the harness's exit codes: 0 ok, 1 a violation, 2 bad input, 3 the harness or the
# machine failed, 130 interrupted (harness/errors.py)
# WORKERS=N: N clusters side by side (pytest-xdist), one run folder, summary and report; one at a time unless
# given, as a scenario's timing bounds were measured with one cluster on the machine
# the scenarios side by side too, as many clusters as workers (WORKERS=1: one at a time, no xdist)
chaos: images
	$(AMQ) chaos $(if $(filter-out 1,$(WORKERS)),-n $(WORKERS)) $(PYTEST_ARGS)

# progress lines only on a terminal; checkpoints always
soak: images
	$(AMQ) soak

# replay the faults recorded in a history: make replay HISTORY=runs/chaos/latest/<scenario>-<topology>/history.jsonl
replay: images
	@test -n "$(HISTORY)" || { echo "error: give HISTORY=<path to a history.jsonl>"; exit 2; }
	$(AMQ) replay $(HISTORY)

# the smallest schedule of a failing run: make shrink HISTORY=runs/chaos/latest/<scenario>-<design>/history.jsonl
shrink: images
	@test -n "$(HISTORY)" || { echo "error: give HISTORY=<path to a failing run's history.jsonl>"; exit 2; }
	$(AMQ) shrink $(HISTORY)

# one scenario on every broker version (builds the images it lacks): make matrix SCENARIO=kill-live-master
matrix: $(STAMP) tools
	$(AMQ) matrix

# every benchmark of the speed targets, one table (benchmarks/bench.py)
bench: images
	$(PY) benchmarks/bench.py

# `harness up` builds whatever image is missing itself: a separate `make images` step here cost a second
up: $(STAMP) tools
	$(AMQ) up

status: $(STAMP)
	@$(AMQ) status

down: $(STAMP)
	$(AMQ) down

sweep: $(STAMP)
	$(AMQ) sweep

# CI artifacts: every history under DIR (default runs/) gzipped in place, about a tenth of its size, and its
# compact cache (rebuilt from the history when needed) removed. make replay, make shrink and the checkers
# read history.jsonl.gz as it is, by that name or by the plain one
pack:
	@find $(or $(DIR),runs) -name history.compact -type d -prune -exec rm -rf {} +
	@find $(or $(DIR),runs) -name history.jsonl -exec gzip -9f {} +
	@du -sh $(or $(DIR),runs)

clean: sweep
	rm -rf $(VENV) runs

# runs/index.html: every chaos run and soak, and a trend per scenario and design (each run rewrites it too)
index: $(STAMP)
	$(AMQ) index

# one run from the shards a CI matrix ran (SHARD=K/N make chaos, the same SEED): their run folders, copied here
merge: $(STAMP)
	@test -n "$(SHARDS)" || { echo "error: give SHARDS=\"<run folder of shard 1> <of shard 2> ...\""; exit 2; }
	$(AMQ) merge $(SHARDS)

# durations.json from the JUnit files of this checkout's last `make test` and `make chaos` (or JUNIT="a.xml
# b.xml"): SHARD=K/N balances the shares by these times, so commit it for every runner to split alike
durations: $(STAMP)
	$(AMQ) durations $(JUNIT)

# the known-bug table: every pattern on every version and design (builds the images it lacks), TRIES tries
# each; VERSIONS=5.17.2 PATTERNS=stranded,split-brain narrow it. About 80 minutes for everything, 2 tries.
# JRE=bullseye runs each version's Debian files on that suite's JRE, so that versions differ in ActiveMQ alone.
bugs: $(STAMP) tools
	$(AMQ) bugs
