# The suite's commands. Every target does its own set-up, so a fresh machine needs only `make`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
INFRA := deploy/local/infra.sh
SERVICES := deploy/local/services.sh
ROLE ?= admin

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install Python, the workspace and its tools (uv, from PyPI)
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user 'uv>=0.13,<0.14'
	@$(UV) sync --frozen --all-packages --extra testing --quiet

.PHONY: infra
infra: deps ## start Kafka, PostgreSQL and the MongoDB-wire server (reuses what runs)
	@$(INFRA) up

.PHONY: up
up: infra ## start the infrastructure and the five services, wait until each is ready
	@$(SERVICES) up

.PHONY: down
down: ## stop the services and the infrastructure (data kept)
	@$(SERVICES) down || true
	@$(INFRA) down

.PHONY: clean
clean: down ## stop everything and delete its data
	@$(INFRA) clean

.PHONY: status
status: ## what runs
	@$(INFRA) status; $(SERVICES) status

.PHONY: token
token: deps ## print a bearer token for local use: make token ROLE=marketer
	@$(RUN) python -m crm_common.devtoken --role $(ROLE)

.PHONY: lint
lint: deps ## ruff and mypy (strict)
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy libs/common/src schemas/src $(wildcard services/*/src)

.PHONY: fmt
fmt: deps ## format and fix what ruff can
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

.PHONY: schemas
schemas: deps ## regenerate schemas/events from the event models
	@$(RUN) python -m crm_events export

.PHONY: schemas-check
schemas-check: deps ## fail when schemas/events drifted from the models or broke compatibility
	@$(RUN) python -m crm_events check
	@$(RUN) python -m crm_events compat

.PHONY: asyncapi
asyncapi: deps ## regenerate each service's asyncapi.json from what its worker.py declares
	@$(RUN) python -m crm_common.asyncapi $(wildcard services/*)

.PHONY: k8s-check
k8s-check: deps ## check the Kubernetes manifests
	@$(RUN) python deploy/k8s/check.py

.PHONY: test
test: lint schemas-check k8s-check infra ## lint, contract checks, unit and integration tests
	@set -a; source .local/infra.env; set +a; \
	  $(RUN) pytest -m "not drill" libs schemas services tests/integration

.PHONY: drills
drills: infra ## fault drills: every service, Kafka, PostgreSQL and FerretDB killed in turn while orders stream
	@set -a; source .local/infra.env; set +a; \
	  $(RUN) pytest -m integration tests/integration/test_drills.py -s

.PHONY: redrive
redrive: deps ## send a dead-letter topic's events back to their topic: make redrive DLQ=shop.orders.v1.dlq
	@set -a; source .local/infra.env; set +a; $(RUN) python -m crm_common.redrive $(DLQ)

.PHONY: bench
bench: infra ## benchmarks (never part of make test)
	@set -a; source .local/infra.env; set +a; \
	  if ls bench/*.py >/dev/null 2>&1; then for b in bench/bench_*.py; do $(RUN) python $$b; done; \
	  else echo "no benchmarks yet"; fi
