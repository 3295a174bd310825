# Research Trends: one-command setup, demo, tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# pip's own configuration (find-links to the local torch CPU wheel) handed to uv, which ignores it.
FIND_LINKS := $(shell pip config list 2>/dev/null | sed -n "s/^[a-z:.]*find-links='\(.*\)'/\1/p" | head -n1)
UV := $(shell command -v uv 2>/dev/null)
LOCK := requirements.lock
LOCK_ARGS ?=
DEMO_PER_YEAR ?= 600
DEMO_PER_MONTH ?= 150
DEMO_FROM ?= 2016-01-01
DEMO_DATA ?= $(or $(TRENDS_DATA_DIR),../shared/data)
PYTEST_ARGS ?=

export TRENDS_HOME ?= var

.PHONY: help setup lock lock-check browser celery-deps demo run test test-fast lint format clean airflow airflow-celery airflow-stop

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Everything (runtime + the airflow, models and dev extras) at the exact versions of
# requirements.lock, each file checked against its hash, so that another machine fits the same
# topics from the same input and seed; then the project itself, editable, with no further deps.
# --compile-bytecode: uv leaves .pyc files out, and where PYTHONDONTWRITEBYTECODE is set every
# process compiled bertopic, torch and transformers from source again (~9 s of each CLI call).
setup: $(BIN)/python ## create .venv and install everything from requirements.lock (uv when present, else pip bootstraps it)
	@set -e; \
	uv="$(UV)"; \
	if [ -z "$$uv" ]; then $(BIN)/pip install -q uv && uv=$(BIN)/uv || uv=""; fi; \
	if [ -n "$$uv" ]; then \
	  $$uv pip install --python $(BIN)/python $(if $(FIND_LINKS),--find-links $(FIND_LINKS)) \
	    --compile-bytecode --require-hashes -r $(LOCK); \
	  $$uv pip install --python $(BIN)/python --compile-bytecode --no-deps -e .; \
	else \
	  $(BIN)/pip install --require-hashes --no-deps -r $(LOCK); \
	  $(BIN)/pip install --no-deps -e .; \
	fi
	@# the onnx and static embedding models, built offline from the packaged MiniLM (skipped when valid)
	$(BIN)/trends models build
	@$(MAKE) --no-print-directory browser
	@$(MAKE) --no-print-directory celery-deps
	@$(BIN)/trends --help >/dev/null && echo "setup: ok ($$($(BIN)/python -c 'import torch, duckdb, bertopic; print("torch", torch.__version__, "duckdb", duckdb.__version__, "bertopic", bertopic.__version__)'))"

# Refresh the lock after changing a dependency in pyproject.toml or constraints.txt (then rerun
# `make setup` and the tests, and commit both files). Resolves for Linux x86_64 and Python 3.11
# with the same find-links as setup, so the torch CPU wheel (constraints.txt) is the one locked.
lock: ## re-resolve requirements.lock from pyproject.toml (all extras) and constraints.txt
	@set -e; \
	uv="$(UV)"; [ -n "$$uv" ] || uv=$(BIN)/uv; \
	test -x "$$uv" || { echo "lock: needs uv (make setup installs it into $(BIN))"; exit 1; }; \
	$$uv pip compile pyproject.toml --extra airflow --extra models --extra dev \
	  -c constraints.txt $(if $(FIND_LINKS),--find-links $(FIND_LINKS)) \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --generate-hashes --custom-compile-command "make lock" -q $(LOCK_ARGS) -o $(LOCK)

lock-check: ## fail when requirements.lock no longer matches pyproject.toml and constraints.txt (CI)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp $(LOCK) "$$tmp/lock" && \
	$(MAKE) --no-print-directory -s lock LOCK="$$tmp/lock" && \
	{ diff -q $(LOCK) "$$tmp/lock" >/dev/null && echo "lock-check: $(LOCK) is current" \
	  || { diff $(LOCK) "$$tmp/lock" | head -20; echo "lock-check: $(LOCK) is stale: run make lock"; exit 1; }; }

browser: ## install Debian's headless Chromium for the browser tests (skipped when present)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "browser: could not install chromium; browser tests will be skipped"; \
	  else echo "browser: install Debian's chromium package to run the browser tests"; fi; }

# `make airflow-celery` and its test: Debian's PostgreSQL server (the metadata database) and Redis
# (the Celery broker). Only the programs: scripts/airflow_celery.sh starts its own instances on
# other ports under airflow_home/; a system instance the packages may start is left alone.
celery-deps: ## install Debian's postgresql and redis-server for the Celery stack (skipped when present)
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || { echo "celery-deps: could not install$$missing"; exit 1; }; \
	else echo "celery-deps: install Debian's$$missing to run make airflow-celery and its test"; fi

# The demo spans years: a deterministic sample (docs/ingest.md) of DEMO_PER_MONTH papers of each
# arXiv 2025 month (8 x 150), then DEMO_PER_YEAR of each conference year since DEMO_FROM
# (10 x 600: the yearly marts' ten-year growth window), 7,200 papers, onnx. 600 a year is what
# a yearly status needs: the sample holds 68 accepted diffusion-model papers in the window, over
# the year grain's minimum support of 60 (pipeline/trends.py MartRules); at 200 a year it held 25
# and read "insufficient". The rules are not relaxed for the demo.
demo: ## the main job on real data: conference papers 2016-2025 + arXiv 2025, sampled per period -> $(TRENDS_HOME)/site
	$(BIN)/trends ingest file $(DEMO_DATA)/arxiv_cs_ai_2025.parquet --sample-per-period $(DEMO_PER_MONTH)
	$(BIN)/trends run --sample-per-period $(DEMO_PER_YEAR) --from $(DEMO_FROM) \
	  $(DEMO_DATA)/conference_abstracts.parquet
	@echo "demo: open $(TRENDS_HOME)/site/index.html; query with: $(BIN)/trends sql \"select count(*) from papers\""

