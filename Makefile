# berth: two commands on a fresh Debian 12 machine, as root.
#   make demo   bring up the lab fleet, converge it with site.yml, say what happened
#   make test   every tier: lint, unit, integration, end-to-end (plus the modern lane's subset)
# LANE=legacy (ansible-core 2.16, default) or LANE=modern (newest ansible-core).

LANE ?= legacy
VENV := .venv-$(LANE)
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
HOST_PKGS := python3-venv docker.io debootstrap iptables openssh-client openssl docker-registry skopeo chromium apache2-utils zstd busybox-static crun gcc libc6-dev qemu-system-x86
LAB_HOSTS ?= 3
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: all deps venv engine demo lab-up lab-down drift test lint unit integration e2e e2e-modern bench clean

all: test

deps:
	@sh scripts/host-deps.sh $(HOST_PKGS)

$(VENV)/.installed: requirements.txt requirements-modern.txt requirements-dev.txt | deps
	/usr/bin/python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r $(if $(filter modern,$(LANE)),requirements-modern.txt,requirements.txt) -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

engine: deps
	@sh scripts/dockerd.sh start

demo: venv engine
	$(BIN)/ansible-playbook -i localhost, playbooks/lab.yml -e lab_state=present -e lab_hosts=$(LAB_HOSTS)
	$(BIN)/ansible-playbook -i inventory/lab.ini site.yml
	$(BIN)/python bin/berth-drift -i inventory/lab.ini

# Drift check of a fleet (default: the lab): exit 0 in sync, 2 drift, 3 unreachable or failed.
INVENTORY ?= inventory/lab.ini
drift: venv
	$(BIN)/python bin/berth-drift -i $(INVENTORY)

lab-up: venv engine
	$(BIN)/ansible-playbook -i localhost, playbooks/lab.yml -e lab_state=present -e lab_hosts=$(LAB_HOSTS)

lab-down: venv engine
	$(BIN)/ansible-playbook -i localhost, playbooks/lab.yml -e lab_state=absent

# The legacy lane runs every tier; the modern lane runs lint, unit and one
# end-to-end play (tests marked "modern").
test: venv engine
ifeq ($(LANE),modern)
	$(MAKE) --no-print-directory lint unit e2e-modern LANE=modern
else
	$(MAKE) --no-print-directory lint unit integration e2e LANE=legacy
	$(MAKE) --no-print-directory test LANE=modern
endif

lint: venv
	$(BIN)/yamllint -s .
	$(BIN)/ruff check .
	$(BIN)/vermin -q -t=3.6- --violations --no-tips --eval-annotations library module_utils
	$(BIN)/python tests/lint/check_stdlib_only.py library module_utils
	$(BIN)/ansible-playbook --syntax-check site.yml playbooks/*.yml
	$(BIN)/python tests/lint/render_module_docs.py library
	$(BIN)/ansible-lint --profile production

unit: venv
	$(BIN)/pytest -q tests/unit

integration: venv engine
	$(BIN)/pytest -q tests/integration

e2e: venv engine
	$(BIN)/pytest -q tests/e2e

e2e-modern: venv engine
	$(BIN)/pytest -q -m modern tests/e2e

bench: venv engine
	$(BIN)/python bench/lab_bringup.py

clean:
	rm -rf .venv-legacy .venv-modern .pytest_cache .ruff_cache
