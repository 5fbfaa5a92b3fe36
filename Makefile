# Single entry point. `make demo` runs the main job, `make test` the tests.
# Both start with `host-deps`: the host packages the lab needs (Podman >= 4.4
# with Quadlet, runc, debootstrap, ...), installed as root by
# scripts/install-host-deps.sh when its probe finds something missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
ANSIBLE_PKG ?= ansible==12.3.0
# Third-party collections, unpacked offline from the pinned `ansible` wheel.
DEP_COLLECTIONS := containers/podman ansible/posix
DEPS        := .deps/collections
INVENTORY   ?= inventory/production
PYTEST_ARGS ?=

export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
export PODMAN_IGNORE_CGROUPSV1_WARNING := 1

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/ansible-playbook: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

.PHONY: host-deps
host-deps: ## Install the host packages the lab and tests need (root; nothing to do when present)
	@bash scripts/install-host-deps.sh --check || bash scripts/install-host-deps.sh

.PHONY: venv
venv: $(BIN)/ansible-playbook ## Create the Python virtualenv with pinned tools

$(DEPS)/.stamp: Makefile | $(BIN)/ansible-playbook
	rm -rf $(DEPS) .deps/wheel && mkdir -p $(DEPS) .deps/wheel
	$(BIN)/pip download -q --no-deps -d .deps/wheel '$(ANSIBLE_PKG)'
	cd .deps/wheel && $(abspath $(BIN))/python -m zipfile -e ansible-*.whl unpacked >/dev/null
	$(foreach c,$(DEP_COLLECTIONS),mkdir -p $(DEPS)/ansible_collections/$(dir $(c)) && \
	  mv .deps/wheel/unpacked/ansible_collections/$(c) $(DEPS)/ansible_collections/$(c);)
	rm -rf .deps/wheel
	touch $@

.PHONY: deps
deps: venv $(DEPS)/.stamp ## Install tools and the collections this one depends on

.PHONY: render
render: deps ## Render every host's Quadlet files to build/rendered/ (touches no host)
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/render.yml

.PHONY: lint
lint: deps ## ansible-lint (production profile)
	$(BIN)/ansible-lint

.PHONY: sanity
sanity: deps ## ansible-test sanity on a copy of the collection
	bash tests/sanity/run.sh

.PHONY: unit
unit: deps ## Unit tests (pure Python, real sockets, real Quadlet generator)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

.PHONY: functional
functional: deps ## Playbook tests through ansible-runner
	$(BIN)/pytest tests/functional $(PYTEST_ARGS)

.PHONY: artifact
artifact: deps ## Build the collection tarball, install it offline and use it from an empty folder
	bash scripts/check-artifact.sh

.PHONY: images
images: host-deps ## Build the lab images locally (debootstrap + Podman) and their archives
	bash scripts/build-lab-images.sh --bookworm --archives build/lab

.PHONY: lab
lab: deps images ## Start the two lab hosts (mainpc, pc2) on the lab network
	$(BIN)/molecule create -s stack

.PHONY: demo
demo: host-deps lab ## The main job on the lab: site.yml builds the stand-in from source, pushes it to the lab registry, deploys all 16 groups with monitoring and ends with the verify report
	bash scripts/lab/registry.sh start
	bash scripts/lab/registry.sh trust
	$(BIN)/python scripts/lab/pipeline-inventory.py build/lab-pipeline
	$(BIN)/ansible-playbook -i build/lab-pipeline -e @inventory/lab-monitoring.yml site.yml

.PHONY: lab-destroy
lab-destroy: deps ## Remove the lab hosts, their volumes and the lab network
	$(BIN)/molecule destroy -s stack

.PHONY: molecule
molecule: deps images ## molecule test: the podman role (default) and its refusal on Debian 12
	bash scripts/lab-test.sh default podman_unsupported

.PHONY: system
system: deps images ## The whole system on the lab: order, idempotence, changes, faults, reboot
	$(BIN)/pytest tests/system $(PYTEST_ARGS)

.PHONY: test
test: host-deps lint sanity unit functional artifact molecule system ## Everything CI runs

.PHONY: clean
clean: ## Remove build outputs (keeps the virtualenv)
	rm -rf build tests/output