run: ## the whole arXiv 2025 corpus, onnx (31k papers; ~9 min on 2 cores, most of it embedding)
	$(BIN)/trends run

BENCH_ARGS ?=

.PHONY: bench bench-quick
bench: ## plain BERTopic vs ours, full 31k corpus (~35 min on 2 cores, (a) is 21 of them) -> var/bench/full
	$(BIN)/python benchmarks/bench.py --out var/bench/full $(BENCH_ARGS)

bench-quick: ## the same benchmark on a 5,000-paper slice -> var/bench/quick
	$(BIN)/python benchmarks/bench.py --quick --out var/bench/quick $(BENCH_ARGS)

test: ## the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: ## unit, SQL and DAG-integrity tests only
	$(BIN)/pytest -m "not e2e and not browser" $(PYTEST_ARGS)

lint: ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# spaCy lives in its own environment: only the one-time OCTIS preprocessing of 20NG and the sampled corpora needs it.
QUALITY_SPACY_ENV ?= $(HOME)/.cache/research-trends/spacy-env
QUALITY_ARGS ?=

.PHONY: bench-quality
bench-quality: ## topic NPMI/diversity/outliers of the product and plain BERTopic on 20NG, BBC and four unseen corpora (QUALITY_ARGS; ~1 h per backend on 2 busy cores)
	@test -x $(QUALITY_SPACY_ENV)/bin/python || { $(PYTHON) -m venv $(QUALITY_SPACY_ENV) \
	  && $(QUALITY_SPACY_ENV)/bin/pip install -q 'spacy>=3.8,<3.9' pandas pyarrow \
	  && $(QUALITY_SPACY_ENV)/bin/pip install -q --no-deps --require-hashes -r benchmarks/spacy-model.txt; }
	nice $(BIN)/python benchmarks/quality.py --spacy-python $(QUALITY_SPACY_ENV)/bin/python $(QUALITY_ARGS)

# Every conference paper, onnx embeddings kept in var/bench/themes (a rerun only scores: seconds).
THEME_REF_ARGS ?= --per-year 0 --backend onnx --workdir var/bench/themes

.PHONY: bench-themes
bench-themes: ## theme shares vs a keyword reference per year, conference corpus (first run ~1.5 h: embeds 87k)
	nice $(BIN)/python benchmarks/theme_reference.py $(THEME_REF_ARGS)

SCALE_PAPERS ?= 1000000

.PHONY: scale
scale: ## not in CI: ingest + analyse SCALE_PAPERS (1M) Kaggle-format papers; time/100k, peak RSS per stage
	nice $(BIN)/python benchmarks/scale.py --papers $(SCALE_PAPERS)

# One million REAL abstracts (both corpora, new ids) end to end through the CLI, static encoder:
# ingest kaggle, embed, topics --full, analyze, report, publish, each under /usr/bin/time -v.
MILLION_PAPERS ?= 1000000
MILLION_DIR ?= /tmp/trends-million

.PHONY: million
million: ## not in CI: MILLION_PAPERS (1M) real abstracts through every CLI stage (static); time, peak RSS
	@test -f $(MILLION_DIR)/snapshot-$(MILLION_PAPERS).json || $(BIN)/python benchmarks/million.py \
	  write --papers $(MILLION_PAPERS) --data-dir $(DEMO_DATA) --out $(MILLION_DIR)/snapshot-$(MILLION_PAPERS).json
	$(BIN)/python benchmarks/million.py run --snapshot $(MILLION_DIR)/snapshot-$(MILLION_PAPERS).json \
	  --home $(MILLION_DIR)/home --out $(MILLION_DIR)/table.md
	$(BIN)/python benchmarks/million.py onnx --snapshot $(MILLION_DIR)/snapshot-$(MILLION_PAPERS).json \
	  --papers 2000 --home $(MILLION_DIR)/onnx

airflow: ## local Airflow 3 UI+API on 127.0.0.1:8080 (AIRFLOW_PORT), LocalExecutor, airflow_home/
	@scripts/airflow_local.sh start

# AIRFLOW_CELERY_WORKERS (2), AIRFLOW_CELERY_CONCURRENCY (1), AIRFLOW_POSTGRES_PORT (54329),
# AIRFLOW_REDIS_PORT (63799): scripts/airflow_celery.sh; docs/scaling.md
airflow-celery: celery-deps ## the same Airflow on the CeleryExecutor: PostgreSQL metadata, Redis broker, 2 workers (127.0.0.1)
	@AIRFLOW_EXECUTOR=celery scripts/airflow_local.sh start

airflow-stop: ## stop the processes `make airflow` or `make airflow-celery` started (by their recorded pids)
	@scripts/airflow_local.sh stop

clean: ## remove generated state (var/, caches); keeps .venv
	rm -rf var .pytest_cache .ruff_cache test-artifacts
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
