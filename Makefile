# The two set-up commands of the README:
#   make run   installs the portal and serves the embedded default at http://127.0.0.1:5000
#              (ports: make run PORT=5001 CODER_PORT=7081 GITEA_PORT=7301 beside another one)
#   make test  installs what the tests need and runs the whole suite (browser tests included)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 5000
CODER_PORT ?= 7080
GITEA_PORT ?= 7300
DEV_PORTS := PORTAL_DEV_CODER_PORT=$(CODER_PORT) PORTAL_DEV_GITEA_PORT=$(GITEA_PORT)
PYTEST_ARGS ?=

.PHONY: run test install install-test assets system-deps system-deps-test bench clean ide

run: install assets
	PORTAL_DEV=1 $(VENV)/bin/flask --app wsgi db upgrade
	PORTAL_DEV=1 $(DEV_PORTS) $(VENV)/bin/flask --app wsgi portal dev --host $(HOST) --port $(PORT)

test: install-test assets
	$(VENV)/bin/pytest $(PYTEST_ARGS)

system-deps:
	scripts/system-deps.sh run

system-deps-test:
	scripts/system-deps.sh test

$(VENV)/.installed: pyproject.toml | system-deps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed | system-deps-test
	$(PIP) install -q -e '.[test]'
	touch $@

# checkov (tests/platform/test_kubernetes.py) pins packaging<24, which pytest 9
# refuses: it gets a virtual environment of its own.
CHECKOV_VENV ?= .venv-checkov
$(CHECKOV_VENV)/.installed: tests/platform/checkov-requirements.txt
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q -r tests/platform/checkov-requirements.txt
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test $(CHECKOV_VENV)/.installed

node_modules/.package-lock.json: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

assets: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

bench: install-test assets
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules static/vendor .pytest_cache .ide


# Optional: a real VS Code in the embedded default's workspaces (code-server into .ide/).
ide: system-deps
	scripts/system-deps.sh ide
	scripts/install-code-server.sh
