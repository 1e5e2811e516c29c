# cryptoorch: `make run` starts everything, `make test` proves it. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
KAFKA  := $(BIN)/python -c "import sys; from shared.infra.kafka_dist import main; sys.exit(main())"

.DEFAULT_GOAL := help
.PHONY: help install kafka browser run test test-unit lint bench schemas controls topics lock chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# requirements.lock: what the services import (the Docker image installs only it);
# requirements-dev.lock: that plus the dev and bench extras, pinned to the same versions.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.lock -r requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@$(MAKE) --no-print-directory browser
	touch $(STAMP)

install: $(STAMP) kafka ## create .venv, install the locked dependencies and fetch Apache Kafka

kafka: $(STAMP) ## fetch the pinned Apache Kafka (deploy/kafka/pom.xml) with Maven into ~/.cache/cryptoorch
	@$(KAFKA)

browser: ## Debian's chromium for the console's browser tests (as root with apt; else they skip)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (apt-get) for the console's browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "no /usr/bin/chromium (not root or no apt-get): the browser tests will be skipped"; fi

lock: | $(BIN)/python ## re-resolve requirements.lock (runtime) and requirements-dev.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(UV) pip compile pyproject.toml -o requirements.lock --python $(BIN)/python
	$(UV) pip compile pyproject.toml --extra dev --extra bench -c requirements.lock \
		-o requirements-dev.lock --python $(BIN)/python

run: $(STAMP) kafka ## start broker, database and all five services (gateway on http://127.0.0.1:8000)
	$(BIN)/cryptoorch up

test: $(STAMP) kafka ## the whole suite: unit, integration, e2e, chaos (starts its own broker and database)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests

test-unit: $(STAMP) ## unit tests only (no broker, no database)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/unit

lint: $(STAMP) ## ruff, mypy --strict, import-linter (services never import each other), deptry
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m deploy.validate
	@# dependencies ([tool.deptry]): the runtime code imports only runtime dependencies, all
	@# declared and all used; the dev code (tests, benchmarks, deploy checks) only declared ones
	$(BIN)/deptry shared services cryptoorch
	$(BIN)/deptry tests benchmarks deploy --ignore DEP002,DEP004

schemas: $(STAMP) ## write docs/schemas/*.json and docs/asyncapi.yaml from shared/contracts
	$(BIN)/python -m shared.contracts.publish docs

controls: $(STAMP) ## write docs/controls.md, the controls register, from shared/controls/ and the settings
	$(BIN)/python -m cryptoorch.controls_cmd docs/controls.md

topics: $(STAMP) ## write deploy/topics.yaml, create-topics.sh, create-acls.sh and their k8s ConfigMaps from shared/contracts
	$(BIN)/python -m deploy.topics
	$(BIN)/python -m deploy.acls

chaos: $(STAMP) kafka ## a long chaos run (CHAOS_SECONDS=600; CHAOS_SEED=n replays one)
	CHAOS_SECONDS=$${CHAOS_SECONDS:-600} $(BIN)/python -m pytest -p no:cacheprovider -q -s tests/chaos

bench: $(STAMP) kafka ## print throughput figures (raw limits beside relay and inbox)
	$(BIN)/python -m benchmarks.run

clean: ## remove .venv and .data
	rm -rf $(VENV) .data
