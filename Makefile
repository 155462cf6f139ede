# neurosig: `make demo` and `make test` work on a fresh clone; both create .venv themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.neurosig-installed
# One BLAS thread per process keeps timings honest on small shared machines.
export OMP_NUM_THREADS ?= 2
export MPLBACKEND ?= Agg

.PHONY: demo test test-all bench lint clean

$(STAMP): pyproject.toml scripts/bootstrap-venv.sh
	bash scripts/bootstrap-venv.sh $(VENV)
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m neurosig demo --out results/demo

test: $(STAMP)
	$(PY) -m pytest

test-all: $(STAMP)
	$(PY) -m pytest -m ""

bench: $(STAMP)
	$(PY) benchmarks/accuracy.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) results build *.egg-info
