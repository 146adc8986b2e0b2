# `make chat` and `make test` each create .venv on demand; everything installs from here.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CODE   := $(wildcard bot retrieval prompts tests benchmarks)

.PHONY: chat test check format clean

# torch first, pinned: an unpinned torch (pulled in by sentence-transformers) is a
# multi-GB CUDA build; 2.13.0 is the CPU build.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

chat: $(STAMP)
	$(VENV)/bin/newsbot chat

check: $(STAMP)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/mypy bot retrieval prompts

test: check
	$(PY) -m pytest

format: $(STAMP)
	$(VENV)/bin/ruff format $(CODE)
	$(VENV)/bin/ruff check --fix $(CODE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
