# PortaCare Monitor: `make demo` runs a collector and an agent on this host,
# `make test` installs what the tests need and runs them, `make bench` measures.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: venv test-deps test demo bench lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "PortaCare needs Python 3.11 or newer"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv && \
	  $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

test-deps:
	scripts/install-debian-packages tests/debian-packages.txt

test: test-deps venv
	$(PY) -m pytest $(PYTEST_ARGS)

demo: venv
	deploy/demo.sh

bench: venv
	$(PY) -m bench

lint: venv
	$(VENV)/bin/ruff check agent checks collector sla tests bench
	$(VENV)/bin/mypy agent checks collector sla

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache portacare-demo
