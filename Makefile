# MemoryWeb: `make run` and `make test` do everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install browser run test lint services-up services-down clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first: left to resolve alone, sentence-transformers
	# would pull a multi-gigabyte CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Starts the embedded PostgreSQL and Valkey (unless DATABASE_URL / CELERY_BROKER_URL
# are set), prepares the database, then runs web + worker + beat until Ctrl-C. The web
# process is gunicorn, as in production (Procfile): 127.0.0.1:$MEMORYWEB_PORT (8000).
run: install
	$(PY) -m memoryweb.embedded up --profile dev
	# Data stored under another MEMORYWEB_VECTOR_STORAGE is converted first: a server
	# refuses to start on a column of the other type (docs/scaling.md).
	$(PY) manage.py vector_storage --check || $(PY) manage.py vector_storage
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py load_demo
	trap '$(PY) -m memoryweb.embedded down --profile dev' EXIT; \
	  MEMORYWEB_PROFILE=dev $(VENV)/bin/honcho --no-colour -f Procfile start

# The dashboard's browser tests drive Debian's Chromium (Playwright cannot download
# its own browser here). Installed once; a failed install fails `make test`.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	test -x $(CHROMIUM) || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }
	test -x $(CHROMIUM)

# The test services use their own ports and data directory (var/test), so this
# can run while `make run` is up.
test: install lint browser
	$(PY) -m memoryweb.embedded up --profile test
	trap '$(PY) -m memoryweb.embedded down --profile test' EXIT; \
	  MEMORYWEB_PROFILE=test $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MEMORYWEB_PROFILE=test $(VENV)/bin/mypy .

services-up: install
	$(PY) -m memoryweb.embedded up

services-down:
	$(PY) -m memoryweb.embedded down --profile dev
	$(PY) -m memoryweb.embedded down --profile test

clean: services-down
	rm -rf var $(VENV)
