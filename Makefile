# nst-notebooks: `make lab` opens the notebooks, `make test` runs every test; both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch/torchvision versions the project is tested with (pip takes them from its cache or PyPI).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# Notebooks and end-to-end tests run in quick mode with the real (bundled, offline) caffe weights.
TEST_ENV := NSTHELPERS_QUICK=1 NSTHELPERS_OFFLINE=1 TQDM_DISABLE=1 PYTHONHASHSEED=0

.PHONY: lab test test-unit test-notebooks bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q tests notebooks \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

test-unit: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q tests

test-notebooks: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=300 --nbval-sanitize-with tests/nbval_sanitize.cfg

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info tests/artifacts
