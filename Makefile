# Edge Portal: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run run-prod test lint venv lab-deps lab-up lab-down migrate bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --no-input

# Web server + django-q2 worker together; Ctrl-C stops both.
run: migrate
	$(PY) manage.py ensure_operator
	$(PY) manage.py runportal

# The production processes on one machine (docs/operator-guide.md): uvicorn + WORKER_PROCESSES (2)
# job workers, against DATABASE_URL (PostgreSQL) and REDIS_URL, which it refuses to run without.
run-prod: migrate
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py ensure_operator
	$(PY) manage.py runprod

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (docs/performance.md): prints each table and writes bench/results/latest.md.
# Lab parts need root (else they say so and skip); PostgreSQL parts need DATABASE_URL.
bench: $(STAMP)
	$(PY) -m bench.run_all

lab-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(shell cat .ci/apt-packages.txt)

# LAB_DROPLETS=vm: droplets made from debian-12-x64 boot as QEMU guests (lab/droplets).
lab-up: $(STAMP)
	$(PY) -m lab up $(if $(LAB_DROPLETS),--droplets $(LAB_DROPLETS))

lab-down: $(STAMP)
	$(PY) -m lab down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
