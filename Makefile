# onestop_docs developer commands.  Two set-up commands: `make demo` and `make test`.
# Everything runs in a virtualenv ($(VENV)); nothing is installed into the system Python.
# System packages (Tesseract, poppler, ...) come from .ci/sysdeps: installed with apt-get when
# this runs as root or with password-less sudo, otherwise make stops with the command to run.
# Python packages are pinned by requirements/constraints.txt (refresh: `make lock`).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints.txt
PIP := $(PY) -m pip install -q -c $(CONSTRAINTS)
DEMO_STAMP := $(VENV)/.onestop-demo
TEST_STAMP := $(VENV)/.onestop-test
BENCH_STAMP := $(VENV)/.onestop-bench
PYTEST_ARGS ?=
export HYPOTHESIS_PROFILE ?= ci

.PHONY: all install install-demo build build-demo demo test lint typecheck pytest bench \
	bench-smoke wheel wheel-demo lock clean

all: test

# Python >= 3.11 with venv and headers (the kernels are compiled here).
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "make: $(PYTHON) is older than 3.11; run make PYTHON=python3.11 (or newer)" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
	  || bash .ci/sysdeps python
	$(PYTHON) -m venv $(VENV)
	$(PIP) setuptools wheel "Cython>=3.0,<4" "numpy>=2.0"

# Each stack is installed once, again when the packaging metadata or the lock changes.
$(DEMO_STAMP): $(PY) pyproject.toml setup.py $(CONSTRAINTS) .ci/sysdeps
	bash .ci/sysdeps demo
	$(PIP) --no-build-isolation -e '.[station]'
	touch $@

$(TEST_STAMP): $(PY) pyproject.toml setup.py $(CONSTRAINTS) .ci/sysdeps
	bash .ci/sysdeps test
	$(PIP) --no-build-isolation -e '.[test]'
	touch $@

$(BENCH_STAMP): $(TEST_STAMP)
	$(PIP) --no-build-isolation -e '.[bench]'
	touch $@

install-demo: $(DEMO_STAMP)
install: $(TEST_STAMP)

# Recompile kernels whose .pyx changed (fast no-op otherwise).
build-demo: install-demo
	$(PY) setup.py -q build_ext --inplace
build: install
	$(PY) setup.py -q build_ext --inplace

DEMO_OUT ?= demo-out
ONESTOP ?= $(VENV)/bin/onestop-docs

# The main job on the bundled sample dossier (5 generated pages: one skewed, one upside down,
# one blank, one rescan duplicate), signed with a throwaway DEMO identity, then verified.
demo: build-demo
	$(MAKE) --no-print-directory run-demo ONESTOP=$(ONESTOP) DEMO_OUT=$(DEMO_OUT)

.PHONY: run-demo
run-demo:
	rm -rf $(DEMO_OUT)
	$(ONESTOP) digitize examples/sample --out $(DEMO_OUT) --agency 000.00.00.H27 \
	  --dossier-code 000.00.00.H27-210630-0001 --demo-pki --no-progress
	$(ONESTOP) verify $(DEMO_OUT) --trust-root $(DEMO_OUT)/demo-pki/demo-root.pem

# sdist, then a wheel built from it (proves the sdist is complete).
wheel: install
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .

# The wheel installed into a clean venv (no source tree on the path) runs the demo.
WHEEL_VENV ?= build/wheel-venv
wheel-demo: wheel
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q -c $(CONSTRAINTS) "$$(ls dist/*.whl)[station]"
	$(MAKE) --no-print-directory run-demo ONESTOP=$(abspath $(WHEEL_VENV))/bin/onestop-docs \
	  DEMO_OUT=build/wheel-demo-out

# Refresh the lock from a fresh resolve of every stack (needs the package index).
LOCK_VENV ?= build/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	# setuptools < 81: bagit-python imports pkg_resources (see the lock's header).
	$(LOCK_VENV)/bin/python -m pip install -q "setuptools<81" wheel "Cython>=3.0,<4" "numpy>=2.0"
	$(LOCK_VENV)/bin/python -m pip install -q --no-build-isolation '.[bench]'
	{ grep '^#' $(CONSTRAINTS); $(LOCK_VENV)/bin/python -m pip freeze --all \
	  | grep -v -i -e '^pip==' -e '^onestop' | LC_ALL=C sort -f; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/cython-lint --max-line-length 100 $(wildcard src/_native/*.pyx src/_native/*.pxd)

typecheck: install
	$(VENV)/bin/mypy

pytest: build
	$(PY) -m pytest $(PYTEST_ARGS)

test: build lint typecheck pytest

bench: build $(BENCH_STAMP)
	mkdir -p build
	$(PY) -m pytest benchmarks -p no:cacheprovider -o python_files="bench_*.py" --benchmark-only --benchmark-columns=min,median,mean,rounds \
	  --benchmark-sort=name --benchmark-json=build/bench.json $(BENCH_ARGS)
	$(PY) benchmarks/report.py

# Proves every benchmark still runs; measures nothing worth recording.
bench-smoke: build $(BENCH_STAMP)
	$(PY) -m pytest benchmarks -p no:cacheprovider -o python_files="bench_*.py" --benchmark-disable -q -m "not slow" $(BENCH_ARGS)

# Minutes of fuzzing before a release: many random mutations per target; every failing input
# is kept in tests/data/fuzz/<target>/ and replayed by the normal test run from then on.
FUZZ_EXAMPLES ?= 1000
.PHONY: fuzz
fuzz: build
	ONESTOP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ONESTOP_FUZZ_SAVE=1 $(PY) -m pytest tests/test_fuzz.py \
	  -p no:cacheprovider -q $(PYTEST_ARGS)

clean:
	rm -rf build dist demo-out src/*.egg-info src/onestop_docs/_native/*.so src/_native/*.c .pytest_cache .mypy_cache
