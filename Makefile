# The README's commands. Everything installs into .venv at the repository root.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The tests talk to real services; these are the ones on a development or CI machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
TEST_ENV = DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) DJANGO_SECRET_KEY=tests-only-not-secret
PYTEST_ARGS ?=

.PHONY: install demo test test-slow test-all bench loadtest docs-figures lint clean deploy-check messages

$(VENV)/.installed: pyproject.toml package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[web,engine,demo,dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed

# The demo keeps its own data (var/demo: SQLite, the file broker, media), whatever a deployment's
# variables in this shell say, so it never writes into a deployment's database or storage.
PORT ?= 8000
DEMO_DIR ?= $(CURDIR)/var/demo
# More options for the demo command (e.g. DEMO_ARGS="--no-serve --iterations 100": build the study, then stop).
DEMO_ARGS ?=
DEMO_ENV = env -u DATABASE_URL -u CELERY_BROKER_URL -u AWS_STORAGE_BUCKET_NAME \
	-u REDIS_CACHE_URL -u IRIS_INSPECT_ON_WORKER IRIS_VAR_DIR=$(DEMO_DIR) MEDIA_ROOT=$(DEMO_DIR)/media \
	IRIS_SITE_URL=http://127.0.0.1:$(PORT)

demo: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v0
	$(DEMO_ENV) $(PY) manage.py iris_demo --port $(PORT) $(DEMO_ARGS)

test: install
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# The long end-to-end, fault and deployment tests that the default suite leaves out (marked slow; .ci/run
# runs them after `make test`): the researcher's journey in Chromium, the API walkthrough, `make demo` run
# and stopped, workers killed, kept busy, retrying a notification or on the inspect queue alone, the load
# test's small crowd. Not the screenshots test: it rewrites docs/screenshots.
test-slow: install
	$(TEST_ENV) $(PY) -m pytest -m 'slow and not gpu' --ignore=tests/surveys/trials/test_screenshots.py $(PYTEST_ARGS)

# Slow and GPU tests too (opt-in).
test-all: install
	$(TEST_ENV) $(PY) -m pytest -m '' $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

# A crowd of participants against gunicorn, PostgreSQL and Redis on this machine, beside a minimal
# view, static files and pgbench in the same run (bench/loadtest.py). LOADTEST_ARGS="--faults" adds
# a killed worker, a frozen server and restarts of PostgreSQL and Redis.
LOADTEST_ARGS ?=
loadtest: install
	$(PY) -m bench loadtest $(LOADTEST_ARGS)

# The pictures on docs/engine's pages (about 10 minutes on 2 CPU cores).
docs-figures: install
	$(PY) docs/engine/gallery.py

# The participant pages' German (docs/architecture.md, "Languages"): gather the strings marked in the web
# app and its templates into the .po (then translate the new ones there), and compile the .mo, which is
# committed, so that no host needs gettext's tools to serve it. Needs GNU gettext (apt: gettext).
messages: install
	$(PY) manage.py makemessages -l de --no-obsolete $(addprefix --ignore=,node_modules static tests docs bench examples docker iri_engine var media)
	cd surveys && ../$(PY) ../manage.py compilemessages -l de

lint: install
	$(VENV)/bin/ruff check surveys iri_engine tests bench docs docker examples
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Build every image of docker-compose.yml from a local Debian base, run the stack, use it as an operator
# and participants would, inject faults, tear it down (docs/deploy.md; needs docker and debootstrap).
deploy-check: install
	PY=$(PY) bash docker/check/run.sh

clean:
	rm -rf var media node_modules $(VENV)
