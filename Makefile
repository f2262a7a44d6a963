# GridPatrol: `make run` serves the demo, `make test` runs every test. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
export SPATIALITE_LIBRARY_PATH ?= mod_spatialite
PO := $(wildcard translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test e2e-deploy soak audit lint format bench translations extract-messages clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "GridPatrol needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); scripts/system-packages.sh venv && \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip setuptools

$(VENV)/.requirements: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.requirements-dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.requirements

%.mo: %.po | $(VENV)/.requirements
	$(BIN)/pybabel -q compile -i $< -o $@

translations: $(MO)

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

# Serve the Changji demo on http://127.0.0.1:5000 (plain HTTP on loopback: cookies not Secure).
run: $(VENV)/.requirements translations instance/secret_key
	scripts/system-packages.sh run
	GRIDPATROL_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask db upgrade
	GRIDPATROL_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask demo load --if-empty
	GRIDPATROL_SECRET_KEY=$$(cat instance/secret_key) GRIDPATROL_SESSION_COOKIE_SECURE=false \
		GRIDPATROL_DEMO_REPLAY=true GRIDPATROL_ALERT_RULES='{"level_threshold": 200}' \
		GRIDPATROL_HJ212_HEALTH_ADDRESS=127.0.0.1:2120 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# Every test, on SpatiaLite and PostGIS, browser tests included. In one process by default; with
# TEST_WORKERS=2 in two (pytest-xdist, each test file whole in one, each with its own databases):
# 41 minutes here against 59, but not yet clean (docs/operations.md, "The test suite").
TEST_WORKERS ?= 0
test: $(VENV)/.requirements-dev translations
	scripts/system-packages.sh test
	GRIDPATROL_TEST_POSTGRES=$$(scripts/test-postgres.sh) GRIDPATROL_REQUIRE_POSTGIS=1 \
		GRIDPATROL_REQUIRE_DEPLOY=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The deployment on loopback (deploy/stack.py): two gunicorns behind nginx, PostGIS, Redis, huey
# consumers and the HJ 212 receiver, and the main journeys through nginx (also part of make test).
e2e-deploy: $(VENV)/.requirements-dev translations
	scripts/system-packages.sh test
	GRIDPATROL_TEST_POSTGRES=$$(scripts/test-postgres.sh) GRIDPATROL_REQUIRE_POSTGIS=1 \
		GRIDPATROL_REQUIRE_DEPLOY=1 $(BIN)/python -m pytest tests/test_deploy.py -k postgis

# ruff, mypy strict on the pure rule modules, and the import contracts of DESIGN.md.
lint: $(VENV)/.requirements-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/bandit -c pyproject.toml -r . -q --severity-level medium

format: $(VENV)/.requirements-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks (not part of make test): writes docs/benchmarks.md. With BEFORE=<git revision>,
# the home page, the sync, the photos, the writes under load and the problems are measured
# against that code too.
# Load and faults on the deployed stack for ten minutes (bench/soak.py; not part of make test):
# the figures and the checks go to docs/reliability.md. Then the HJ 212 receiver under 1,000
# connections for ten minutes (bench/soak_hj212.py): docs/reliability-hj212.md.
soak: $(VENV)/.requirements-dev translations
	scripts/system-packages.sh test
	$(BIN)/python -m bench soak
	GRIDPATROL_HJ212_SOAK_REPORT=docs/reliability-hj212.md $(BIN)/python -m bench hj212-soak

# Known vulnerabilities of every installed package, from PyPI's data (scripts/pypi-audit.py; needs
# the internet, so not part of make test). Where osv.dev is reachable, pip-audit says more.
audit: $(VENV)/.requirements-dev
	$(BIN)/python scripts/pypi-audit.py

bench: $(VENV)/.requirements-dev translations
	scripts/system-packages.sh bench
	GRIDPATROL_TEST_POSTGRES=$$(scripts/test-postgres.sh) GRIDPATROL_BENCH_BEFORE=$(BEFORE) \
		$(BIN)/python -m bench $(BENCH)

extract-messages: $(VENV)/.requirements
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o translations/messages.pot --no-location --sort-output -w 100 .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete -w 100

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
