# Two entry points for a fresh machine: `make dev` and `make test`.
# Both create .venv/ (with the project installed in editable mode) when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench clean verify-build localstack-up localstack-deploy localstack-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The seed's ETL task types are loaded so its example runs as is; ARGS adds more options.
dev: $(STAMP)
	$(BIN)/orchestration dev --tasks examples/etl_tasks.py $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy && $(BIN)/mypy bench && $(BIN)/mypy tests/fakes tests/unit/test_usecases_with_fakes.py
	$(BIN)/cfn-lint template.yaml

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# `sam build` (aws-sam-cli pinned, installed in .venv/tools/; Python 3.12 found on PATH, pyenv
# or uv), then every function run from its built artifact against a moto server through the
# seed's flow (scripts/verify_build.py). `make test` runs it too (tests/build).
verify-build: $(STAMP)
	$(BIN)/python -m scripts.verify_build

# LocalStack (needs Docker): start it, deploy the stack into it, run the opt-in suite.
localstack-up:
	docker compose -f localstack/docker-compose.yml up -d

localstack-deploy: $(STAMP)
	localstack/deploy.sh

localstack-test: $(STAMP)
	$(BIN)/pytest tests/localstack -m localstack -rs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
