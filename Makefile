# firmtext developer commands. Every FIRMTEXT_* value already in the environment
# wins over the defaults below (see docs/operations.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv/bin
PYTEST_ARGS ?=

# Test infrastructure lives apart from `make run`'s (var/, 9092/9093, 5433), so
# both can run at once. fsync is off for the test cluster only. Tests run on the
# public development secrets, so they say so (FIRMTEXT_ENV; docs/configuration.md).
TEST_ENV := export \
	FIRMTEXT_ENV="$${FIRMTEXT_ENV:-development}" \
	FIRMTEXT_VAR_DIR="$${FIRMTEXT_VAR_DIR:-var/test}" \
	FIRMTEXT_KAFKA_PORT="$${FIRMTEXT_KAFKA_PORT:-29092}" \
	FIRMTEXT_KAFKA_CONTROLLER_PORT="$${FIRMTEXT_KAFKA_CONTROLLER_PORT:-29093}" \
	FIRMTEXT_POSTGRES_PORT="$${FIRMTEXT_POSTGRES_PORT:-25433}" \
	FIRMTEXT_POSTGRES_FAST="$${FIRMTEXT_POSTGRES_FAST:-1}"

# $(1): what pytest runs. Bootstrap, start the test Kafka + PostgreSQL, run pytest,
# then stop them whatever happened (unless FIRMTEXT_KEEP_INFRA=1) and exit with
# pytest's status, except that 5 ("no tests collected") is not a failure.
define with_test_infra
	@$(TEST_ENV); \
	bash scripts/bootstrap.sh; \
	stop_infra() { [ "$${FIRMTEXT_KEEP_INFRA:-0}" = 1 ] || $(VENV)/firmtext infra stop >/dev/null || true; }; \
	trap stop_infra EXIT; trap 'exit 130' INT TERM; \
	$(VENV)/firmtext infra start; \
	status=0; $(VENV)/pytest -q $(PYTEST_ARGS) $(1) || status=$$?; \
	if [ "$$status" = 5 ]; then echo "pytest collected no tests in $(1): nothing failed"; status=0; fi; \
	exit $$status
endef

.PHONY: help bootstrap run test unit integration e2e browser faults bench stop clean

help:
	@echo "make run          bootstrap, then firmtext up (Kafka, PostgreSQL, every component)"
	@echo "make test         all test tiers against a throwaway Kafka + PostgreSQL (var/test)"
	@echo "make unit | integration | e2e | browser    one tier"
	@echo "make faults       the fault drills on their own 3-node Kafka + PostgreSQL (var/test/faults)"
	@echo "make bench        benchmarks (bench/run.py)"
	@echo "make stop         stop the local Kafka + PostgreSQL of var/ and var/test"
	@echo "make clean        stop, then delete var/ (all local data)"

bootstrap:
	@bash scripts/bootstrap.sh

# Development mode allows the public development secrets; real ones in the environment still win.
run: bootstrap
	FIRMTEXT_ENV="$${FIRMTEXT_ENV:-development}" $(VENV)/firmtext up

# Every tier, the fault drills included: they start (and remove) a 3-node Kafka and a
# PostgreSQL of their own (tests/faults/conftest.py) beside the shared test servers.
test:
	$(call with_test_infra,tests)

integration:
	$(call with_test_infra,tests/integration)

e2e:
	$(call with_test_infra,tests/e2e)

# The web inbox in a real headless chromium (Debian's) against the whole stack.
browser:
	$(call with_test_infra,tests/browser)

# The fault drills start (and remove) their own 3-node Kafka and PostgreSQL under
# <var>/faults, on FIRMTEXT_KAFKA_PORT+300.. and FIRMTEXT_POSTGRES_PORT+100.
faults:
	@$(TEST_ENV); bash scripts/bootstrap.sh; \
	status=0; $(VENV)/pytest -q $(PYTEST_ARGS) tests/faults || status=$$?; \
	exit $$status

# Unit tests need no server.
unit:
	@$(TEST_ENV); bash scripts/bootstrap.sh; \
	status=0; $(VENV)/pytest -q $(PYTEST_ARGS) tests/unit || status=$$?; \
	if [ "$$status" = 5 ]; then echo "pytest collected no tests in tests/unit: nothing failed"; status=0; fi; \
	exit $$status

bench: bootstrap
	@if [ -f bench/run.py ]; then $(VENV)/python bench/run.py; \
	else echo "bench/run.py does not exist yet: no benchmarks to run"; fi

stop:
	@if [ -x $(VENV)/firmtext ]; then \
		$(VENV)/firmtext infra stop; \
		$(TEST_ENV); $(VENV)/firmtext infra stop; \
	fi

clean: stop
	@# the PostgreSQL logger may write its last line just after pg_ctl stop returns
	rm -rf var/ || { sleep 1; rm -rf var/; }
