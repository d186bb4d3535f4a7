# onestop_docs developer commands.  Two set-up commands: `make demo` and `make test`.
# Everything runs in a virtualenv ($(VENV)); nothing is installed into the system Python.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.onestop-installed
PYTEST_ARGS ?=
export HYPOTHESIS_PROFILE ?= ci

.PHONY: all install build demo test lint typecheck pytest bench bench-smoke clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip setuptools wheel

# Re-install when the packaging metadata changes.
$(STAMP): $(PY) pyproject.toml setup.py
	$(PY) -m pip install "Cython>=3.0,<4" "numpy>=2.0"
	$(PY) -m pip install --no-build-isolation -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

# Recompile kernels whose .pyx changed (fast no-op otherwise).
build: install
	$(PY) setup.py -q build_ext --inplace

DEMO_OUT ?= demo-out

# The main job on the bundled sample dossier (5 generated pages: one skewed, one upside down,
# one blank, one rescan duplicate), signed with a throwaway DEMO identity, then verified.
demo: build
	rm -rf $(DEMO_OUT)
	$(VENV)/bin/onestop-docs digitize examples/sample --out $(DEMO_OUT) --agency 000.00.00.H27 \
	  --dossier-code 000.00.00.H27-210630-0001 --demo-pki --no-progress
	$(VENV)/bin/onestop-docs verify $(DEMO_OUT) --trust-root $(DEMO_OUT)/demo-pki/demo-root.pem

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/cython-lint --max-line-length 100 $(wildcard src/_native/*.pyx src/_native/*.pxd)

typecheck: install
	$(VENV)/bin/mypy

pytest: build
	$(PY) -m pytest $(PYTEST_ARGS)

test: build lint typecheck pytest

bench: build
	mkdir -p build
	$(PY) -m pytest benchmarks -p no:cacheprovider -o python_files="bench_*.py" --benchmark-only --benchmark-columns=min,median,mean,rounds \
	  --benchmark-sort=name --benchmark-json=build/bench.json $(BENCH_ARGS)
	$(PY) benchmarks/report.py

# Proves every benchmark still runs; measures nothing worth recording.
bench-smoke: build
	$(PY) -m pytest benchmarks -p no:cacheprovider -o python_files="bench_*.py" --benchmark-disable -q -m "not slow" $(BENCH_ARGS)

# Minutes of fuzzing before a release: many random mutations per target; every failing input
# is kept in tests/data/fuzz/<target>/ and replayed by the normal test run from then on.
FUZZ_EXAMPLES ?= 1000
.PHONY: fuzz
fuzz: build
	ONESTOP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ONESTOP_FUZZ_SAVE=1 $(PY) -m pytest tests/test_fuzz.py \
	  -p no:cacheprovider -q $(PYTEST_ARGS)

clean:
	rm -rf build dist src/*.egg-info src/onestop_docs/_native/*.so src/_native/*.c .pytest_cache .mypy_cache
