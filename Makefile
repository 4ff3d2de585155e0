# The two commands: `make demo` and `make test`. Both set up the virtualenv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCAL_STAMP := $(VENV)/.local-stamp
# The torch build for the extra `local`. 2.13.0 is the CPU wheel this kind of machine keeps
# on disk, so pip takes it without a multi-GB download; a range would pull a CUDA build.
# On a GPU machine pass the build you want: make install-local TORCH='torch==2.14.1'.
TORCH ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 8000
GPUS ?= 1
WEB_WORKERS ?= 2
# Matches in flight per worker process: judge calls wait on the network, so threads (not
# processes) keep many going at once (benchmarks/README.md, "Judge throughput").
WORKER_THREADS ?= 32

.PHONY: install install-local demo test services worker gpu-worker beat bench lint typecheck clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

## In-process models (the extra `local`: torch + transformers) for gpu workers; CI uses it.
$(LOCAL_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	touch $@

install-local: $(LOCAL_STAMP)

## Embedded mode (SQLite, in-process worker): site + a live demo tournament on $(HOST):$(PORT).
demo: $(STAMP)
	env -u REDIS_URL -u DATABASE_URL $(BIN)/python manage.py demo --host $(HOST) --port $(PORT)

## Types first (a type error fails fast), then the whole suite in embedded mode; again
## against PostgreSQL + Redis when both URLs are set.
test: typecheck
	env -u REDIS_URL -u DATABASE_URL $(BIN)/python -m pytest
	@if [ -n "$$REDIS_URL" ] && [ -n "$$DATABASE_URL" ]; then \
	  echo "== the suite again in services mode: DATABASE_URL and REDIS_URL are set"; \
	  ARENA_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -m "not embedded"; \
	else \
	  echo "== REDIS_URL / DATABASE_URL unset: the services-mode integration tests were skipped"; \
	fi

## Services mode: web ($(WEB_WORKERS) processes) + worker + beat against $$DATABASE_URL and $$REDIS_URL.
services: $(STAMP)
	@test -n "$$REDIS_URL" -a -n "$$DATABASE_URL" || { echo "set DATABASE_URL and REDIS_URL first (see README)"; exit 2; }
	$(BIN)/python manage.py migrate
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A arena worker -Q default,judge --pool threads -c $(WORKER_THREADS) --without-gossip --without-mingle -l INFO & \
	$(BIN)/celery -A arena beat -l INFO & \
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT) --workers $(WEB_WORKERS)

worker: $(STAMP)
	$(BIN)/celery -A arena worker -Q default,judge --pool threads -c $(WORKER_THREADS) --without-gossip --without-mingle -l INFO

## On a GPU machine: one task per GPU for local models.
gpu-worker: $(STAMP)
	$(BIN)/celery -A arena worker -Q gpu -c $(GPUS) -n gpu@%h --without-gossip --without-mingle -l INFO

beat: $(STAMP)
	$(BIN)/celery -A arena beat -l INFO

## Benchmarks with the competitors measured in the same run (see benchmarks/README.md).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/ratings_speed.py

lint: typecheck
	$(BIN)/ruff check .

## mypy on ratings/, arena/, judges/ and benchmarks/ (pyproject.toml); django-stubs' plugin
## reads arena.settings, in embedded mode whatever the environment says.
typecheck: $(STAMP)
	env -u REDIS_URL -u DATABASE_URL $(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
